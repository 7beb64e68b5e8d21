"""The stored queries about SubmissionSets, Associations and Folders (ITI TF-2a 3.18.4.1.2.3.7).

Answered from the DocumentEntries through ``submission_sets`` (derived objects). This source
creates no Folders: the Folder queries are validated by the parser and answer an empty
Success, which is what a registry without folders returns (ITI TF-2a 3.18.4.1.3).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from imx.model.document import DocumentEntry, DocumentKind
from imx.model.document_query import (
    CodeMatch,
    DocumentQuery,
    EntryFilter,
    FindSubmissionSetsQuery,
    GetAllQuery,
    ObjectLookupQuery,
)
from imx.model.identifiers import PatientId
from imx.model.registry import Association, SubmissionSet
from imx.ports import MetadataStore
from imx.services.submission_sets import (
    associations_between,
    has_member,
    replacement_associations,
    submission_set_for,
    submission_set_uuid,
    uuid_from_unique_id,
)
from imx.transactions.iti38_xca_query.codes import DOCUMENT_ENTRY_TYPE_STABLE, StoredQuery

__all__ = ["RegistryAnswer", "RegistryQueries", "author_matches"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryAnswer:
    entries: tuple[DocumentEntry, ...] = ()
    submission_sets: tuple[SubmissionSet, ...] = ()
    associations: tuple[Association, ...] = ()
    # Patients of objects an answer links without returning them (GetAssociations).
    linked_patients: tuple[PatientId, ...] = ()

    def patient_ids(self) -> set[str]:
        """CX of every patient the answer is about."""
        return {*(e.patient_id.to_cx() for e in self.entries),
                *(s.patient_id.to_cx() for s in self.submission_sets),
                *(p.to_cx() for p in self.linked_patients)}


def author_matches(patterns: Sequence[str], author: str) -> bool:
    """ITI TF-2a 3.18.4.1.2.3.7.1: SQL LIKE wildcards ``%`` and ``_`` in AuthorPerson."""
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(author, p.replace("%", "*").replace("_", "?")) for p in patterns)


def _any(codes: Sequence[CodeMatch], value: object) -> bool:
    return not codes or any(c.matches(value) for c in codes)  # type: ignore[arg-type]


def _passes(entry: DocumentEntry, f: EntryFilter) -> bool:
    return ((DOCUMENT_ENTRY_TYPE_STABLE in (f.entry_types or (DOCUMENT_ENTRY_TYPE_STABLE,)))
            and _any(f.format_codes, entry.format_code)
            and all(_any(group, entry.confidentiality_code) for group in f.confidentiality_codes))


def _set_matches(ss: SubmissionSet, q: FindSubmissionSetsQuery) -> bool:
    return (ss.status in q.statuses
            and (not q.source_ids or ss.source_id in q.source_ids)
            and q.submission_time.contains(ss.submission_time)
            and author_matches(q.author_persons, ss.author_person)
            and _any(q.content_types, ss.content_type_code))


def _ordered(entries: Sequence[DocumentEntry]) -> tuple[DocumentEntry, ...]:
    return tuple(sorted(entries, key=lambda e: (e.service_start_time or e.creation_time,
                                                e.entry_uuid)))


def _sets(entries: Sequence[DocumentEntry]) -> tuple[SubmissionSet, ...]:
    found = [submission_set_for(e) for e in entries]
    return tuple(sorted(found, key=lambda s: (s.submission_time, s.entry_uuid)))


PatientFinder = Callable[[PatientId], Awaitable[list[DocumentEntry]]]


class RegistryQueries:
    """One method per stored query; ``patient_documents`` resolves a patient ID (ours, or one
    correlated with ours) to its entries, as FindDocuments does."""

    def __init__(self, *, metadata: MetadataStore, patient_documents: PatientFinder) -> None:
        self._metadata = metadata
        self._patient_documents = patient_documents

    async def answer(self, query: DocumentQuery) -> RegistryAnswer:
        """Run one of the queries this class owns (any but FindDocuments / GetDocuments)."""
        stored = StoredQuery(query.stored_query_id)
        if query.find_submission_sets is not None:
            return await self.find_submission_sets(query.find_submission_sets)
        if query.get_all is not None:
            return await self.get_all(query.get_all)
        if query.lookup is None or stored in _FOLDER_QUERIES:
            return RegistryAnswer()  # FindFolders and the Folder lookups: no folders here
        handler = {
            StoredQuery.GET_SUBMISSION_SETS: self.get_submission_sets,
            StoredQuery.GET_ASSOCIATIONS: self.get_associations,
            StoredQuery.GET_DOCUMENTS_AND_ASSOCIATIONS: self.get_documents_and_associations,
            StoredQuery.GET_SUBMISSION_SET_AND_CONTENTS: self.get_submission_set_and_contents,
            StoredQuery.GET_RELATED_DOCUMENTS: self.get_related_documents,
        }[stored]
        return await handler(query.lookup)

    # -- by patient ---------------------------------------------------------------------

    async def find_submission_sets(self, q: FindSubmissionSetsQuery) -> RegistryAnswer:
        sets = _sets(await self._patient_documents(q.patient_id))
        return RegistryAnswer(submission_sets=tuple(s for s in sets if _set_matches(s, q)))

    async def get_all(self, q: GetAllQuery) -> RegistryAnswer:
        everything = await self._patient_documents(q.patient_id)
        entries = _ordered([e for e in everything if e.status in q.document_statuses
                            and _passes(e, q.entry_filter)])
        sets = tuple(s for s in _sets(everything) if s.status in q.submission_set_statuses)
        links = associations_between(sets, entries, replacement_associations(everything))
        return RegistryAnswer(entries=entries, submission_sets=sets, associations=tuple(links))

    # -- by object identifiers ----------------------------------------------------------

    async def _entries(self, entry_uuids: Sequence[str] = (),
                       unique_ids: Sequence[str] = ()) -> list[DocumentEntry]:
        out = []
        for uid in unique_ids:
            entry = await self._metadata.get_document(uid)
            if entry is not None:
                out.append(entry)
        if entry_uuids:
            out += await self._metadata.find_documents(entry_uuids=list(entry_uuids))
        return out

    async def _named_sets(self, set_uuids: Sequence[str]) -> list[DocumentEntry]:
        """The entries registered by the named SubmissionSets."""
        wanted = [u for u in (submission_set_uuid(s) for s in set_uuids) if u]
        return await self._entries(wanted) if wanted else []

    async def _replacements(self, entries: Sequence[DocumentEntry]) -> list[Association]:
        """RPLC associations touching ``entries`` (their studies' manifests are read)."""
        studies = {e.study_instance_uid for e in entries if e.kind == DocumentKind.MANIFEST}
        manifests: list[DocumentEntry] = []
        for study in sorted(studies):
            manifests += await self._metadata.find_documents(
                study_instance_uid=study, kinds=[DocumentKind.MANIFEST])
        named = {e.entry_uuid for e in entries}
        return [a for a in replacement_associations(manifests)
                if a.source_object in named or a.target_object in named]

    async def get_submission_sets(self, q: ObjectLookupQuery) -> RegistryAnswer:
        # $uuid names DocumentEntries (or Folders): their sets and the HasMember links.
        entries = await self._entries(q.entry_uuids)
        sets = _sets(entries)
        return RegistryAnswer(submission_sets=sets,
                              associations=tuple(associations_between(sets, entries)))

    async def get_associations(self, q: ObjectLookupQuery) -> RegistryAnswer:
        entries = await self._entries(q.entry_uuids)
        from_sets = await self._named_sets(q.entry_uuids)
        links = [has_member(submission_set_for(e), e.entry_uuid) for e in (*entries, *from_sets)]
        links += await self._replacements(entries)
        return RegistryAnswer(associations=tuple(_unique(links)), linked_patients=tuple(
            e.patient_id for e in (*entries, *from_sets)))

    async def get_documents_and_associations(self, q: ObjectLookupQuery) -> RegistryAnswer:
        entries = await self._entries(q.entry_uuids, q.unique_ids)
        links = [has_member(submission_set_for(e), e.entry_uuid) for e in entries]
        links += await self._replacements(entries)
        return RegistryAnswer(entries=_ordered(entries), associations=tuple(_unique(links)))

    async def get_submission_set_and_contents(self, q: ObjectLookupQuery) -> RegistryAnswer:
        set_uuids = list(q.entry_uuids)
        set_uuids += [u for u in (uuid_from_unique_id(x) for x in q.unique_ids) if u]
        members = await self._named_sets(set_uuids)
        if not members:
            return RegistryAnswer()
        sets = _sets(members)
        entries = _ordered([e for e in members if _passes(e, q.entry_filter)])
        return RegistryAnswer(entries=entries, submission_sets=sets,
                              associations=tuple(associations_between(sets, entries)))

    async def get_related_documents(self, q: ObjectLookupQuery) -> RegistryAnswer:
        # HasMember is not a document relationship (ITI TF-2a 3.18.4.1.2.3.7.13).
        entries = await self._entries(q.entry_uuids, q.unique_ids)
        links = [a for a in await self._replacements(entries)
                 if a.association_type in q.association_types]
        if not links:
            return RegistryAnswer()
        related = {a.source_object for a in links} | {a.target_object for a in links}
        documents = await self._entries(sorted(related))
        return RegistryAnswer(entries=_ordered(documents), associations=tuple(links))


_FOLDER_QUERIES = {StoredQuery.FIND_FOLDERS, StoredQuery.GET_FOLDERS,
                   StoredQuery.GET_FOLDER_AND_CONTENTS, StoredQuery.GET_FOLDERS_FOR_DOCUMENT}


def _unique(links: Sequence[Association]) -> list[Association]:
    seen: dict[str, Association] = {}
    for a in links:
        seen.setdefault(a.entry_uuid, a)
    return list(seen.values())
