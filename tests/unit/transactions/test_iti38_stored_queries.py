"""ITI-38 beyond FindDocuments: each stored query's parameters parse or give the standard error,
and SubmissionSets / Associations are answered schema-valid, LeafClass or ObjectRef."""

from __future__ import annotations

import datetime as dt

import pytest

from imx.errors import MissingParameterError, ParameterNumberError
from imx.model.document_query import CodeMatch, EntryFilter, ObjectLookupQuery, TimeRange
from imx.model.identifiers import PatientId
from imx.services.submission_sets import has_member, submission_set_for
from imx.transactions.iti38_xca_query.codes import (
    SUBMISSION_SET_NODE,
    ResponseStatus,
    StoredQuery,
    SubmissionSetScheme,
)
from imx.transactions.iti38_xca_query.request import parse_request
from imx.transactions.iti38_xca_query.response import build_response
from imx.wire.ebrim import NS_RIM
from tests.unit.transactions.test_iti38 import HOME, _request, entry

RIM = f"{{{NS_RIM}}}"
APPROVED = "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')"
PID = "'PAT1^^^&1.2.3.4&ISO'"
RPLC = "('urn:ihe:iti:2007:AssociationType:RPLC')"
Q = StoredQuery


def test_find_submission_sets_parses_every_parameter() -> None:
    q = parse_request(_request(Q.FIND_SUBMISSION_SETS.value, [
        ("$XDSSubmissionSetPatientId", [PID]),
        ("$XDSSubmissionSetStatus", [APPROVED]),
        ("$XDSSubmissionSetSourceId", ["('1.3.6.1.4.1.21367.2026.1.1.1','1.9')"]),
        ("$XDSSubmissionSetSubmissionTimeFrom", ["20260101"]),
        ("$XDSSubmissionSetSubmissionTimeTo", ["202602"]),
        ("$XDSSubmissionSetAuthorPerson", ["'%Reader%'"]),
        ("$XDSSubmissionSetContentType", ["('18748-4^^2.16.840.1.113883.6.1')"]),
    ])).find_submission_sets
    assert q is not None
    assert q.patient_id == PatientId(id="PAT1", assigning_authority="1.2.3.4")
    assert q.statuses == ("urn:oasis:names:tc:ebxml-regrep:StatusType:Approved",)
    assert q.source_ids == ("1.3.6.1.4.1.21367.2026.1.1.1", "1.9")
    assert q.submission_time == TimeRange(start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                                          end=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert q.author_persons == ("%Reader%",)
    assert q.content_types == (CodeMatch(code="18748-4", scheme="2.16.840.1.113883.6.1"),)


def test_get_all_and_contents_filters_parse() -> None:
    q = parse_request(_request(Q.GET_ALL.value, [
        ("$patientId", [PID]), ("$XDSDocumentEntryStatus", [APPROVED]),
        ("$XDSSubmissionSetStatus", [APPROVED]), ("$XDSFolderStatus", [APPROVED]),
        ("$XDSDocumentEntryFormatCode", ["('urn:ihe:rad:PDF^^1.3.6.1.4.1.19376.1.2.3')"]),
        ("$XDSDocumentEntryConfidentialityCode", ["('N^^2.16.840.1.113883.5.25')"]),
    ])).get_all
    assert q is not None and q.patient_id.id == "PAT1"
    assert q.entry_filter == EntryFilter(
        format_codes=(CodeMatch(code="urn:ihe:rad:PDF", scheme="1.3.6.1.4.1.19376.1.2.3"),),
        confidentiality_codes=((CodeMatch(code="N", scheme="2.16.840.1.113883.5.25"),),))
    contents = parse_request(_request(Q.GET_SUBMISSION_SET_AND_CONTENTS.value, [
        ("$XDSSubmissionSetUniqueId", ["'2.25.1234'"])])).lookup
    assert contents == ObjectLookupQuery(unique_ids=("2.25.1234",))
    related = parse_request(_request(Q.GET_RELATED_DOCUMENTS.value, [
        ("$XDSDocumentEntryEntryUUID", ["'urn:uuid:1'"]),
        ("$AssociationTypes", [RPLC])])).lookup
    assert related == ObjectLookupQuery(
        entry_uuids=("urn:uuid:1",), association_types=("urn:ihe:iti:2007:AssociationType:RPLC",))


MISSING = [
    (Q.FIND_SUBMISSION_SETS, [("$XDSSubmissionSetStatus", [APPROVED])]),
    (Q.FIND_SUBMISSION_SETS, [("$XDSSubmissionSetPatientId", [PID])]),
    (Q.FIND_FOLDERS, [("$XDSFolderPatientId", [PID])]),
    (Q.GET_ALL, [("$XDSDocumentEntryStatus", [APPROVED]), ("$XDSSubmissionSetStatus", [APPROVED]),
                 ("$XDSFolderStatus", [APPROVED])]),
    (Q.GET_ALL, [("$patientId", [PID]), ("$XDSDocumentEntryStatus", [APPROVED]),
                 ("$XDSSubmissionSetStatus", [APPROVED])]),
    (Q.GET_SUBMISSION_SETS, []),
    (Q.GET_ASSOCIATIONS, [("$XDSDocumentEntryEntryUUID", ["('urn:uuid:1')"])]),
    (Q.GET_DOCUMENTS_AND_ASSOCIATIONS, []),
    (Q.GET_SUBMISSION_SET_AND_CONTENTS, []),
    (Q.GET_FOLDERS, []),
    (Q.GET_FOLDER_AND_CONTENTS, []),
    (Q.GET_FOLDERS_FOR_DOCUMENT, []),
    (Q.GET_RELATED_DOCUMENTS, [("$XDSDocumentEntryUniqueId", ["'1.2.3'"])]),
]


@pytest.mark.parametrize(("stored", "slots"), MISSING, ids=[f"{q.name}-{i}" for i, (q, _) in
                                                             enumerate(MISSING)])
def test_missing_required_parameter(stored: StoredQuery,
                                    slots: list[tuple[str, list[str]]]) -> None:
    with pytest.raises(MissingParameterError):  # XDSStoredQueryMissingParam
        parse_request(_request(stored.value, slots))


PARAM_NUMBER = [
    (Q.GET_FOLDERS, [("$XDSFolderEntryUUID", ["('urn:uuid:1')"]),
                     ("$XDSFolderUniqueId", ["('1.2.3')"])]),
    (Q.GET_SUBMISSION_SET_AND_CONTENTS, [("$XDSSubmissionSetEntryUUID", ["'urn:uuid:1'"]),
                                         ("$XDSSubmissionSetUniqueId", ["'1.2'"])]),
    (Q.GET_SUBMISSION_SET_AND_CONTENTS, [("$XDSSubmissionSetUniqueId", ["('1.2','1.3')"])]),
    (Q.GET_RELATED_DOCUMENTS, [("$XDSDocumentEntryUniqueId", ["('1.2','1.3')"]),
                               ("$AssociationTypes", [RPLC])]),
    (Q.FIND_SUBMISSION_SETS, [("$XDSSubmissionSetPatientId", [PID, "'P2^^^&1.2.3.4&ISO'"]),
                              ("$XDSSubmissionSetStatus", [APPROVED])]),
]


@pytest.mark.parametrize(("stored", "slots"), PARAM_NUMBER, ids=[f"{q.name}-{i}" for i, (q, _) in
                                                                  enumerate(PARAM_NUMBER)])
def test_exclusive_or_single_parameters(stored: StoredQuery,
                                        slots: list[tuple[str, list[str]]]) -> None:
    with pytest.raises(ParameterNumberError):  # XDSStoredQueryParamNumber
        parse_request(_request(stored.value, slots))


def _objects() -> tuple[object, ...]:
    doc = entry(author_person="^Reader^Rita")
    ss = submission_set_for(doc)
    return doc, ss, has_member(ss, doc.entry_uuid)


def test_leafclass_submission_set_and_association_are_schema_valid(validate) -> None:
    doc, ss, link = _objects()
    el = build_response(entries=[doc], submission_sets=[ss], associations=[link],  # type: ignore[list-item]
                        return_type="LeafClass", home_community_id=HOME)
    validate(el, "query")
    assert el.get("status") == ResponseStatus.SUCCESS
    objects = el.find(f"{RIM}RegistryObjectList")
    assert [c.tag.removeprefix(RIM) for c in objects] == [
        "RegistryPackage", "ExtrinsicObject", "Association"]
    package = objects[0]
    assert package.get("home") == HOME and package.get("id") == ss.entry_uuid  # type: ignore[attr-defined]
    assert package.get("status").endswith(":Approved")
    nodes = [c.get("classificationNode") for c in package.iter(f"{RIM}Classification")]
    assert SUBMISSION_SET_NODE in nodes
    schemes = {c.get("classificationScheme") for c in package.iter(f"{RIM}Classification")}
    assert {SubmissionSetScheme.AUTHOR, SubmissionSetScheme.CONTENT_TYPE_CODE} <= schemes
    ids = {x.get("identificationScheme"): x.get("value")
           for x in package.iter(f"{RIM}ExternalIdentifier")}
    assert ids == {SubmissionSetScheme.UNIQUE_ID: ss.unique_id,  # type: ignore[attr-defined]
                   SubmissionSetScheme.SOURCE_ID: doc.repository_unique_id,  # type: ignore[attr-defined]
                   SubmissionSetScheme.PATIENT_ID: "PAT1^^^&1.2.3.4&ISO"}
    times = [s for s in package.iter(f"{RIM}Slot") if s.get("name") == "submissionTime"]
    assert times[0].findtext(f".//{RIM}Value") == "20240301100000"
    assoc = objects[2]
    assert (assoc.get("sourceObject"), assoc.get("targetObject")) == (
        ss.entry_uuid, doc.entry_uuid)  # type: ignore[attr-defined]
    assert assoc.get("associationType").endswith("AssociationType:HasMember")
    assert assoc.get("home") == HOME
    assert assoc.findtext(f".//{RIM}Value") == "Original"


def test_objectref_answer_names_every_object_with_home(validate) -> None:
    doc, ss, link = _objects()
    el = build_response(entries=[doc], submission_sets=[ss], associations=[link],  # type: ignore[list-item]
                        return_type="ObjectRef", home_community_id=HOME)
    validate(el, "query")
    refs = el.findall(f".//{RIM}ObjectRef")
    assert [r.get("id") for r in refs] == [ss.entry_uuid, doc.entry_uuid, link.entry_uuid]  # type: ignore[attr-defined]
    assert {r.get("home") for r in refs} == {HOME}
    assert el.find(f".//{RIM}RegistryPackage") is None
