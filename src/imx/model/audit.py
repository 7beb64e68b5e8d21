"""Audit records emitted by services; the trust issue encodes and ships them (ATNA)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = ["AuditRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One auditable event. ``event`` is a short name (e.g. ``dicom-instances-transferred``)."""

    event: str
    outcome: str  # "success" | "minor-failure" | "serious-failure" | "major-failure"
    occurred_at: dt.datetime
    source: str  # who asked: AE title, peer address, CLI user
    destination: str = ""
    transaction: str = ""  # e.g. "DIMSE C-STORE", "STOW-RS", "ITI-55"
    patient_ids: tuple[str, ...] = ()
    study_instance_uids: tuple[str, ...] = ()
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)
