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
    # The human requester and why (XUA SAML attributes; ITI TF-2 3.40.4.2, SPEC-NOTES §5.2)
    requester_user_id: str = ""
    requester_organization_id: str = ""
    requester_organization: str = ""
    requester_home_community_id: str = ""
    purpose_of_use: str = ""
    requester_role: str = ""
    # ATNA encoding hints (imx.audit; DICOM PS3.15 A.5, SPEC-NOTES §6.2)
    role: str = ""  # "responder" | "initiator" | "" (this node's side of the transaction)
    query_id: str = ""  # stored query UUID (ITI-38) or query message id (ITI-55)
    query_payload_b64: str = ""  # base64 of the query body (ParticipantObjectQuery)
    document_unique_ids: tuple[str, ...] = ()
    repository_unique_id: str = ""
    home_community_id: str = ""  # the community of the documents / query target
    # The requesting system (like ``source``) and the answering one (like ``destination``);
    # imx.audit.events decides which of them is the Source Role ID of the event.
    source_endpoint: str = ""  # its UserID: endpoint URL, wsa:ReplyTo, AE title
    destination_endpoint: str = ""  # the answering system's endpoint URL or AE title
    source_address: str = ""  # NetworkAccessPointID of the requester (IP or DNS name)
    destination_address: str = ""
