"""A community on the network as routing sees it: the participant directory's view of a gateway.

Filled from the directory cache (issue: Directory) or, until a directory is configured, from the
``[[communities]]`` list of the node's settings, both with this shape. Routing reads nothing else.

Endpoints are keyed by the *responding* transaction served at the address (Sequoia
``Transaction`` extension on Endpoint, SPEC-NOTES §7.3): ``ITI-55`` (XCPD), ``ITI-38`` (XCA query),
``ITI-39`` (XCA retrieve), ``RAD-75`` (XCA-I retrieve imaging), ``RAD-69`` (imaging document
source), ``DICOMweb`` and ``FHIR``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["TRANSACTION_KEYS", "Community", "CommunityEndpoint"]

TRANSACTION_KEYS: Final = frozenset(
    {"ITI-55", "ITI-38", "ITI-39", "RAD-69", "RAD-75", "DICOMweb", "FHIR"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityEndpoint:
    transaction: str  # one of TRANSACTION_KEYS
    address: str  # absolute URL
    purposes_of_use: tuple[str, ...] = ()  # NHIN codes; empty = not restricted


@dataclass(frozen=True, slots=True, kw_only=True)
class Community:
    home_community_id: str  # "urn:oid:<oid>"
    name: str
    endpoints: tuple[CommunityEndpoint, ...] = ()
    active: bool = True
    city: str = ""
    state: str = ""
    postal_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    managing_organization: str = ""  # "urn:oid:<oid>" of the implementer, "" if none
    # Per-peer quirks from configuration (e.g. "documents_per_request": "50").
    quirks: dict[str, str] = field(default_factory=dict)

    def endpoint(self, transaction: str) -> str | None:
        """The address serving ``transaction`` here, or None."""
        for e in self.endpoints:
            if e.transaction == transaction:
                return e.address
        return None
