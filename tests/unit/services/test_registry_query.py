"""ITI-38 SubmissionSet, Association, GetAll and Folder queries over a small registry:
the right objects, one patient per answer, status and time filters, and the standard errors."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from imx.errors import (
    MissingParameterError,
    ResultNotSinglePatientError,
    TooManyResultsError,
)
from imx.model.document import Code, DocumentEntry, DocumentKind
from imx.model.document_query import (
    CodeMatch,
    DocumentQuery,
    EntryFilter,
    FindFoldersQuery,
    FindSubmissionSetsQuery,
    GetAllQuery,
    GetDocumentsQuery,
    ObjectLookupQuery,
    TimeRange,
)
from imx.model.identifiers import PatientId
from imx.services.document_query import DocumentQueryResult, DocumentQueryService
from imx.services.submission_sets import submission_set_for, submission_set_uuid
from imx.transactions.iti38_xca_query.codes import AssociationType, StatusType, StoredQuery
from tests.fakes import InMemoryMetadataStore
from tests.unit.transactions.test_iti38 import entry

HOME = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"
APPROVED, DEPRECATED = StatusType.APPROVED.value, StatusType.DEPRECATED.value
ANA = PatientId(id="ANA-1", assigning_authority="1.2.3.4")
BEN = PatientId(id="BEN-2", assigning_authority="1.2.3.4")
PDF = Code(code="urn:ihe:rad:PDF", scheme="1.3.6.1.4.1.19376.1.2.3", display="PDF report")
REPORT_TYPE = Code(code="18782-3", scheme="2.16.840.1.113883.6.1", display="Radiology report")


def doc(uid: str, patient: PatientId, day: int, *, study: str = "1.2.9.1",
        kind: str = DocumentKind.MANIFEST, status: str = APPROVED, **kw: object) -> DocumentEntry:
    return entry(entry_uuid=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_OID, uid)}",
                 document_unique_id=uid, kind=kind, patient_id=patient, source_patient_id=patient,
                 creation_time=dt.datetime(2026, 1, day, 9, tzinfo=dt.UTC),
                 study_instance_uid=study, status=status, **kw)


# Ana: a CT study whose manifest was rebuilt once (v1 Deprecated, v2 current) plus its
# report, and an MR study. Ben: one study.
V1 = doc("1.2.9.1.100.1", ANA, 1, status=DEPRECATED)
V2 = doc("1.2.9.1.100.2", ANA, 2)
REPORT = doc("1.2.9.1.200", ANA, 3, kind=DocumentKind.REPORT, format_code=PDF,
             type_code=REPORT_TYPE, mime_type="application/pdf", author_person="^Reader^Rita")
MR = doc("1.2.9.2.100.1", ANA, 10, study="1.2.9.2")
BENS = doc("1.2.9.3.100.1", BEN, 5, study="1.2.9.3")


async def service(max_results: int = 1000) -> DocumentQueryService:
    md = InMemoryMetadataStore()
    for e in (V1, V2, REPORT, MR, BENS):
        await md.put_document(e)
    return DocumentQueryService(metadata=md, home_community_id=HOME, max_results=max_results)


async def run(svc: DocumentQueryService, stored: StoredQuery, *, home: str | None = HOME,
              **fields: object) -> DocumentQueryResult:
    return await svc.query_documents(DocumentQuery(
        stored_query_id=stored.value, return_type="LeafClass", home_community_id=home,
        **fields))  # type: ignore[arg-type]


def set_of(e: DocumentEntry) -> str:
    return submission_set_for(e).entry_uuid


async def find_sets(svc: DocumentQueryService, **kw: object) -> list[str]:
    q = FindSubmissionSetsQuery(**{"patient_id": ANA, "statuses": (APPROVED,), **kw})  # type: ignore[arg-type]
    result = await run(svc, StoredQuery.FIND_SUBMISSION_SETS, find_submission_sets=q)
    assert result.entries == () and result.associations == ()
    return [s.entry_uuid for s in result.submission_sets]


async def test_find_submission_sets_one_per_publication_and_only_that_patients() -> None:
    svc = await service()
    found = await find_sets(svc)
    # Every publication is a submission, the replaced manifest's included: sets stay Approved.
    assert found == [set_of(e) for e in (V1, V2, REPORT, MR)]
    assert set_of(BENS) not in found
    result = await run(svc, StoredQuery.FIND_SUBMISSION_SETS, find_submission_sets=(
        FindSubmissionSetsQuery(patient_id=ANA, statuses=(APPROVED,))))
    assert {s.patient_id for s in result.submission_sets} == {ANA}
    assert result.patient_ids == (ANA.to_cx(),)
    nobody = PatientId(id="NOBODY", assigning_authority="1.2.3.4")
    assert await find_sets(svc, patient_id=nobody) == []  # unknown patient: empty Success


async def test_find_submission_sets_filters() -> None:
    svc = await service()
    day = lambda d: dt.datetime(2026, 1, d, tzinfo=dt.UTC)  # noqa: E731
    assert await find_sets(svc, statuses=(DEPRECATED,)) == []  # submission sets are Approved
    # From inclusive, To exclusive (ITI TF-2a 3.18.4.1.2.3.7.1)
    between = await find_sets(svc, submission_time=TimeRange(start=day(2), end=day(10)))
    assert between == [set_of(V2), set_of(REPORT)]
    assert await find_sets(svc, submission_time=TimeRange(start=day(10))) == [set_of(MR)]
    assert await find_sets(svc, source_ids=("9.9.9",)) == []
    assert len(await find_sets(svc, source_ids=(V2.repository_unique_id,))) == 4
    assert await find_sets(svc, author_persons=("%Reader%",)) == [set_of(REPORT)]
    report_type = CodeMatch(code="18782-3", scheme="2.16.840.1.113883.6.1")
    assert await find_sets(svc, content_types=(report_type,)) == [set_of(REPORT)]


async def test_get_submission_sets_gives_the_sets_and_their_has_member_links() -> None:
    svc = await service()
    result = await run(svc, StoredQuery.GET_SUBMISSION_SETS,
                       lookup=ObjectLookupQuery(entry_uuids=(V2.entry_uuid, REPORT.entry_uuid)))
    assert [s.entry_uuid for s in result.submission_sets] == [set_of(V2), set_of(REPORT)]
    assert result.entries == ()
    links = {(a.source_object, a.target_object, a.association_type, a.submission_set_status)
             for a in result.associations}
    assert links == {(set_of(V2), V2.entry_uuid, AssociationType.HAS_MEMBER, "Original"),
                     (set_of(REPORT), REPORT.entry_uuid, AssociationType.HAS_MEMBER, "Original")}


async def test_get_submission_set_and_contents_by_uuid_and_by_unique_id() -> None:
    svc = await service()
    ss = submission_set_for(V2)
    by_uuid = await run(svc, StoredQuery.GET_SUBMISSION_SET_AND_CONTENTS,
                        lookup=ObjectLookupQuery(entry_uuids=(ss.entry_uuid,)))
    by_uid = await run(svc, StoredQuery.GET_SUBMISSION_SET_AND_CONTENTS,
                       lookup=ObjectLookupQuery(unique_ids=(ss.unique_id,)))
    for result in (by_uuid, by_uid):
        assert [s.entry_uuid for s in result.submission_sets] == [ss.entry_uuid]
        assert [e.entry_uuid for e in result.entries] == [V2.entry_uuid]
        [link] = result.associations
        assert (link.source_object, link.target_object) == (ss.entry_uuid, V2.entry_uuid)
    assert ss.unique_id.startswith("2.25.") and len(ss.unique_id) <= 64
    # A filter that excludes the member: the set alone, no dangling association.
    only_pdf = await run(svc, StoredQuery.GET_SUBMISSION_SET_AND_CONTENTS, lookup=(
        ObjectLookupQuery(entry_uuids=(ss.entry_uuid,), entry_filter=EntryFilter(
            format_codes=(CodeMatch(code=PDF.code, scheme=PDF.scheme),)))))
    assert len(only_pdf.submission_sets) == 1 and only_pdf.entries == ()
    assert only_pdf.associations == ()
    # A DocumentEntry's UUID is not a SubmissionSet's; unknown ids answer nothing.
    for q in (ObjectLookupQuery(entry_uuids=(V2.entry_uuid,)),
              ObjectLookupQuery(unique_ids=("1.2.3.4",)),
              ObjectLookupQuery(entry_uuids=("urn:uuid:not-a-uuid",))):
        empty = await run(svc, StoredQuery.GET_SUBMISSION_SET_AND_CONTENTS, lookup=q)
        assert (empty.entries, empty.submission_sets, empty.associations) == ((), (), ())


async def test_get_associations_for_a_document_and_for_a_set() -> None:
    svc = await service()
    for_doc = await run(svc, StoredQuery.GET_ASSOCIATIONS,
                        lookup=ObjectLookupQuery(entry_uuids=(V1.entry_uuid,)))
    kinds = {(a.association_type, a.source_object, a.target_object) for a in for_doc.associations}
    # V1 is a member of its set, and was replaced by V2 (RPLC new -> old).
    assert kinds == {(AssociationType.HAS_MEMBER, set_of(V1), V1.entry_uuid),
                     (AssociationType.REPLACE, V2.entry_uuid, V1.entry_uuid)}
    assert for_doc.entries == () and for_doc.submission_sets == ()
    for_set = await run(svc, StoredQuery.GET_ASSOCIATIONS,
                        lookup=ObjectLookupQuery(entry_uuids=(set_of(MR),)))
    assert [(a.source_object, a.target_object) for a in for_set.associations] == [
        (set_of(MR), MR.entry_uuid)]


async def test_get_documents_and_associations() -> None:
    svc = await service()
    result = await run(svc, StoredQuery.GET_DOCUMENTS_AND_ASSOCIATIONS,
                       lookup=ObjectLookupQuery(unique_ids=(V2.document_unique_id,)))
    assert [e.entry_uuid for e in result.entries] == [V2.entry_uuid]
    assert {a.association_type for a in result.associations} == {
        AssociationType.HAS_MEMBER, AssociationType.REPLACE}


async def test_get_all_by_status() -> None:
    svc = await service()
    approved = await run(svc, StoredQuery.GET_ALL, get_all=GetAllQuery(
        patient_id=ANA, document_statuses=(APPROVED,), submission_set_statuses=(APPROVED,),
        folder_statuses=(APPROVED,)))
    assert {e.entry_uuid for e in approved.entries} == {V2.entry_uuid, REPORT.entry_uuid,
                                                        MR.entry_uuid}
    assert len(approved.submission_sets) == 4  # V1's set too (sets are never deprecated)
    # Associations only between returned objects: no link to the Deprecated V1.
    returned = {e.entry_uuid for e in approved.entries} | {
        s.entry_uuid for s in approved.submission_sets}
    assert all(a.target_object in returned and a.source_object in returned
               for a in approved.associations)
    assert len(approved.associations) == 3
    both = await run(svc, StoredQuery.GET_ALL, get_all=GetAllQuery(
        patient_id=ANA, document_statuses=(APPROVED, DEPRECATED),
        submission_set_statuses=(APPROVED,), folder_statuses=(APPROVED,),
        entry_filter=EntryFilter(format_codes=(CodeMatch(code=V1.format_code.code),))))
    assert {e.entry_uuid for e in both.entries} == {V1.entry_uuid, V2.entry_uuid, MR.entry_uuid}
    assert AssociationType.REPLACE in {a.association_type for a in both.associations}
    assert all(s.patient_id == ANA for s in both.submission_sets)
    assert BENS.entry_uuid not in {e.entry_uuid for e in both.entries}


async def test_get_related_documents_follows_the_replacement() -> None:
    svc = await service()
    rplc = (AssociationType.REPLACE.value,)
    result = await run(svc, StoredQuery.GET_RELATED_DOCUMENTS, lookup=ObjectLookupQuery(
        unique_ids=(V2.document_unique_id,), association_types=rplc))
    assert {e.entry_uuid for e in result.entries} == {V1.entry_uuid, V2.entry_uuid}
    [link] = result.associations
    assert (link.source_object, link.target_object) == (V2.entry_uuid, V1.entry_uuid)
    # No relationship of the asked type: nothing (ITI TF-2a 3.18.4.1.2.3.7.13).
    for q in (ObjectLookupQuery(entry_uuids=(MR.entry_uuid,), association_types=rplc),
              ObjectLookupQuery(entry_uuids=(V2.entry_uuid,),
                                association_types=(AssociationType.APPEND.value,))):
        none = await run(svc, StoredQuery.GET_RELATED_DOCUMENTS, lookup=q)
        assert none.entries == () and none.associations == ()


@pytest.mark.parametrize("stored", [StoredQuery.GET_FOLDERS, StoredQuery.GET_FOLDER_AND_CONTENTS,
                                    StoredQuery.GET_FOLDERS_FOR_DOCUMENT])
async def test_folder_lookups_answer_an_empty_success(stored: StoredQuery) -> None:
    svc = await service()
    result = await run(svc, stored, lookup=ObjectLookupQuery(entry_uuids=(V2.entry_uuid,)))
    assert (result.entries, result.submission_sets, result.associations) == ((), (), ())


async def test_find_folders_answers_an_empty_success() -> None:
    result = await run(await service(), StoredQuery.FIND_FOLDERS,
                       find_folders=FindFoldersQuery(patient_id=ANA, statuses=(APPROVED,)))
    assert (result.entries, result.submission_sets) == ((), ())


async def test_identifiers_of_two_patients_are_refused() -> None:
    svc = await service()
    both = (V2.entry_uuid, BENS.entry_uuid)
    with pytest.raises(ResultNotSinglePatientError):
        await run(svc, StoredQuery.GET_SUBMISSION_SETS, lookup=ObjectLookupQuery(entry_uuids=both))
    with pytest.raises(ResultNotSinglePatientError):
        await run(svc, StoredQuery.GET_DOCUMENTS, get=GetDocumentsQuery(entry_uuids=both))
    with pytest.raises(ResultNotSinglePatientError):
        await run(svc, StoredQuery.GET_ASSOCIATIONS, lookup=ObjectLookupQuery(
            entry_uuids=(V2.entry_uuid, set_of(BENS))))


async def test_queries_by_identifier_need_the_home_community() -> None:
    svc = await service()
    with pytest.raises(MissingParameterError):
        await run(svc, StoredQuery.GET_SUBMISSION_SETS, home=None,
                  lookup=ObjectLookupQuery(entry_uuids=(V2.entry_uuid,)))
    # A patient-scoped query does not need it.
    assert await run(svc, StoredQuery.FIND_SUBMISSION_SETS, home=None, find_submission_sets=(
        FindSubmissionSetsQuery(patient_id=BEN, statuses=(APPROVED,))))


async def test_too_many_results_counts_sets_and_documents() -> None:
    svc = await service(max_results=3)
    with pytest.raises(TooManyResultsError):  # four submission sets for Ana
        await run(svc, StoredQuery.FIND_SUBMISSION_SETS, find_submission_sets=(
            FindSubmissionSetsQuery(patient_id=ANA, statuses=(APPROVED,))))
    ok = await run(svc, StoredQuery.FIND_SUBMISSION_SETS, find_submission_sets=(
        FindSubmissionSetsQuery(patient_id=BEN, statuses=(APPROVED,))))
    assert len(ok.submission_sets) == 1


def test_the_set_uuid_mapping_is_its_own_inverse_and_keeps_the_uuid_version() -> None:
    ss = submission_set_uuid(V2.entry_uuid)
    assert ss is not None and ss != V2.entry_uuid
    assert submission_set_uuid(ss) == V2.entry_uuid
    assert uuid.UUID(ss.removeprefix("urn:uuid:")).version == 5
    assert submission_set_uuid("Document01") is None
