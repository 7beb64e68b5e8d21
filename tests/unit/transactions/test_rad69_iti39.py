"""RAD-69/75 and ITI-39 requests parse (incl. real clients' quirks); responses are schema-valid."""

from __future__ import annotations

import pytest
from lxml import etree

from imx.errors import MalformedMessageError, MissingParameterError
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import (
    DocumentAnswer,
    DocumentRequest,
    ImagingRetrieveRequest,
    SeriesRequest,
    StudyRequest,
)
from imx.transactions import find_transaction
from imx.transactions.iti38_xca_query.codes import ResponseStatus
from imx.transactions.iti39_xca_retrieve.request import build_request as build_iti39
from imx.transactions.iti39_xca_retrieve.request import parse_request as parse_iti39
from imx.transactions.iti39_xca_retrieve.response import build_response
from imx.transactions.rad69_retrieve_imaging.request import build_request, parse_request

HOME = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"
REPO = "1.3.6.1.4.1.21367.2026.1.1.1"

# What dicomtrolley's RAD-69 client sends: DocumentRequest in the XDS.b namespace,
# a hard-coded RepositoryUniqueId and no HomeCommunityId (shared/peers/README.md).
DICOMTROLLEY_BODY = b"""<ns0:RetrieveImagingDocumentSetRequest xmlns:ns0="urn:ihe:rad:xdsi-b:2009"
    xmlns:ns1="urn:ihe:iti:xds-b:2007">
  <ns0:StudyRequest studyInstanceUID="1.2.3.4">
    <ns0:SeriesRequest seriesInstanceUID="1.2.3.4.5">
      <ns1:DocumentRequest>
        <ns1:RepositoryUniqueId>1.3.6.1.4.1000</ns1:RepositoryUniqueId>
        <ns1:DocumentUniqueId>1.2.3.4.5.6</ns1:DocumentUniqueId>
      </ns1:DocumentRequest>
    </ns0:SeriesRequest>
  </ns0:StudyRequest>
  <ns0:TransferSyntaxUIDList>
    <ns0:TransferSyntaxUID>1.2.840.10008.1.2.1</ns0:TransferSyntaxUID>
  </ns0:TransferSyntaxUIDList>
</ns0:RetrieveImagingDocumentSetRequest>"""


def _request() -> ImagingRetrieveRequest:
    docs = tuple(DocumentRequest(home_community_id=HOME, repository_unique_id=REPO,
                                 document_unique_id=f"1.2.3.4.5.{i}") for i in range(1, 4))
    return ImagingRetrieveRequest(
        studies=(StudyRequest(study_instance_uid="1.2.3.4",
                              series=(SeriesRequest(series_instance_uid="1.2.3.4.5", documents=docs),)),),
        transfer_syntax_uids=("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"))


def test_build_parse_round_trip_is_schema_valid(validate) -> None:
    el = build_request(_request())
    validate(el, "xdsi-b")
    assert parse_request(etree.fromstring(etree.tostring(el))) == _request()


def test_dicomtrolley_namespace_quirk_is_accepted() -> None:
    req = parse_request(etree.fromstring(DICOMTROLLEY_BODY))
    (_study, _series, doc), = req.documents()
    assert doc.document_unique_id == "1.2.3.4.5.6"
    assert doc.repository_unique_id == "1.3.6.1.4.1000"
    assert doc.home_community_id is None


@pytest.mark.parametrize("mutation, error", [
    (lambda b: b.replace(b' studyInstanceUID="1.2.3.4"', b""), MissingParameterError),
    (lambda b: b.replace(b'studyInstanceUID="1.2.3.4"', b'studyInstanceUID="1.2.03.4"'), MalformedMessageError),
    (lambda b: b.replace(b'seriesInstanceUID="1.2.3.4.5"', b'seriesInstanceUID="../../etc"'), MalformedMessageError),
    (lambda b: b.replace(b"<ns1:DocumentUniqueId>1.2.3.4.5.6</ns1:DocumentUniqueId>", b""), MissingParameterError),
    (lambda b: b.replace(b"<ns0:TransferSyntaxUID>1.2.840.10008.1.2.1</ns0:TransferSyntaxUID>", b""),
     MissingParameterError),
    (lambda b: b.replace(b"RetrieveImagingDocumentSetRequest", b"RetrieveSomethingElse"), MalformedMessageError),
])
def test_bad_requests_get_the_right_error(mutation, error) -> None:
    with pytest.raises(error):
        parse_request(etree.fromstring(mutation(DICOMTROLLEY_BODY)))


def test_iti39_request_round_trip(validate) -> None:
    docs = [DocumentRequest(home_community_id=HOME, repository_unique_id=REPO, document_unique_id="1.2.9")]
    el = build_iti39(docs)
    validate(el, "xds-b")
    assert parse_iti39(el) == docs
    with pytest.raises(MissingParameterError):
        parse_iti39(etree.fromstring(b"<RetrieveDocumentSetRequest xmlns='urn:ihe:iti:xds-b:2007'/>"))


def _answer(i: int) -> DocumentAnswer:
    return DocumentAnswer(home_community_id=HOME, repository_unique_id=REPO,
                          document_unique_id=f"1.2.3.4.5.{i}", mime_type="application/dicom",
                          content_id=f"doc{i}@imx")


def test_response_statuses_and_schema(validate) -> None:
    ok = build_response(answers=[_answer(1), _answer(2)], errors=[], home_community_id=HOME)
    validate(ok, "xds-b")
    rr = ok.find("{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}RegistryResponse")
    assert rr.get("status") == ResponseStatus.SUCCESS
    includes = [i.get("href") for i in ok.iter("{http://www.w3.org/2004/08/xop/include}Include")]
    assert includes == ["cid:doc1@imx", "cid:doc2@imx"]
    err = RegistryErrorItem(error_code="XDSDocumentUniqueIdError", code_context="unknown",
                            location="1.2.3.4.5.3")
    partial = build_response(answers=[_answer(1)], errors=[err], home_community_id=HOME)
    validate(partial, "xds-b")
    assert partial.find(".//{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}RegistryResponse").get(
        "status") == ResponseStatus.PARTIAL_SUCCESS
    assert partial.find(".//{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}RegistryError").get(
        "location") == "1.2.3.4.5.3"
    failure = build_response(answers=[], errors=[err], home_community_id=HOME)
    validate(failure, "xds-b")
    assert failure.find(".//{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}RegistryResponse").get(
        "status") == ResponseStatus.FAILURE


def test_actions_route_with_trailing_space_and_not_unknown() -> None:
    t = find_transaction("urn:ihe:rad:2009:RetrieveImagingDocumentSet ")
    assert t is not None and t.id == "RAD-69"
    assert find_transaction("urn:ihe:iti:2007:CrossGatewayQuery").id == "ITI-38"  # type: ignore[union-attr]
    assert find_transaction("urn:example:not-a-transaction") is None
