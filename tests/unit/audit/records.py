"""Audit records as the emitters write them, one per transaction and side (test data)."""

from __future__ import annotations

import base64
import datetime as dt

from imx.audit.message import AuditSource
from imx.model.audit import AuditRecord

AT = dt.datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=dt.UTC)
US = AuditSource(source_id="imx node", enterprise_site_id="urn:oid:2.999.1",
                 user_id="https://imx.example.org/soap")
PATIENT = "PX-1^^^&2.999.1.5&ISO"
STUDY = "1.2.999.2.1.20240610.1"
DOC = "1.2.999.7.3"
QUERY = base64.b64encode(b"<queryByParameter/>").decode()
REQUESTER = {
    "requester_user_id": "Jane Reader MD", "requester_organization_id": "2.999.9",
    "requester_home_community_id": "urn:oid:2.999.9", "purpose_of_use": "TREATMENT",
    "requester_role": "112247003",
}


def responder(transaction: str, **kw: object) -> AuditRecord:
    """What our SOAP edge records after answering a remote gateway."""
    base: dict[str, object] = {
        "event": transaction, "outcome": "success", "occurred_at": AT, "source": "192.0.2.10",
        "source_address": "192.0.2.10", "destination": "urn:oid:2.999.1",
        "destination_endpoint": "https://imx.example.org/soap", "transaction": transaction,
        "role": "responder", "patient_ids": (PATIENT,), **REQUESTER,
    }
    return AuditRecord(**{**base, **_objects(transaction), **kw})  # type: ignore[arg-type]


def initiator(transaction: str, **kw: object) -> AuditRecord:
    """What the network service records after asking a remote gateway."""
    base: dict[str, object] = {
        "event": f"{transaction} initiated", "outcome": "success", "occurred_at": AT,
        "source": "urn:oid:2.999.1", "destination": "urn:oid:2.999.2",
        "destination_endpoint": "https://gw.example.net/xca", "transaction": transaction,
        "role": "initiator", "patient_ids": (PATIENT,), **REQUESTER,
    }
    return AuditRecord(**{**base, **_objects(transaction), **kw})  # type: ignore[arg-type]


def _objects(transaction: str) -> dict[str, object]:
    if transaction == "ITI-55":
        return {"query_id": "urn:uuid:7b1b0c0e-0000-4000-8000-000000000055",
                "query_payload_b64": QUERY, "home_community_id": "urn:oid:2.999.1"}
    if transaction == "ITI-38":
        return {"query_id": "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d",
                "query_payload_b64": QUERY, "home_community_id": "urn:oid:2.999.2"}
    if transaction == "ITI-39":
        return {"document_unique_ids": (DOC,), "repository_unique_id": "2.999.2.7.2",
                "home_community_id": "urn:oid:2.999.2"}
    return {"study_instance_uids": (STUDY,), "repository_unique_id": "2.999.2.7.2",
            "home_community_id": "urn:oid:2.999.2"}
