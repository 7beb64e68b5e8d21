"""Answer XCA ITI-38 stored queries from the Imaging Document Source's DocumentEntries.

ITI TF-2b 3.38.4.1.3 (responding gateway) over ITI TF-2a 3.18.4.1.2.3.7 (stored query
semantics). FindDocuments / GetDocuments are answered here, the SubmissionSet, Association
and Folder queries by ``registry_query``. Errors that belong in the response (not a failed
request) are returned as RegistryErrorItems; the rest raise ``imx.errors`` for the edge to map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imx.errors import (
    MissingParameterError,
    ResultNotSinglePatientError,
    TooManyResultsError,
    UnknownCommunityError,
)
from imx.model.document import DocumentEntry
from imx.model.document_query import CodeMatch, DocumentQuery, FindDocumentsQuery
from imx.model.identifiers import PatientId
from imx.model.registry import Association, RegistryErrorItem, SubmissionSet
from imx.ports import MetadataStore, PatientIndex
from imx.services.registry_query import RegistryAnswer, RegistryQueries, author_matches
from imx.transactions.iti38_xca_query.codes import DOCUMENT_ENTRY_TYPE_STABLE

__all__ = ["DocumentQueryResult", "DocumentQueryService", "matches_find_documents"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentQueryResult:
    entries: tuple[DocumentEntry, ...]
    submission_sets: tuple[SubmissionSet, ...] = ()
    associations: tuple[Association, ...] = ()
    errors: tuple[RegistryErrorItem, ...] = ()
    patient_ids: tuple[str, ...] = ()  # CX of the patients the answer is about (for the audit)


def _any(codes: Sequence[CodeMatch], value: object) -> bool:
    return not codes or any(c.matches(value) for c in codes)  # type: ignore[arg-type]


def matches_find_documents(entry: DocumentEntry, q: FindDocumentsQuery) -> bool:
    """True if ``entry`` satisfies every FindDocuments parameter (patient already matched)."""
    checks = (
        entry.status in q.statuses,
        DOCUMENT_ENTRY_TYPE_STABLE in q.entry_types,
        _any(q.class_codes, entry.class_code),
        _any(q.type_codes, entry.type_code),
        _any(q.practice_setting_codes, entry.practice_setting_code),
        _any(q.healthcare_facility_type_codes, entry.healthcare_facility_type_code),
        _any(q.format_codes, entry.format_code),
        all(_any(group, entry.confidentiality_code) for group in q.confidentiality_codes),
        all(any(c.matches(e) for c in group for e in entry.event_codes) for group in q.event_codes),
        q.creation_time.contains(entry.creation_time),
        q.service_start_time.contains(entry.service_start_time),
        q.service_stop_time.contains(entry.service_stop_time),
        author_matches(q.author_persons, entry.author_person),
        not q.reference_ids or bool(set(q.reference_ids) & set(entry.reference_id_list)),
    )
    return all(checks)


class DocumentQueryService:
    """Stored queries over this node's DocumentEntries."""

    def __init__(self, *, metadata: MetadataStore, home_community_id: str,
                 max_results: int = 1000, index: PatientIndex | None = None) -> None:
        self._metadata = metadata
        self._index = index
        self._home = home_community_id
        self._max_results = max_results
        self._registry = RegistryQueries(metadata=metadata,
                                         patient_documents=self._patient_documents)

    async def query_documents(self, query: DocumentQuery) -> DocumentQueryResult:
        """Run one stored query.

        Raises:
            UnknownCommunityError: ``home`` names another community (XDSUnknownCommunity).
            MissingParameterError: a query that needs ``home`` has none.
            UnknownPatientError is NOT raised: an unknown patient yields an empty Success,
                as a registry cannot tell "no documents" from "not known here" without
                disclosing who is known (ITI TF-2a 3.18.4.1.3; policy in docs/conformance).
            ResultNotSinglePatientError: a query by object identifiers would answer about
                several patients (XDSResultNotSinglePatient); nothing is returned.
            TooManyResultsError: more DocumentEntries and SubmissionSets than
                ``max_results`` (XDSTooManyResults).
        """
        if query.home_community_id and query.home_community_id != self._home:
            raise UnknownCommunityError("query addressed to another community")
        patient = _patient_of(query)
        if patient is None and not query.home_community_id:
            # ITI TF-2b 3.38.4.1.2.1: queries without a patient ID need homeCommunityId.
            raise MissingParameterError("homeCommunityId is required for this stored query")
        if query.find is not None:
            answer = RegistryAnswer(entries=tuple(await self._find(query.find)))
        elif query.get is not None:
            answer = RegistryAnswer(
                entries=tuple(await self._get(query.get.entry_uuids, query.get.unique_ids)))
        else:
            answer = await self._registry.answer(query)
        if patient is not None:
            pids: tuple[str, ...] = (patient.to_cx(),)
        else:
            pids = tuple(sorted(answer.patient_ids()))
            if len(pids) > 1:
                # Never one answer about two people (ITI TF-3 4.2.4 XDSResultNotSinglePatient).
                raise ResultNotSinglePatientError("the objects named belong to several patients")
        limit = self._max_results if query.max_results < 0 else min(query.max_results,
                                                                     self._max_results)
        if len(answer.entries) + len(answer.submission_sets) > limit:
            raise TooManyResultsError("more objects than the responder returns at once")
        return DocumentQueryResult(entries=answer.entries, submission_sets=answer.submission_sets,
                                   associations=answer.associations, patient_ids=pids)

    async def _patient_documents(self, patient_id: PatientId) -> list[DocumentEntry]:
        candidates = await self._metadata.find_documents(patient_id=patient_id)
        if not candidates and self._index is not None:
            # An identifier another community correlated with ours through ITI-55 Query and
            # Feed (SPEC-NOTES §2.1, §2.5) finds our patient's entries as well.
            local = await self._index.resolve_correlation(patient_id)
            if local is not None:
                candidates = await self._metadata.find_documents(patient_id=local)
        return candidates

    async def _find(self, q: FindDocumentsQuery) -> list[DocumentEntry]:
        candidates = await self._patient_documents(q.patient_id)
        found = [e for e in candidates if matches_find_documents(e, q)]
        return sorted(found, key=lambda e: (e.service_start_time or e.creation_time, e.entry_uuid))

    async def _get(self, entry_uuids: Sequence[str],
                   unique_ids: Sequence[str]) -> list[DocumentEntry]:
        out: list[DocumentEntry] = []
        if unique_ids:
            for uid in unique_ids:
                e = await self._metadata.get_document(uid)
                if e is not None:
                    out.append(e)
            return out
        return await self._metadata.find_documents(entry_uuids=entry_uuids)


def _patient_of(query: DocumentQuery) -> PatientId | None:
    """The patient a query names, or None for the queries by object identifiers."""
    for q in (query.find, query.find_submission_sets, query.find_folders, query.get_all):
        if q is not None:
            return q.patient_id
    return None
