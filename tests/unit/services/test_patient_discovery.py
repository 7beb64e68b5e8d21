"""ITI-55 decisions on a small index: one match, twins not confused, ties not guessed."""

from __future__ import annotations

import dataclasses
import datetime as dt

from imx.model.document_query import DocumentQuery, FindDocumentsQuery
from imx.model.identifiers import PatientId
from imx.model.mpi import MpiSource
from imx.model.patient_discovery import (
    Address,
    DetectedIssue,
    InstanceIdentifier,
    PatientDemographics,
    PatientDiscoveryRequest,
    PersonName,
    QueryResponseCode,
)
from imx.services.document_query import DocumentQueryService
from imx.services.patient_discovery import PatientDiscoveryService
from imx.transactions.iti38_xca_query.codes import DOCUMENT_ENTRY_TYPE_STABLE
from tests.contract.records import stored
from tests.fakes import FakeClock, InMemoryMetadataStore, RecordingAuditSink
from tests.unit.transactions.test_iti38 import entry as document_entry

APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"

DOB = dt.date(1980, 2, 15)


async def service(*patients: tuple[str, str, str]) -> tuple[PatientDiscoveryService, RecordingAuditSink]:
    md = InMemoryMetadataStore()
    for i, (pid, name, sex) in enumerate(patients, start=1):
        await md.store_instance(stored(patient=pid, name=name, sex=sex, birth=DOB, study=i))
    audit = RecordingAuditSink()
    return PatientDiscoveryService(index=md, audit=audit, clock=FakeClock()), audit


def query(given: str, family: str, sex: str = "", dob: dt.date = DOB) -> PatientDiscoveryRequest:
    ii = InstanceIdentifier(root="1.2.3")
    return PatientDiscoveryRequest(
        message_id=ii, creation_time="", sender_device_id=ii, sender_home_community_id="1.2.3",
        receiver_device_id=None, query_id=ii, processing_code="P", response_priority="I",
        demographics=PatientDemographics(names=(PersonName(given=(given,), family=family),),
                                         gender=sex, birth_date=dob),
        query_by_parameter=b"<queryByParameter xmlns='urn:hl7-org:v3'/>")


async def test_one_confident_match_returns_our_id() -> None:
    svc, audit = await service(("P1", "Doe^Jane", "F"), ("P2", "Smith^John", "M"))
    answer = await svc.discover_patient(query("Jane", "Doe", "F"))
    assert answer.response_code is QueryResponseCode.OK
    assert answer.matches[0].demographics.ids == (PatientId(id="P1", assigning_authority="1.2.3.4"),)
    assert audit.records[-1].transaction == "ITI-55" and "Jane" not in audit.records[-1].detail


async def test_typo_or_nickname_matches_and_both_at_once_asks_for_more() -> None:
    svc, _ = await service(("P1", "Johnson^Katherine", "F"))
    for given, family in (("Kate", "Johnson"), ("Katherine", "Jonhson")):
        answer = await svc.discover_patient(query(given, family, "F"))
        assert answer.response_code is QueryResponseCode.OK
        assert answer.matches[0].demographics.ids[0].id == "P1"
    # nickname and typo together is borderline: no guess, the initiator is told what helps
    both = await svc.discover_patient(query("Kate", "Jonhson", "F"))
    assert both.response_code is QueryResponseCode.NO_MATCH and not both.matches
    assert DetectedIssue.ADDRESS_REQUESTED in both.detected_issues


async def test_twins_of_different_sex_are_not_confused() -> None:
    svc, _ = await service(("P1", "Doe^Carl", "M"), ("P2", "Doe^Carol", "F"))
    answer = await svc.discover_patient(query("Carol", "Doe", "F"))
    assert answer.response_code is QueryResponseCode.OK
    assert answer.matches[0].demographics.ids[0].id == "P2"


async def test_indistinguishable_candidates_are_not_guessed() -> None:
    svc, _ = await service(("P1", "Doe^Jane", "F"), ("P2", "Doe^Jane", "F"))
    answer = await svc.discover_patient(query("Jane", "Doe", "F"))
    assert answer.response_code is QueryResponseCode.NO_MATCH and not answer.matches
    assert answer.detected_issues  # AnswerNotAvailable or a request for more demographics
    assert DetectedIssue.ANSWER_NOT_AVAILABLE in answer.detected_issues or any(
        i.value.endswith("Requested") for i in answer.detected_issues)


async def test_unknown_person_is_no_match() -> None:
    svc, _ = await service(("P1", "Doe^Jane", "F"))
    answer = await svc.discover_patient(query("Zoe", "Quist", "F", dob=dt.date(1999, 9, 9)))
    assert answer.response_code is QueryResponseCode.NO_MATCH and not answer.matches


