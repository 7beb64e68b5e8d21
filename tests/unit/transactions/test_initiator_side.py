"""The initiating gateway's half of each transaction: what we send is schema-valid and what a
responder sends back (built here by our own responder code) reads back to the same facts."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from lxml import etree

from imx.errors import MalformedMessageError
from imx.model.identifiers import PatientId
from imx.model.patient_discovery import (
    Address,
    DetectedIssue,
    InstanceIdentifier,
    PatientDemographics,
    PatientDiscoveryAnswer,
    PatientMatch,
    PersonName,
    QueryResponseCode,
)
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentAnswer
from imx.transactions.iti38_xca_query import response as iti38_response
from imx.transactions.iti39_xca_retrieve import response as retrieve_response
from imx.transactions.iti55_xcpd import request as iti55_request
from imx.transactions.iti55_xcpd import response as iti55_response
from tests.unit.transactions.test_iti38 import entry

HOME_A = "1.3.6.1.4.1.21367.2026.1.1"
HOME_B = "1.3.6.1.4.1.21367.2026.2.1"
JANE = PatientDemographics(
    names=(PersonName(given=("Jane", "Q"), family="Doe"),), gender="F",
    birth_date=dt.date(1970, 1, 2),
    addresses=(Address(street_lines=("1 Main St",), city="Boston", state="MA", postal_code="02110"),),
    telecoms=("tel:+1-617-555-0100",),
    ids=(PatientId(id="A123", assigning_authority="1.2.3.4.99"),))


def _request() -> etree._Element:
    return iti55_request.build_request(
        message_id=InstanceIdentifier(root=HOME_A, extension="m1"),
        created_at=dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC), sender_device_id=HOME_A,
        sender_home_community_id=f"urn:oid:{HOME_A}", receiver_device_id=f"urn:oid:{HOME_B}",
        receiver_endpoint="https://b.example/xcpd", query_id=InstanceIdentifier(root=HOME_A, extension="q1"),
        demographics=JANE, organization_name="Community A")


def test_xcpd_request_is_schema_valid_and_our_responder_reads_it_back(validate) -> None:
    el = _request()
    validate(el, "prpa-201305")
    parsed = iti55_request.parse_request(el)
    assert parsed.sender_home_community_id == HOME_A  # bare OID, urn:oid: stripped
    assert parsed.demographics == JANE
    assert parsed.query_id == InstanceIdentifier(root=HOME_A, extension="q1")


def test_unknown_gender_is_omitted_not_sent_as_un(validate) -> None:
    el = iti55_request.build_request(
        message_id=InstanceIdentifier(root=HOME_A, extension="m1"), created_at=dt.datetime.now(dt.UTC),
        sender_device_id=HOME_A, sender_home_community_id=HOME_A, receiver_device_id=HOME_B,
        query_id=InstanceIdentifier(root=HOME_A, extension="q"),
        demographics=PatientDemographics(names=JANE.names, birth_date=JANE.birth_date))
    validate(el, "prpa-201305")
    assert el.find(".//{urn:hl7-org:v3}livingSubjectAdministrativeGender") is None


def _answer_xml(answer: PatientDiscoveryAnswer) -> etree._Element:
    parsed = iti55_request.parse_request(_request())
    return iti55_response.build_response(
        request=parsed, answer=answer,
        responder=iti55_response.ResponderIdentity(home_community_id=HOME_B, organization_name="B",
                                                   device_id=HOME_B),
        message_id=InstanceIdentifier(root=HOME_B, extension="r1"),
        created_at=dt.datetime.now(dt.UTC))


def test_xcpd_match_reads_back_with_ids_demographics_score_and_custodian() -> None:
    theirs = PatientDemographics(names=(PersonName(given=("Janet",), family="Doe"),), gender="F",
                                 birth_date=dt.date(1970, 1, 2),
                                 ids=(PatientId(id="B-77", assigning_authority="2.16.840.1.999"),))
    el = _answer_xml(PatientDiscoveryAnswer(response_code=QueryResponseCode.OK,
                                            matches=(PatientMatch(demographics=theirs, score=93),)))
    out = iti55_response.parse_response(el)
    assert out.acknowledgement == "AA"
    assert out.answer.response_code is QueryResponseCode.OK
    assert out.answer.matches[0].demographics.ids == theirs.ids
    assert out.answer.matches[0].demographics.names == theirs.names
    assert out.answer.matches[0].score == 93
    assert out.custodians == (HOME_B,)
    assert out.target_message_id == InstanceIdentifier(root=HOME_A, extension="m1")


def test_xcpd_no_match_with_detected_issue_and_application_error() -> None:
    nf = iti55_response.parse_response(_answer_xml(PatientDiscoveryAnswer(
        response_code=QueryResponseCode.NO_MATCH,
        detected_issues=(DetectedIssue.ADDRESS_REQUESTED,))))
    assert nf.answer.response_code is QueryResponseCode.NO_MATCH and not nf.answer.matches
    assert nf.answer.detected_issues == (DetectedIssue.ADDRESS_REQUESTED,)
    ae = iti55_response.parse_response(_answer_xml(PatientDiscoveryAnswer(
        response_code=QueryResponseCode.APPLICATION_ERROR, error_text="busy")))
    assert ae.acknowledgement == "AE" and ae.answer.response_code is QueryResponseCode.APPLICATION_ERROR
    assert ae.answer.error_text == "busy"


def test_xcpd_connect_typo_code_is_understood() -> None:
    el = _answer_xml(PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=(DetectedIssue.ADDRESS_REQUESTED,)))
    code = el.find(".//{urn:hl7-org:v3}acknowledgementDetail/{urn:hl7-org:v3}code")
    code.set("code", "PatientAdressRequested")  # CONNECT's spelling (SPEC-NOTES §2.4)
    assert iti55_response.parse_response(el).answer.detected_issues == (DetectedIssue.ADDRESS_REQUESTED,)


def test_xcpd_response_of_wrong_kind_is_malformed() -> None:
    with pytest.raises(MalformedMessageError):
        iti55_response.parse_response(_request())


def test_iti38_leafclass_reads_back_to_retrievable_documents() -> None:
    home = f"urn:oid:{HOME_B}"
    err = RegistryErrorItem(error_code="XDSRegistryError", code_context="one source down",
                            location=home, is_warning=True)
    el = iti38_response.build_response(entries=[entry()], return_type="LeafClass",
                                       home_community_id=home, errors=[err])
    out = iti38_response.parse_response(el)
    doc, = out.documents
    assert doc.home_community_id == home
    assert doc.document_unique_id == "1.2.826.0.1.3680043.10.1.99"
    assert doc.repository_unique_id == "1.3.6.1.4.1.21367.2026.1.1.1"
    assert doc.is_manifest and doc.study_instance_uids == ("1.2.3.4.5",)
    assert doc.type_code is not None and doc.type_code.code == "18748-4"
    assert doc.author_institution == "imx Imaging Centre"
    assert doc.creation_time == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert out.errors == (err,)


def test_iti38_object_refs_and_unretrievable_entries_are_not_documents() -> None:
    el = iti38_response.build_response(entries=[entry()], return_type="ObjectRef",
                                       home_community_id=HOME_B)
    assert iti38_response.parse_response(el).documents == ()
    el = iti38_response.build_response(entries=[entry()], return_type="LeafClass",
                                       home_community_id=HOME_B)
    for s in el.iter("{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}Slot"):
        if s.get("name") == "repositoryUniqueId":
            s.getparent().remove(s)
    out = iti38_response.parse_response(el)
    assert out.documents == () and out.errors[0].is_warning


def test_retrieve_response_reads_includes_inline_documents_and_errors() -> None:
    answer = DocumentAnswer(home_community_id=HOME_B, repository_unique_id="1.2.3",
                            document_unique_id="1.2.3.4", mime_type="application/dicom",
                            content_id="doc1@imx")
    err = RegistryErrorItem(error_code="XDSDocumentUniqueIdError", code_context="unknown",
                            location="1.2.3.5")
    el = retrieve_response.build_response(answers=[answer], errors=[err], home_community_id=HOME_B)
    out = retrieve_response.parse_response(el)
    assert out.status.endswith("PartialSuccess")
    assert out.documents[0].content_id == "doc1@imx" and out.documents[0].inline is None
    assert out.errors[0].error_code == "XDSDocumentUniqueIdError"
    doc = el.find(".//{urn:ihe:iti:xds-b:2007}Document")
    doc.remove(doc[0])
    doc.text = base64.b64encode(b"report bytes").decode()
    assert retrieve_response.parse_response(el).documents[0].inline == b"report bytes"
    doc.text = "not base64 !!"
    with pytest.raises(MalformedMessageError):
        retrieve_response.parse_response(el)
