"""The ``Transaction`` descriptor every transaction package exports as ``TRANSACTION``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Transaction"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction:
    """What the SOAP edge needs to route and audit one IHE transaction (IPF-style registry entry).

    ``accepted_request_actions`` lists extra actions real peers send for the same body
    (compared after stripping whitespace, never taken from the Content-Type).
    """

    id: str  # "ITI-38"
    name: str
    is_query: bool
    request_action: str
    response_action: str
    audit_event_id: str  # DICOM EventID code (PS3.15 A.5.1), e.g. "110112" Query
    accepted_request_actions: tuple[str, ...] = ()

    def accepts(self, action: str) -> bool:
        action = action.strip()
        return action == self.request_action or action in self.accepted_request_actions