# -- Query and Feed: correlations (SPEC-NOTES §2.1, §2.5) -----------------------------------

THEIR_ID = PatientId(id="THEIRS-42", assigning_authority="9.8.7.6.5")
THEIR_HOME = "9.8.7.6"


def feed_query(given: str, family: str, *ids: PatientId, sex: str = "F") -> PatientDiscoveryRequest:
    q = query(given, family, sex)
    return dataclasses.replace(q, sender_home_community_id=THEIR_HOME,
                               demographics=dataclasses.replace(q.demographics, ids=ids))


async def test_query_and_feed_records_the_initiators_id_and_iti38_finds_our_documents() -> None:
    svc, audit = await service(("P1", "Doe^Jane", "F"), ("P2", "Smith^John", "M"))
    index = svc._index  # the in-memory store
    answer = await svc.discover_patient(feed_query("Jane", "Doe", THEIR_ID))
    assert answer.response_code is QueryResponseCode.OK
    ours = PatientId(id="P1", assigning_authority="1.2.3.4")
    assert await index.resolve_correlation(THEIR_ID) == ours
    [c] = await index.list_correlations(ours)
    assert c.home_community_id == THEIR_HOME
    assert "correlated=1" in audit.records[-1].detail
    # ITI-38 FindDocuments with the initiator's ID finds our patient's documents.
    await index.put_document(document_entry(patient_id=ours))
    docs = DocumentQueryService(metadata=index, home_community_id="urn:oid:1.2.3", index=index)
    found = await docs.query_documents(DocumentQuery(
        stored_query_id=FIND_DOCUMENTS, return_type="LeafClass", home_community_id=None,
        find=FindDocumentsQuery(patient_id=THEIR_ID, statuses=(APPROVED,),
                                entry_types=(DOCUMENT_ENTRY_TYPE_STABLE,))))
    assert [e.patient_id for e in found.entries] == [ours]
    # Without the correlation the same query finds nothing.
    unknown = PatientId(id="NOPE", assigning_authority="9.8.7.6.5")
    none = await docs.query_documents(DocumentQuery(
        stored_query_id=FIND_DOCUMENTS, return_type="LeafClass", home_community_id=None,
        find=FindDocumentsQuery(patient_id=unknown, statuses=(APPROVED,),
                                entry_types=(DOCUMENT_ENTRY_TYPE_STABLE,))))
    assert none.entries == ()


async def test_no_correlation_without_a_match_or_for_shared_national_ids() -> None:
    svc, _ = await service(("P1", "Doe^Jane", "F"), ("P2", "Doe^Jane", "F"))
    ssn = PatientId(id="123456789", assigning_authority="2.16.840.1.113883.4.1")
    answer = await svc.discover_patient(feed_query("Jane", "Doe", THEIR_ID, ssn))
    assert answer.response_code is QueryResponseCode.NO_MATCH  # two Jane Does: no guess
    assert await svc._index.resolve_correlation(THEIR_ID) is None
    svc, _ = await service(("P1", "Doe^Jane", "F"))
    await svc.discover_patient(feed_query("Jane", "Doe", THEIR_ID, ssn))
    assert await svc._index.resolve_correlation(ssn) is None
    assert await svc._index.resolve_correlation(THEIR_ID) is not None


async def test_answer_carries_the_index_demographics_and_our_id_first() -> None:
    svc, _ = await service(("P1", "Doe^Jane", "F"))
    index = svc._index
    entry = await index.get_mpi_patient(PatientId(id="P1", assigning_authority="1.2.3.4"))
    await index.upsert_mpi_patient(dataclasses.replace(
        entry, source=MpiSource.ADT, demographics=dataclasses.replace(
            entry.demographics, addresses=(Address(street_lines=("1 Elm St",), city="Troy",
                                                   state="NY", postal_code="12180"),))))
    answer = await svc.discover_patient(query("Jane", "Doe", "F"))
    demo = answer.matches[0].demographics
    assert demo.ids == (PatientId(id="P1", assigning_authority="1.2.3.4"),)
    assert demo.addresses[0].city == "Troy" and demo.names[0].family == "Doe"


async def test_a_correlated_id_counts_as_agreement_in_later_queries() -> None:
    svc, _ = await service(("P1", "Doe^Jane", "F"), ("P2", "Doe^Mary", "F"))
    # Birth date and surname only: two candidates, no decision without more.
    sparse = feed_query("", "Doe", THEIR_ID)
    assert (await svc.discover_patient(sparse)).response_code is QueryResponseCode.NO_MATCH
    await svc.discover_patient(feed_query("Jane", "Doe", THEIR_ID))  # correlates P1
    again = await svc.discover_patient(sparse)
    assert again.response_code is QueryResponseCode.OK
    assert again.matches[0].demographics.ids[0].id == "P1"
