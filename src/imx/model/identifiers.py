"""Identifier value types and their validation (PS3.5 9.1 UIDs, ISO OIDs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PatientId", "is_valid_oid", "is_valid_uid"]

# PS3.5 9.1: components of digits separated by '.', no leading zero in a
# multi-digit component, at most 64 characters in total.
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")


def is_valid_uid(value: str) -> bool:
    """Return True if ``value`` is a syntactically valid DICOM UID (PS3.5 9.1)."""
    return 0 < len(value) <= 64 and _UID_RE.match(value) is not None


def is_valid_oid(value: str) -> bool:
    """Return True if ``value`` is a dotted ISO OID (no 64-character limit)."""
    return 0 < len(value) <= 256 and _UID_RE.match(value) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientId:
    """A patient identifier qualified by its assigning authority.

    ``assigning_authority`` is the Issuer of Patient ID: an OID
    (Universal Entity ID, ISO) when known, else a local namespace string or "".
    """

    id: str
    assigning_authority: str = ""

    def to_cx(self) -> str:
        """Render as an HL7 CX value: ``id^^^&oid&ISO`` (ITI TF-3 4.2.3.1.7)."""
        if self.assigning_authority and is_valid_oid(self.assigning_authority):
            return f"{self.id}^^^&{self.assigning_authority}&ISO"
        if self.assigning_authority:
            return f"{self.id}^^^{self.assigning_authority}"
        return self.id


def parse_cx(value: str) -> PatientId:
    """Parse an HL7 CX patient identifier ``id^^^&oid&ISO`` (ITI TF-3 Table 4.2.3.1.7-2).

    Raises ValueError when the ID or the assigning authority is missing or malformed:
    XDS requires both, with the authority as an ISO OID.
    """
    parts = value.strip().split("^")
    ident = parts[0].strip()
    if not ident:
        raise ValueError("CX without an ID")
    authority = parts[3] if len(parts) > 3 else ""
    sub = authority.split("&")
    oid = sub[1] if len(sub) > 1 else ""
    kind = sub[2] if len(sub) > 2 else ""
    if not oid or not is_valid_oid(oid) or (kind and kind != "ISO"):
        raise ValueError("CX assigning authority must be &<OID>&ISO")
    return PatientId(id=ident, assigning_authority=oid)
