"""XDS stored-query requests as model objects (ITI TF-2a 3.18.4.1.2.3.7; ITI-38 reuses them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from imx.model.document import Code
from imx.model.identifiers import PatientId

__all__ = [
    "CodeMatch",
    "DocumentQuery",
    "FindDocumentsQuery",
    "GetDocumentsQuery",
    "TimeRange",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeMatch:
    """One ``code^^scheme`` value of a code slot; an empty scheme matches any scheme."""

    code: str
    scheme: str = ""

    def matches(self, value: Code) -> bool:
        return value.code == self.code and (not self.scheme or value.scheme == self.scheme)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeRange:
    """``From`` inclusive, ``To`` exclusive (ITI TF-2a 3.18.4.1.2.3.7.1)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def contains(self, value: dt.datetime | None) -> bool:
        if self.start is None and self.end is None:
            return True
        if value is None:
            return False
        if self.start is not None and value < self.start:
            return False
        return not (self.end is not None and value >= self.end)


@dataclass(frozen=True, slots=True, kw_only=True)
class FindDocumentsQuery:
    """FindDocuments (and FindDocumentsByReferenceId) parameters.

    Code lists are OR within one slot; ``event_codes`` is AND across slots of OR lists.
    An empty tuple means "no constraint".
    """

    patient_id: PatientId
    statuses: tuple[str, ...]
    class_codes: tuple[CodeMatch, ...] = ()
    type_codes: tuple[CodeMatch, ...] = ()
    practice_setting_codes: tuple[CodeMatch, ...] = ()
    healthcare_facility_type_codes: tuple[CodeMatch, ...] = ()
    format_codes: tuple[CodeMatch, ...] = ()
    confidentiality_codes: tuple[tuple[CodeMatch, ...], ...] = ()
    event_codes: tuple[tuple[CodeMatch, ...], ...] = ()
    creation_time: TimeRange = TimeRange()
    service_start_time: TimeRange = TimeRange()
    service_stop_time: TimeRange = TimeRange()
    author_persons: tuple[str, ...] = ()
    entry_types: tuple[str, ...] = ()
    reference_ids: tuple[str, ...] = ()
    metadata_level: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class GetDocumentsQuery:
    """GetDocuments: exactly one of entry UUIDs or unique IDs (ITI TF-2a 3.18.4.1.2.3.7.5)."""

    entry_uuids: tuple[str, ...] = ()
    unique_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentQuery:
    """A parsed ITI-38 AdhocQueryRequest."""

    stored_query_id: str
    return_type: str  # "LeafClass" | "ObjectRef"
    home_community_id: str | None
    find: FindDocumentsQuery | None = None
    get: GetDocumentsQuery | None = None
    max_results: int = -1
