"""QIDO-RS query parameters → ``ImagingQuery`` (PS3.18 8.3.4), and the attribute tables
shared with C-FIND (PS3.4 C.6.1.1 / C.6.2.1 keys).

Pure: a mapping in, a query out; raises ``InvalidRequestError`` subclasses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydicom.datadict import keyword_for_tag, tag_for_keyword

from imx.errors import MalformedMessageError, UnsupportedError
from imx.model.identifiers import is_valid_uid
from imx.model.query import DateRange, ImagingQuery, QueryLevel

__all__ = ["QidoRequest", "parse_date_range", "parse_qido", "tag_of"]

# Matching keys supported per level (keyword → ImagingQuery field).
MATCH_KEYS: dict[str, str] = {
    "PatientID": "patient_id", "IssuerOfPatientID": "issuer_of_patient_id",
    "PatientName": "patient_name", "PatientBirthDate": "patient_birth_date",
    "PatientSex": "patient_sex", "StudyInstanceUID": "study_instance_uids",
    "StudyDate": "study_date", "AccessionNumber": "accession_number", "StudyID": "study_id",
    "StudyDescription": "study_description", "ReferringPhysicianName": "referring_physician_name",
    "ModalitiesInStudy": "modalities_in_study", "SeriesInstanceUID": "series_instance_uids",
    "Modality": "modality", "SeriesNumber": "series_number", "SOPInstanceUID": "sop_instance_uids",
    "SOPClassUID": "sop_class_uids", "InstanceNumber": "instance_number",
}
_UID_LISTS = {"study_instance_uids", "series_instance_uids", "sop_instance_uids", "sop_class_uids"}
_DATES = {"study_date", "patient_birth_date"}
_INTS = {"series_number", "instance_number"}
# Accepted and ignored: they change nothing about matching here.
_IGNORED = {"StudyTime", "SeriesDate", "SeriesTime", "TimezoneOffsetFromUTC"}



def tag_of(key: str) -> int:
    """A QIDO key (keyword or 8-hex tag) as an int tag; raises MalformedMessageError."""
    key = key.strip()
    if len(key) == 8 and all(c in "0123456789abcdefABCDEF" for c in key):
        return int(key, 16)
    tag = tag_for_keyword(key)
    if tag is None:
        raise MalformedMessageError("unknown attribute in query")
    return int(tag)


def parse_date_range(value: str) -> DateRange:
    """DICOM DA or range ``a-b``, ``a-``, ``-b`` (PS3.4 C.2.2.2.5)."""
    def one(v: str) -> dt.date | None:
        v = v.strip().replace("-", "")
        if not v:
            return None
        if len(v) != 8 or not v.isdigit():
            raise MalformedMessageError("date must be YYYYMMDD or a range")
        try:
            return dt.date(int(v[:4]), int(v[4:6]), int(v[6:8]))
        except ValueError as exc:
            raise MalformedMessageError("invalid date") from exc

    if "-" in value:
        start, _, end = value.partition("-")
        return DateRange(start=one(start), end=one(end))
    d = one(value)
    return DateRange(start=d, end=d)


@dataclass(frozen=True, slots=True, kw_only=True)
class QidoRequest:
    query: ImagingQuery
    include_fields: tuple[int, ...]
    include_all: bool


def _value(field: str, raw: str) -> object:
    if field in _UID_LISTS:
        values = tuple(v.strip() for v in raw.replace("\\", ",").split(",") if v.strip())
        for v in values:
            if not is_valid_uid(v):
                raise MalformedMessageError("invalid UID in query")
        return values
    if field == "modalities_in_study":
        return tuple(v.strip() for v in raw.replace("\\", ",").split(",") if v.strip())
    if field in _DATES:
        return parse_date_range(raw)
    if field in _INTS:
        try:
            return int(raw)
        except ValueError as exc:
            raise MalformedMessageError("number expected") from exc
    return raw


def parse_qido(params: Sequence[tuple[str, str]], *, level: QueryLevel,
               fixed: Mapping[str, object] | None = None, max_limit: int = 10000) -> QidoRequest:
    """Parse query parameters (repeated keys allowed) for a QIDO-RS search at ``level``.

    ``fixed`` holds constraints from the path (e.g. the study UID of
    ``/studies/{uid}/series``).
    """
    kw: dict[str, object] = dict(fixed or {})
    include: list[int] = []
    include_all = False
    limit: int | None = None
    offset = 0
    fuzzy = False
    for key, raw in params:
        if key == "includefield":
            for item in raw.split(","):
                if item.strip() == "all":
                    include_all = True
                elif item.strip():
                    include.append(tag_of(item))
            continue
        if key == "limit":
            limit = _nonneg(raw)
            continue
        if key == "offset":
            offset = _nonneg(raw)
            continue
        if key == "fuzzymatching":
            fuzzy = raw.lower() == "true"
            continue
        keyword = key if tag_for_keyword(key) is not None else keyword_for_tag(tag_of(key))
        if keyword in _IGNORED:
            continue
        field = MATCH_KEYS.get(keyword)
        if field is None:
            # PS3.18 8.3.4.1: we match on the keys we index; refuse rather than over-return.
            raise UnsupportedError(f"matching on {keyword or key} is not supported")
        if raw == "":
            continue  # empty value: universal match
        kw[field] = _value(field, raw)
    limit = min(limit, max_limit) if limit is not None else max_limit
    query = ImagingQuery(level=level, limit=limit, offset=offset, fuzzy_matching=fuzzy,
                         **kw)  # type: ignore[arg-type]
    return QidoRequest(query=query, include_fields=tuple(include), include_all=include_all)


def _nonneg(raw: str) -> int:
    if not raw.isdigit():
        raise MalformedMessageError("limit/offset must be a non-negative integer")
    return int(raw)

