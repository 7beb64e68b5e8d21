"""C-FIND identifiers → ``ImagingQuery`` and matches → response identifiers (PS3.4 C.4.1, C.6).

Pure (pydicom datasets in and out). Supports Patient Root and Study Root information
models at every level; relational queries are answered too (PS3.4 C.4.1.2.2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pydicom.dataset import Dataset

from imx.dicom.dicomweb_query import parse_date_range
from imx.errors import MalformedMessageError, UnsupportedError
from imx.model.imaging import InstanceRecord, PatientRecord, SeriesRecord, StudyRecord
from imx.model.query import ImagingQuery, QueryLevel

__all__ = ["PATIENT_ROOT", "STUDY_ROOT", "build_identifier", "parse_identifier"]

PATIENT_ROOT = "patient"
STUDY_ROOT = "study"
_LEVELS = {
    PATIENT_ROOT: {"PATIENT", "STUDY", "SERIES", "IMAGE"},
    STUDY_ROOT: {"STUDY", "SERIES", "IMAGE"},
}


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or (
        hasattr(value, "__iter__")
        and not isinstance(value, str)
        and type(value).__name__ == "MultiValue"
    ):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _uids(ds: Dataset, keyword: str) -> tuple[str, ...]:
    raw = _text(ds, keyword)
    return tuple(u for u in raw.split("\\") if u) if raw and raw != "*" else ()


def _int(ds: Dataset, keyword: str) -> int | None:
    raw = _text(ds, keyword)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise MalformedMessageError(f"{keyword} must be a number") from exc


def parse_identifier(ds: Dataset, *, model: str) -> ImagingQuery:
    """The C-FIND/C-GET/C-MOVE identifier as a query; raises for an invalid level."""
    level = _text(ds, "QueryRetrieveLevel").upper()
    if level not in _LEVELS[model]:
        raise UnsupportedError("QueryRetrieveLevel not valid for this information model")
    kw: dict[str, object] = {}
    for keyword, field in (
        ("PatientID", "patient_id"),
        ("PatientName", "patient_name"),
        ("PatientSex", "patient_sex"),
        ("AccessionNumber", "accession_number"),
        ("StudyID", "study_id"),
        ("StudyDescription", "study_description"),
        ("ReferringPhysicianName", "referring_physician_name"),
        ("Modality", "modality"),
        ("IssuerOfPatientID", "issuer_of_patient_id"),
    ):
        value = _text(ds, keyword)
        if value and value != "*":
            kw[field] = value
    for keyword, field in (("StudyDate", "study_date"), ("PatientBirthDate", "patient_birth_date")):
        value = _text(ds, keyword)
        if value:
            kw[field] = parse_date_range(value)
    for keyword, field in (
        ("StudyInstanceUID", "study_instance_uids"),
        ("SeriesInstanceUID", "series_instance_uids"),
        ("SOPInstanceUID", "sop_instance_uids"),
        ("SOPClassUID", "sop_class_uids"),
        ("ModalitiesInStudy", "modalities_in_study"),
    ):
        values = _uids(ds, keyword)
        if values:
            kw[field] = values
    for keyword, field in (
        ("SeriesNumber", "series_number"),
        ("InstanceNumber", "instance_number"),
    ):
        number = _int(ds, keyword)
        if number is not None:
            kw[field] = number
    return ImagingQuery(level=QueryLevel(level), **kw)  # type: ignore[arg-type]


def _da(value: dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _values(
    patient: PatientRecord | None,
    study: StudyRecord | None,
    series: SeriesRecord | None,
    inst: InstanceRecord | None,
) -> Mapping[str, object]:
    v: dict[str, object] = {}
    if patient is not None:
        v.update(
            PatientID=patient.patient_id.id,
            PatientName=patient.patient_name,
            IssuerOfPatientID=patient.patient_id.assigning_authority,
            PatientBirthDate=_da(patient.birth_date),
            PatientSex=patient.sex,
        )
    if study is not None:
        v.update(
            StudyInstanceUID=study.study_instance_uid,
            StudyDate=_da(study.study_date),
            StudyTime=study.study_time,
            AccessionNumber=study.accession_number,
            StudyID=study.study_id,
            StudyDescription=study.study_description,
            ReferringPhysicianName=study.referring_physician_name,
            ModalitiesInStudy=list(study.modalities_in_study),
            NumberOfStudyRelatedSeries=study.number_of_series,
            NumberOfStudyRelatedInstances=study.number_of_instances,
        )
    if series is not None:
        v.update(
            SeriesInstanceUID=series.series_instance_uid,
            Modality=series.modality,
            SeriesNumber=series.series_number if series.series_number is not None else "",
            SeriesDescription=series.series_description,
            BodyPartExamined=series.body_part_examined,
            NumberOfSeriesRelatedInstances=series.number_of_instances,
        )
    if inst is not None:
        v.update(
            SOPInstanceUID=inst.sop_instance_uid,
            SOPClassUID=inst.sop_class_uid,
            InstanceNumber=inst.instance_number if inst.instance_number is not None else "",
            Rows=inst.rows or "",
            Columns=inst.columns or "",
            NumberOfFrames=inst.number_of_frames,
        )
    return v


def build_identifier(
    request: Dataset,
    *,
    retrieve_ae_title: str,
    patient: PatientRecord | None = None,
    study: StudyRecord | None = None,
    series: SeriesRecord | None = None,
    inst: InstanceRecord | None = None,
) -> Dataset:
    """A response identifier with exactly the requested keys (PS3.4 C.4.1.1.3.2)."""
    values = _values(patient, study, series, inst)
    out = Dataset()
    if any(not str(v).isascii() for v in values.values()):
        out.SpecificCharacterSet = "ISO_IR 192"
    out.QueryRetrieveLevel = request.QueryRetrieveLevel
    for elem in request:
        keyword = elem.keyword
        if not keyword or keyword in ("QueryRetrieveLevel", "SpecificCharacterSet"):
            continue
        value = values.get(keyword, "")
        if elem.VR == "SQ":
            setattr(out, keyword, [])
        else:
            setattr(out, keyword, value)
    out.RetrieveAETitle = retrieve_ae_title
    return out
