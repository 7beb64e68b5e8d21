"""JSON encoding of model values kept as text columns (DocumentEntry, AuditRecord, IDs)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from imx.model.audit import AuditRecord
from imx.model.document import Code, DocumentEntry
from imx.model.identifiers import PatientId

__all__ = [
    "audit_from_json",
    "audit_to_json",
    "document_from_json",
    "document_to_json",
    "ids_from_json",
    "ids_to_json",
]


def _default(value: object) -> object:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(type(value).__name__)


def _dt(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value["$dt"])


def _code(value: dict[str, str]) -> Code:
    return Code(**value)


def _pid(value: dict[str, str]) -> PatientId:
    return PatientId(**value)


def document_to_json(entry: DocumentEntry) -> str:
    return json.dumps(entry, default=_default, ensure_ascii=False)


def document_from_json(text: str) -> DocumentEntry:
    d = json.loads(text)
    for name in (
        "class_code",
        "type_code",
        "format_code",
        "confidentiality_code",
        "healthcare_facility_type_code",
        "practice_setting_code",
    ):
        d[name] = _code(d[name])
    d["event_codes"] = tuple(_code(c) for c in d["event_codes"])
    d["patient_id"] = _pid(d["patient_id"])
    d["source_patient_id"] = _pid(d["source_patient_id"])
    d["source_patient_info"] = tuple(d["source_patient_info"])
    for name in ("creation_time", "service_start_time", "service_stop_time", "updated_at"):
        d[name] = _dt(d.get(name))
    return DocumentEntry(**d)


def ids_to_json(ids: tuple[PatientId, ...]) -> str:
    return json.dumps([[i.id, i.assigning_authority] for i in ids])


def ids_from_json(text: str) -> tuple[PatientId, ...]:
    return tuple(PatientId(id=i, assigning_authority=a) for i, a in json.loads(text or "[]"))


def audit_to_json(record: AuditRecord) -> str:
    return json.dumps(record, default=_default, ensure_ascii=False)


def audit_from_json(text: str) -> AuditRecord:
    d = json.loads(text)
    d["occurred_at"] = _dt(d["occurred_at"])
    d["patient_ids"] = tuple(d["patient_ids"])
    d["study_instance_uids"] = tuple(d["study_instance_uids"])
    return AuditRecord(**d)
