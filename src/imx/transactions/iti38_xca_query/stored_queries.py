"""Parameters of the stored queries beyond FindDocuments / GetDocuments (ITI TF-2a 3.18.4.1.2.3.7).

SubmissionSet, Folder, Association and "AndContents" queries, each validated as the standard
requires (required parameters, exclusive entryUUID/uniqueId pairs, single-valued ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from imx.model.document_query import (
    DocumentQuery,
    EntryFilter,
    FindFoldersQuery,
    FindSubmissionSetsQuery,
    GetAllQuery,
    ObjectLookupQuery,
)
from imx.transactions.iti38_xca_query.codes import StoredQuery
from imx.transactions.iti38_xca_query.params import (
    Slots,
    codes,
    entry_filter,
    one_of,
    patient_id,
    required_list,
    single,
    text_list,
    time_range,
)

__all__ = ["parse_stored_query"]

_DOC_IDS = ("$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")
_FOLDER_IDS = ("$XDSFolderEntryUUID", "$XDSFolderUniqueId")
_SET_IDS = ("$XDSSubmissionSetEntryUUID", "$XDSSubmissionSetUniqueId")


def _find_submission_sets(query: DocumentQuery, slots: Slots) -> DocumentQuery:
    pid = patient_id(slots, "$XDSSubmissionSetPatientId")
    author = single(slots, "$XDSSubmissionSetAuthorPerson")
    return replace(query, find_submission_sets=FindSubmissionSetsQuery(
        patient_id=pid, statuses=required_list(slots, "$XDSSubmissionSetStatus"),
        source_ids=text_list(slots, "$XDSSubmissionSetSourceId"),
        submission_time=time_range(slots, "$XDSSubmissionSetSubmissionTimeFrom",
                                   "$XDSSubmissionSetSubmissionTimeTo"),
        author_persons=(author,) if author else (),
        content_types=codes(slots.get("$XDSSubmissionSetContentType", []))))


def _find_folders(query: DocumentQuery, slots: Slots) -> DocumentQuery:
    pid = patient_id(slots, "$XDSFolderPatientId")
    return replace(query, find_folders=FindFoldersQuery(
        patient_id=pid, statuses=required_list(slots, "$XDSFolderStatus")))


def _get_all(query: DocumentQuery, slots: Slots) -> DocumentQuery:
    pid = patient_id(slots, "$patientId")
    return replace(query, get_all=GetAllQuery(
        patient_id=pid, document_statuses=required_list(slots, "$XDSDocumentEntryStatus"),
        submission_set_statuses=required_list(slots, "$XDSSubmissionSetStatus"),
        folder_statuses=required_list(slots, "$XDSFolderStatus"),
        entry_filter=entry_filter(slots)))


def _by_uuid(query: DocumentQuery, slots: Slots) -> DocumentQuery:
    # GetSubmissionSets, GetAssociations: $uuid names any object (ITI TF-2a 3.18.4.1.2.3.7.7/9).
    return replace(query, lookup=ObjectLookupQuery(entry_uuids=required_list(slots, "$uuid")))


def _lookup(names: tuple[str, str], *, is_single: bool = False,
            with_filter: bool = False) -> Callable[[DocumentQuery, Slots], DocumentQuery]:
    def parse(query: DocumentQuery, slots: Slots) -> DocumentQuery:
        uuids, unique_ids = one_of(slots, *names, is_single=is_single)
        return replace(query, lookup=ObjectLookupQuery(
            entry_uuids=uuids, unique_ids=unique_ids,
            entry_filter=entry_filter(slots) if with_filter else EntryFilter()))

    return parse


def _related(query: DocumentQuery, slots: Slots) -> DocumentQuery:
    uuids, unique_ids = one_of(slots, *_DOC_IDS, is_single=True)
    return replace(query, lookup=ObjectLookupQuery(
        entry_uuids=uuids, unique_ids=unique_ids,
        association_types=required_list(slots, "$AssociationTypes")))


_PARSERS: dict[StoredQuery, Callable[[DocumentQuery, Slots], DocumentQuery]] = {
    StoredQuery.FIND_SUBMISSION_SETS: _find_submission_sets,
    StoredQuery.FIND_FOLDERS: _find_folders,
    StoredQuery.GET_ALL: _get_all,
    StoredQuery.GET_SUBMISSION_SETS: _by_uuid,
    StoredQuery.GET_ASSOCIATIONS: _by_uuid,
    StoredQuery.GET_DOCUMENTS_AND_ASSOCIATIONS: _lookup(_DOC_IDS),
    StoredQuery.GET_SUBMISSION_SET_AND_CONTENTS: _lookup(_SET_IDS, is_single=True,
                                                         with_filter=True),
    StoredQuery.GET_FOLDERS: _lookup(_FOLDER_IDS),
    StoredQuery.GET_FOLDER_AND_CONTENTS: _lookup(_FOLDER_IDS, is_single=True, with_filter=True),
    StoredQuery.GET_FOLDERS_FOR_DOCUMENT: _lookup(_DOC_IDS, is_single=True),
    StoredQuery.GET_RELATED_DOCUMENTS: _related,
}


def parse_stored_query(stored: StoredQuery, query: DocumentQuery, slots: Slots) -> DocumentQuery:
    """``query`` with the parameters of ``stored`` filled in (one of the queries above).

    Raises:
        MissingParameterError, ParameterNumberError, MalformedMessageError.
    """
    return _PARSERS[stored](query, slots)
