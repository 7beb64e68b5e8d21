"""DICOM JSON (PS3.18 F.2) for QIDO-RS results, built from the store's records.

Result attributes per level follow PS3.18 Tables 6.7.1-2/2a/2b (required return keys).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from imx.model.imaging import InstanceRecord, PatientRecord, SeriesRecord, StudyRecord

__all__ = ["instance_json", "merge_include", "series_json", "study_json"]

JsonObj = dict[str, Any]


def _put(out: JsonObj, tag: int, vr: str, value: object) -> None:
    key = f"{tag:08X}"
    if value is None or value == "" or value == ():
        out[key] = {"vr": vr}
        return
    if vr == "PN":
        out[key] = {"vr": vr, "Value": [{"Alphabetic": str(value)}]}
    elif isinstance(value, (list, tuple)):
        out[key] = {"vr": vr, "Value": list(value)}
    else:
        out[key] = {"vr": vr, "Value": [value]}


def _date(value: object) -> str:
    return value.strftime("%Y%m%d") if value is not None else ""  # type: ignore[attr-defined]


def study_json(study: StudyRecord, patient: PatientRecord | None, retrieve_url: str) -> JsonObj:
    out: JsonObj = {}
    _put(out, 0x00080020, "DA", _date(study.study_date))
    _put(out, 0x00080030, "TM", study.study_time)
    _put(out, 0x00080050, "SH", study.accession_number)
    _put(out, 0x00080056, "CS", "ONLINE")
    _put(out, 0x00080061, "CS", tuple(study.modalities_in_study))
    _put(out, 0x00080090, "PN", study.referring_physician_name)
    _put(out, 0x00081030, "LO", study.study_description)
    _put(out, 0x00081190, "UR", retrieve_url)
    _put(out, 0x00100010, "PN", patient.patient_name if patient else "")
    _put(out, 0x00100020, "LO", study.patient_id.id)
    _put(out, 0x00100021, "LO", study.patient_id.assigning_authority)
    _put(out, 0x00100030, "DA", _date(patient.birth_date) if patient else "")
    _put(out, 0x00100040, "CS", patient.sex if patient else "")
    _put(out, 0x0020000D, "UI", study.study_instance_uid)
    _put(out, 0x00200010, "SH", study.study_id)
    _put(out, 0x00201206, "IS", study.number_of_series)
    _put(out, 0x00201208, "IS", study.number_of_instances)
    return out


def series_json(series: SeriesRecord, retrieve_url: str) -> JsonObj:
    out: JsonObj = {}
    _put(out, 0x00080060, "CS", series.modality)
    _put(out, 0x0008103E, "LO", series.series_description)
    _put(out, 0x00081190, "UR", retrieve_url)
    _put(out, 0x00180015, "CS", series.body_part_examined)
    _put(out, 0x0020000D, "UI", series.study_instance_uid)
    _put(out, 0x0020000E, "UI", series.series_instance_uid)
    _put(out, 0x00200011, "IS", series.series_number)
    _put(out, 0x00201209, "IS", series.number_of_instances)
    return out


def instance_json(inst: InstanceRecord, retrieve_url: str) -> JsonObj:
    out: JsonObj = {}
    _put(out, 0x00080016, "UI", inst.sop_class_uid)
    _put(out, 0x00080018, "UI", inst.sop_instance_uid)
    _put(out, 0x00080056, "CS", "ONLINE")
    _put(out, 0x00081190, "UR", retrieve_url)
    _put(out, 0x0020000D, "UI", inst.study_instance_uid)
    _put(out, 0x0020000E, "UI", inst.series_instance_uid)
    _put(out, 0x00200013, "IS", inst.instance_number)
    _put(out, 0x00280008, "IS", inst.number_of_frames)
    _put(out, 0x00280010, "US", inst.rows)
    _put(out, 0x00280011, "US", inst.columns)
    return out


def merge_include(out: JsonObj, stored_json: bytes | None, tags: Iterable[int], *,
                  include_all: bool) -> JsonObj:
    """Add ``includefield`` attributes from an instance's stored DICOM JSON (bulk data
    stays a BulkDataURI; our own computed attributes win)."""
    if not stored_json:
        return out
    source: JsonObj = json.loads(stored_json)
    keys = source.keys() if include_all else [f"{t:08X}" for t in tags]
    for key in keys:
        if key in source and key not in out and "BulkDataURI" not in source[key]:
            out[key] = source[key]
    return out
