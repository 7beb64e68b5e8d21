"""One imaging query model for QIDO-RS (PS3.18 8.3.4) and C-FIND (PS3.4 C.2.2.2).

Both edges parse their wire form into an ``ImagingQuery``; the metadata store
answers it. Matching semantics follow PS3.4 C.2.2.2: single value, list of UIDs,
wildcard (``*`` and ``?``, case-insensitive for PN), and date/range matching.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

__all__ = ["DateRange", "ImagingQuery", "QueryLevel"]


class QueryLevel(enum.Enum):
    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"  # DIMSE name for the instance level


@dataclass(frozen=True, slots=True, kw_only=True)
class DateRange:
    """Inclusive date range; either end may be open (PS3.4 C.2.2.2.5)."""

    start: dt.date | None = None
    end: dt.date | None = None

    def contains(self, value: dt.date | None) -> bool:
        if value is None:
            return False
        if self.start is not None and value < self.start:
            return False
        return not (self.end is not None and value > self.end)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImagingQuery:
    """Matching keys; an empty value means "no constraint" (universal match).

    String keys may hold ``*``/``?`` wildcards. UID keys are lists (UID list matching).
    """

    level: QueryLevel
    patient_id: str = ""
    issuer_of_patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: DateRange | None = None
    patient_sex: str = ""
    study_instance_uids: tuple[str, ...] = ()
    study_date: DateRange | None = None
    accession_number: str = ""
    study_id: str = ""
    study_description: str = ""
    referring_physician_name: str = ""
    modalities_in_study: tuple[str, ...] = ()
    series_instance_uids: tuple[str, ...] = ()
    modality: str = ""
    series_number: int | None = None
    sop_instance_uids: tuple[str, ...] = ()
    sop_class_uids: tuple[str, ...] = ()
    instance_number: int | None = None
    limit: int | None = None
    offset: int = 0
    fuzzy_matching: bool = False
