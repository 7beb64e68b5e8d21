"""Header extraction: a parsed instance → ``StoredInstance`` (model) + DICOM JSON metadata.

Validation happens here, once (CONVENTIONS §7): the four identifying UIDs must be present
and valid (PS3.5 9.1), or the instance is rejected with a machine-readable reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from imx.errors import RejectedInstanceError
from imx.model.identifiers import PatientId, is_valid_oid, is_valid_uid
from imx.model.imaging import (
    InstanceRecord,
    PatientRecord,
    SeriesRecord,
    StoredInstance,
    StudyRecord,
)

__all__ = ["BULKDATA_PREFIX", "checked_dicom_json", "dicom_json", "extract_stored_instance",
           "parse_da"]

# Large binary values are left out of the stored DICOM JSON and replaced by a BulkDataURI
# relative to the instance's WADO-RS URL: "bulkdata/<8 hex tag>" (PS3.18 F.2.6, 10.4.1.1.5).
# The DICOMweb edge prefixes it with {base}/studies/{st}/series/{se}/instances/{sop}/.
BULKDATA_PREFIX = "bulkdata/"
_BULK_THRESHOLD = 1024
_UID_KEYWORDS = ("SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID")


def parse_da(value: object) -> dt.date | None:
    """A DICOM DA (``YYYYMMDD``) as a date, or None when empty or invalid."""
    text = str(value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _bulk_uri(elem: DataElement) -> str:
    return f"{BULKDATA_PREFIX}{elem.tag:08X}"


def dicom_json(ds: Dataset) -> bytes:
    """PS3.18 F.2 DICOM JSON of ``ds`` with bulk data replaced by BulkDataURIs."""
    body: dict[str, Any] = ds.to_json_dict(bulk_data_threshold=_BULK_THRESHOLD,
                                           bulk_data_element_handler=_bulk_uri,
                                           suppress_invalid_tags=True)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _str(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _patient_id(ds: Dataset, default_authority: str, study_uid: str) -> PatientId:
    ident = _str(ds, "PatientID")
    authority = _issuer_oid(ds)
    if not ident:
        # No Patient ID (Type 2, may be empty): a per-study identifier keeps unrelated
        # anonymous studies from being merged into one "patient" (docs/ingest.md).
        ident = "NOID-" + hashlib.sha1(study_uid.encode(), usedforsecurity=False).hexdigest()[:16]
    return PatientId(id=ident, assigning_authority=authority or default_authority)


def _issuer_oid(item: Dataset) -> str:
    """The OID of an Issuer of Patient ID (its qualifiers' ISO Universal Entity ID first)."""
    for q in item.get("IssuerOfPatientIDQualifiersSequence", []) or []:
        ueid = str(q.get("UniversalEntityID", "")).strip()
        if ueid and is_valid_oid(ueid) and str(q.get("UniversalEntityIDType", "ISO")) == "ISO":
            return ueid
    issuer = _str(item, "IssuerOfPatientID")
    return issuer if is_valid_oid(issuer) else ""


def _other_patient_ids(ds: Dataset, own: PatientId) -> tuple[PatientId, ...]:
    """Other Patient IDs Sequence (0010,1002): the identifiers whose issuer is an OID (an
    identifier without a known authority cannot be matched across communities)."""
    out: list[PatientId] = []
    for item in ds.get("OtherPatientIDsSequence", []) or []:
        ident, issuer = _str(item, "PatientID"), _issuer_oid(item)
        pid = PatientId(id=ident, assigning_authority=issuer)
        if ident and issuer and pid != own and pid not in out:
            out.append(pid)
    return tuple(out)


def _values(ds: Dataset, keyword: str) -> tuple[str, ...]:
    value = ds.get(keyword)
    if value is None or value == "":
        return ()
    items = value if isinstance(value, (list, tuple)) else [value]
    return tuple(str(v).strip() for v in items if str(v).strip())


def _patient(ds: Dataset, pid: PatientId) -> PatientRecord:
    """Patient Module and Patient Demographic Module (PS3.3 C.7.1.1, C.2.2) values."""
    return PatientRecord(patient_id=pid, patient_name=_str(ds, "PatientName"),
                         birth_date=parse_da(ds.get("PatientBirthDate")),
                         sex=_str(ds, "PatientSex").upper()[:1],
                         other_patient_ids=_other_patient_ids(ds, pid),
                         address=_str(ds, "PatientAddress"),
                         telephone_numbers=_values(ds, "PatientTelephoneNumbers"),
                         mothers_birth_name=_str(ds, "PatientMotherBirthName"))


def _check_uids(ds: Dataset) -> None:
    for keyword in _UID_KEYWORDS:
        value = _str(ds, keyword)
        if not value:
            raise RejectedInstanceError(f"{keyword} is missing", reason="missing-uid")
        if not is_valid_uid(value):
            raise RejectedInstanceError(f"{keyword} is not a valid UID", reason="invalid-uid")
    meta_sop = str(getattr(ds.file_meta, "MediaStorageSOPInstanceUID", "") or "")
    if meta_sop and meta_sop != _str(ds, "SOPInstanceUID"):
        raise RejectedInstanceError("file meta and dataset SOP Instance UIDs differ",
                                    reason="invalid-uid")


def extract_stored_instance(ds: Dataset, *, blob_key: str, size_bytes: int, sha256: str,
                            received_at: dt.datetime, default_assigning_authority: str,
                            with_json: bool = True) -> StoredInstance:
    """Build the metadata record of one instance; raises RejectedInstanceError.

    ``with_json=False`` leaves ``dicom_json`` empty for the caller to fill with
    ``checked_dicom_json`` (the ingest service does that while the blob is written).
    """
    _check_uids(ds)
    study_uid = _str(ds, "StudyInstanceUID")
    series_uid = _str(ds, "SeriesInstanceUID")
    pid = _patient_id(ds, default_assigning_authority, study_uid)
    accession_issuer = ""
    for item in ds.get("IssuerOfAccessionNumberSequence", []) or []:
        ueid = str(item.get("UniversalEntityID", "")).strip()
        if is_valid_oid(ueid):
            accession_issuer = ueid
    patient = _patient(ds, pid)
    study = StudyRecord(
        study_instance_uid=study_uid, patient_id=pid, study_date=parse_da(ds.get("StudyDate")),
        study_time=_str(ds, "StudyTime"), accession_number=_str(ds, "AccessionNumber"),
        accession_issuer=accession_issuer, study_id=_str(ds, "StudyID"),
        study_description=_str(ds, "StudyDescription"),
        referring_physician_name=_str(ds, "ReferringPhysicianName"))
    series = SeriesRecord(
        series_instance_uid=series_uid, study_instance_uid=study_uid,
        modality=_str(ds, "Modality"), series_number=_int(ds, "SeriesNumber"),
        series_description=_str(ds, "SeriesDescription"),
        body_part_examined=_str(ds, "BodyPartExamined"))
    instance = InstanceRecord(
        sop_instance_uid=_str(ds, "SOPInstanceUID"), sop_class_uid=_str(ds, "SOPClassUID"),
        series_instance_uid=series_uid, study_instance_uid=study_uid,
        transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID), blob_key=blob_key,
        size_bytes=size_bytes, sha256=sha256, instance_number=_int(ds, "InstanceNumber"),
        number_of_frames=_int(ds, "NumberOfFrames") or 1, rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"), received_at=received_at)
    metadata = checked_dicom_json(ds) if with_json else b""
    return StoredInstance(patient=patient, study=study, series=series, instance=instance,
                          dicom_json=metadata)


def checked_dicom_json(ds: Dataset) -> bytes:
    """``dicom_json``, rejecting the instance when a value cannot be converted."""
    try:
        # Converting every element to JSON is also where a malformed value shows up.
        return dicom_json(ds)
    except Exception as exc:  # pydicom raises many types on bad values: translate
        raise RejectedInstanceError("DICOM header has unreadable values",
                                    reason="unreadable") from exc
