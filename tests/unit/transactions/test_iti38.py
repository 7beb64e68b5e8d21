"""ITI-38: requests parse to the right query, errors are the standard ones, responses are schema-valid."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from imx.errors import (
    MalformedMessageError,
    MissingParameterError,
    ParameterNumberError,
    UnsupportedError,
)
from imx.model.document import Code, DocumentEntry, DocumentKind
from imx.model.document_query import CodeMatch, DocumentQuery, FindDocumentsQuery, GetDocumentsQuery
from imx.model.identifiers import PatientId
from imx.model.registry import RegistryErrorItem
from imx.transactions.iti38_xca_query.codes import ResponseStatus, StoredQuery
from imx.transactions.iti38_xca_query.request import build_request, parse_request
from imx.transactions.iti38_xca_query.response import build_response
from imx.wire.ebrim import NS_QUERY, NS_RIM, NS_RS

HOME = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"
FIND = StoredQuery.FIND_DOCUMENTS.value


def _request(query_id: str, slots: list[tuple[str, list[str]]], return_type: str = "LeafClass",
             home: str | None = HOME) -> etree._Element:
    root = etree.Element(f"{{{NS_QUERY}}}AdhocQueryRequest", nsmap={"query": NS_QUERY, "rim": NS_RIM})
    etree.SubElement(root, f"{{{NS_QUERY}}}ResponseOption", returnType=return_type,
                     returnComposedObjects="true")
    attrs = {"id": query_id}
    if home:
        attrs["home"] = home
    adhoc = etree.SubElement(root, f"{{{NS_RIM}}}AdhocQuery", **attrs)
    for name, values in slots:
        s = etree.SubElement(adhoc, f"{{{NS_RIM}}}Slot", name=name)
        vl = etree.SubElement(s, f"{{{NS_RIM}}}ValueList")
        for v in values:
            etree.SubElement(vl, f"{{{NS_RIM}}}Value").text = v
    return root


BASE_SLOTS = [
    ("$XDSDocumentEntryPatientId", ["'PAT1^^^&1.2.3.4&ISO'"]),
    ("$XDSDocumentEntryStatus", ["('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')"]),
]


def test_find_documents_with_every_filter(validate) -> None:
    req = _request(FIND, [
        *BASE_SLOTS,
        ("$XDSDocumentEntryClassCode", ["('IMAGES^^1.3.6.1.4.1.19376.1.2.6.1')"]),
        ("$XDSDocumentEntryFormatCode",
         ["('1.2.840.10008.5.1.4.1.1.88.59^^1.2.840.10008.2.6.1','urn:ihe:rad:PDF^^1.3.6.1.4.1.19376.1.2.3')"]),
        ("$XDSDocumentEntryEventCodeList", ["('CT^^1.2.840.10008.2.16.4','MR^^1.2.840.10008.2.16.4')"]),
        ("$XDSDocumentEntryEventCodeList", ["('T-D3000^^SRT')"]),
        ("$XDSDocumentEntryServiceStartTimeFrom", ["20240101"]),
        ("$XDSDocumentEntryServiceStartTimeTo", ["202402"]),
        ("$XDSDocumentEntryCreationTimeFrom", ["20230101120000"]),
    ])
    validate(req, "query")
    q = parse_request(req)
    assert q.return_type == "LeafClass" and q.home_community_id == HOME
    f = q.find
    assert f is not None
    assert f.patient_id == PatientId(id="PAT1", assigning_authority="1.2.3.4")
    assert f.class_codes == (CodeMatch(code="IMAGES", scheme="1.3.6.1.4.1.19376.1.2.6.1"),)
    assert len(f.format_codes) == 2
    assert len(f.event_codes) == 2 and len(f.event_codes[0]) == 2  # AND of ORs
    assert f.service_start_time.start == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert f.service_start_time.end == dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    assert f.creation_time.start == dt.datetime(2023, 1, 1, 12, tzinfo=dt.UTC)


def test_missing_patient_id_is_missing_param() -> None:
    with pytest.raises(MissingParameterError):
        parse_request(_request(FIND, [BASE_SLOTS[1]]))


def test_missing_status_is_missing_param() -> None:
    with pytest.raises(MissingParameterError):
        parse_request(_request(FIND, [BASE_SLOTS[0]]))


def test_patient_id_without_oid_authority_is_malformed() -> None:
    with pytest.raises(MalformedMessageError):
        parse_request(_request(FIND, [("$XDSDocumentEntryPatientId", ["'PAT1'"]), BASE_SLOTS[1]]))


def test_unknown_stored_query() -> None:
    with pytest.raises(UnsupportedError):
        parse_request(_request("urn:uuid:00000000-0000-0000-0000-000000000000", BASE_SLOTS))


def test_get_documents_by_unique_id_and_exclusivity() -> None:
    q = parse_request(_request(StoredQuery.GET_DOCUMENTS.value,
                               [("$XDSDocumentEntryUniqueId", ["('1.2.3','1.2.4')"])]))
    assert q.get == GetDocumentsQuery(unique_ids=("1.2.3", "1.2.4"))
    with pytest.raises(ParameterNumberError):  # XDSStoredQueryParamNumber
        parse_request(_request(StoredQuery.GET_DOCUMENTS.value, [
            ("$XDSDocumentEntryUniqueId", ["('1.2.3')"]),
            ("$XDSDocumentEntryEntryUUID", ["('urn:uuid:1')"])]))
    with pytest.raises(MissingParameterError):
        parse_request(_request(StoredQuery.GET_DOCUMENTS.value, []))


def test_build_request_round_trips(validate) -> None:
    q = DocumentQuery(
        stored_query_id=FIND, return_type="LeafClass", home_community_id=HOME,
        find=FindDocumentsQuery(
            patient_id=PatientId(id="X'1", assigning_authority="1.2.3"),
            statuses=("urn:oasis:names:tc:ebxml-regrep:StatusType:Approved",),
            format_codes=(CodeMatch(code="1.2.840.10008.5.1.4.1.1.88.59", scheme="1.2.840.10008.2.6.1"),),
            event_codes=((CodeMatch(code="CT", scheme="1.2.840.10008.2.16.4"),),),
        ),
    )
    el = build_request(q)
    validate(el, "query")
    back = parse_request(etree.fromstring(etree.tostring(el)))
    assert back.find is not None and back.find.patient_id.id == "X'1"
    assert back.find.format_codes == q.find.format_codes  # type: ignore[union-attr]
    assert back.find.event_codes == q.find.event_codes  # type: ignore[union-attr]


def entry(**kw: object) -> DocumentEntry:
    base = dict(
        entry_uuid="urn:uuid:5f1b9a6e-0c5e-4c1e-9a51-2f8a8d0b7c11",
        document_unique_id="1.2.826.0.1.3680043.10.1.99", kind=DocumentKind.MANIFEST,
        patient_id=PatientId(id="PAT1", assigning_authority="1.2.3.4"),
        source_patient_id=PatientId(id="PAT1", assigning_authority="1.2.3.4"),
        source_patient_info=("PID-3|PAT1^^^&1.2.3.4&ISO", "PID-5|Doe^Jane", "PID-7|19700101", "PID-8|F"),
        repository_unique_id="1.3.6.1.4.1.21367.2026.1.1.1", mime_type="application/dicom",
        title="CT Chest", class_code=Code(code="IMAGES", scheme="1.3.6.1.4.1.19376.1.2.6.1", display="Images"),
        type_code=Code(code="18748-4", scheme="2.16.840.1.113883.6.1", display="Diagnostic imaging study"),
        format_code=Code(code="1.2.840.10008.5.1.4.1.1.88.59", scheme="1.2.840.10008.2.6.1", display="KOS"),
        confidentiality_code=Code(code="N", scheme="2.16.840.1.113883.5.25", display="Normal"),
        healthcare_facility_type_code=Code(code="22232009", scheme="2.16.840.1.113883.6.96", display="Hospital"),
        practice_setting_code=Code(code="394914008", scheme="2.16.840.1.113883.6.96", display="Radiology"),
        event_codes=(Code(code="CT", scheme="1.2.840.10008.2.16.4", display="Computed Tomography"),),
        language_code="en-US", creation_time=dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC),
        service_start_time=dt.datetime(2024, 2, 28, 9, 30, tzinfo=dt.UTC), service_stop_time=None,
        size_bytes=1234, hash_sha1="a" * 40, study_instance_uid="1.2.3.4.5", accession_number="ACC1",
        author_institution="imx Imaging Centre^^^^^^^^^1.3.6.1.4.1.21367.2026.1.1",
    )
    base.update(kw)
    return DocumentEntry(**base)  # type: ignore[arg-type]


def test_leafclass_response_is_schema_valid_and_complete(validate) -> None:
    el = build_response(entries=[entry()], return_type="LeafClass", home_community_id=HOME)
    validate(el, "query")
    assert el.get("status") == ResponseStatus.SUCCESS
    eo = el.find(f".//{{{NS_RIM}}}ExtrinsicObject")
    assert eo is not None and eo.get("home") == HOME and eo.get("mimeType") == "application/dicom"
    slots = {s.get("name"): [v.text for v in s.iter(f"{{{NS_RIM}}}Value")] for s in eo.iter(f"{{{NS_RIM}}}Slot")}
    for required in ("creationTime", "languageCode", "sourcePatientId", "hash", "size",
                     "repositoryUniqueId", "urn:ihe:iti:xds:2013:referenceIdList", "serviceStartTime"):
        assert required in slots, required
    assert slots["urn:ihe:iti:xds:2013:referenceIdList"] == [
        "1.2.3.4.5^^^^urn:ihe:iti:xds:2016:studyInstanceUID", "ACC1^^^^urn:ihe:iti:xds:2013:accession"]
    schemes = {c.get("classificationScheme") for c in eo.iter(f"{{{NS_RIM}}}Classification")}
    assert len(schemes) == 8  # author, class, conf, event, format, facility, practice, type
    ids = {x.get("value") for x in eo.iter(f"{{{NS_RIM}}}ExternalIdentifier")}
    assert ids == {"PAT1^^^&1.2.3.4&ISO", "1.2.826.0.1.3680043.10.1.99"}


def test_objectref_and_partial_success(validate) -> None:
    err = RegistryErrorItem(error_code="XDSRepositoryError", code_context="one source failed")
    el = build_response(entries=[entry()], return_type="ObjectRef", home_community_id=HOME, errors=[err])
    validate(el, "query")
    assert el.get("status") == ResponseStatus.PARTIAL_SUCCESS
    ref = el.find(f".//{{{NS_RIM}}}ObjectRef")
    assert ref is not None and ref.get("home") == HOME
    e = el.find(f".//{{{NS_RS}}}RegistryError")
    assert e is not None and e.get("location") == HOME


def test_failure_and_empty_success(validate) -> None:
    err = RegistryErrorItem(error_code="XDSUnknownPatientId", code_context="unknown patient")
    failure = build_response(entries=[], return_type="LeafClass", home_community_id=HOME, errors=[err])
    validate(failure, "query")
    assert failure.get("status") == ResponseStatus.FAILURE
    empty = build_response(entries=[], return_type="LeafClass", home_community_id=HOME)
    validate(empty, "query")
    assert empty.get("status") == ResponseStatus.SUCCESS
