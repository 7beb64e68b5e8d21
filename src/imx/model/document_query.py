"""XDS stored-query requests as model objects (ITI TF-2a 3.18.4.1.2.3.7; ITI-38 reuses them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from imx.model.document import Code
from imx.model.identifiers import PatientId

__all__ = [
    "CodeMatch",
    "DocumentQuery",
    "EntryFilter",
    "FindDocumentsQuery",
    "FindFoldersQuery",
    "FindSubmissionSetsQuery",
    "GetAllQuery",
    "GetDocumentsQuery",
    "ObjectLookupQuery",
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
class FindSubmissionSetsQuery:
    """FindSubmissionSets (ITI TF-2a 3.18.4.1.2.3.7.2). Lists are OR; empty: no constraint."""

    patient_id: PatientId
    statuses: tuple[str, ...]
    source_ids: tuple[str, ...] = ()
    submission_time: TimeRange = TimeRange()
    author_persons: tuple[str, ...] = ()
    content_types: tuple[CodeMatch, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FindFoldersQuery:
    """FindFolders (ITI TF-2a 3.18.4.1.2.3.7.3): validated; this source keeps no folders."""

    patient_id: PatientId
    statuses: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryFilter:
    """The optional DocumentEntry filters of GetAll, GetSubmissionSetAndContents and
    GetFolderAndContents: formatCode (OR), confidentialityCode (AND of ORs), objectType
    (empty: stable entries only, as FindDocuments)."""

    format_codes: tuple[CodeMatch, ...] = ()
    confidentiality_codes: tuple[tuple[CodeMatch, ...], ...] = ()
    entry_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetAllQuery:
    """GetAll (ITI TF-2a 3.18.4.1.2.3.7.4): everything about one patient, by status."""

    patient_id: PatientId
    document_statuses: tuple[str, ...]
    submission_set_statuses: tuple[str, ...]
    folder_statuses: tuple[str, ...]
    entry_filter: EntryFilter = EntryFilter()


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectLookupQuery:
    """The Get* stored queries other than GetDocuments: the objects named by entryUUID or by
    uniqueId (exactly one of the two kinds; ``$uuid`` queries fill ``entry_uuids``).

    What the identifiers name (DocumentEntries, SubmissionSets, Folders, any object) follows
    from the stored query id. ``association_types`` is GetRelatedDocuments' $AssociationTypes.
    """

    entry_uuids: tuple[str, ...] = ()
    unique_ids: tuple[str, ...] = ()
    association_types: tuple[str, ...] = ()
    entry_filter: EntryFilter = EntryFilter()


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentQuery:
    """A parsed ITI-38 AdhocQueryRequest: ``stored_query_id`` says which field is set."""

    stored_query_id: str
    return_type: str  # "LeafClass" | "ObjectRef"
    home_community_id: str | None
    find: FindDocumentsQuery | None = None
    get: GetDocumentsQuery | None = None
    find_submission_sets: FindSubmissionSetsQuery | None = None
    find_folders: FindFoldersQuery | None = None
    get_all: GetAllQuery | None = None
    lookup: ObjectLookupQuery | None = None
    max_results: int = -1
