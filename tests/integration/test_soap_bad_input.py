"""Hostile and broken SOAP requests: each gets the standard fault or error, is audited, and the
node keeps serving."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from lxml import etree

from tests.support.server import NodeThread, running_node

SOAP = "http://www.w3.org/2003/05/soap-envelope"
CT = "application/soap+xml; charset=UTF-8"
RAD69 = "urn:ihe:rad:2009:RetrieveImagingDocumentSet"
ITI38 = "urn:ihe:iti:2007:CrossGatewayQuery"


def envelope(action: str, body: str) -> bytes:
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP}" '
            f'xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>'
            f'<a:Action s:mustUnderstand="1">{action}</a:Action><a:MessageID>urn:uuid:1</a:MessageID>'
            f'</s:Header><s:Body>{body}</s:Body></s:Envelope>').encode()


RAD69_BODY = ('<RetrieveImagingDocumentSetRequest xmlns="urn:ihe:rad:xdsi-b:2009" '
              'xmlns:x="urn:ihe:iti:xds-b:2007"><StudyRequest studyInstanceUID="1.2.3">'
              '<SeriesRequest seriesInstanceUID="1.2.3.4"><x:DocumentRequest>'
              '<x:RepositoryUniqueId>1.2.3</x:RepositoryUniqueId><x:DocumentUniqueId>{doc}'
              '</x:DocumentUniqueId></x:DocumentRequest></SeriesRequest></StudyRequest>'
              '<TransferSyntaxUIDList><TransferSyntaxUID>{ts}</TransferSyntaxUID>'
              '</TransferSyntaxUIDList></RetrieveImagingDocumentSetRequest>')


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with running_node(tmp_path_factory.mktemp("soapbad")) as n:
        yield n


def post(node: NodeThread, data: bytes, path: str = "/soap", ct: str = CT) -> httpx.Response:
    return httpx.post(f"{node.url}{path}", content=data, headers={"Content-Type": ct}, timeout=30)


def fault_code(r: httpx.Response) -> str:
    root = etree.fromstring(r.content)
    return root.find(f".//{{{SOAP}}}Fault/{{{SOAP}}}Code/{{{SOAP}}}Value").text


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol3;</s:Body></s:Envelope>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&xxe;</s:Body></s:Envelope>"""


@pytest.mark.parametrize("data", [b"<not xml", BILLION_LAUGHS, XXE, b""], ids=["malformed", "bomb", "xxe", "empty"])
def test_unparsable_or_hostile_xml_is_a_sender_fault(node: NodeThread, data: bytes) -> None:
    r = post(node, data)
    assert r.status_code == 400 and fault_code(r) == "soap:Sender"
    assert b"root:" not in r.content  # nothing of /etc/passwd


def test_unknown_action(node: NodeThread) -> None:
    r = post(node, envelope("urn:example:nothing", "<x xmlns='urn:x'/>"))
    assert r.status_code == 400 and fault_code(r) == "soap:Sender"
    assert b"ActionNotSupported" in r.content


def test_soap11_is_a_version_mismatch(node: NodeThread) -> None:
    body = (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><x/></e:Body>'
            b"</e:Envelope>")
    r = post(node, body, ct="text/xml")
    assert fault_code(r) == "soap:VersionMismatch"


def test_schema_invalid_body(node: NodeThread) -> None:
    r = post(node, envelope(RAD69, '<RetrieveImagingDocumentSetRequest xmlns="urn:ihe:rad:xdsi-b:2009">'
                                   "<Bogus/></RetrieveImagingDocumentSetRequest>"))
    assert r.status_code == 400 and fault_code(r) == "soap:Sender"


def test_missing_stored_query_parameter_is_a_registry_error(node: NodeThread) -> None:
    body = ('<q:AdhocQueryRequest xmlns:q="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" '
            'xmlns:r="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><q:ResponseOption returnType="LeafClass"/>'
            '<r:AdhocQuery id="urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"/></q:AdhocQueryRequest>')
    r = post(node, envelope(ITI38, body))
    assert r.status_code == 200
    assert b"XDSStoredQueryMissingParam" in r.content and b"ResponseStatusType:Failure" in r.content


def test_unknown_stored_query(node: NodeThread) -> None:
    body = ('<q:AdhocQueryRequest xmlns:q="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" '
            'xmlns:r="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><q:ResponseOption returnType="LeafClass"/>'
            '<r:AdhocQuery id="urn:uuid:00000000-0000-0000-0000-000000000000"/></q:AdhocQueryRequest>')
    r = post(node, envelope(ITI38, body))
    assert b"XDSUnknownStoredQuery" in r.content


def test_unknown_instance_and_unsupported_transfer_syntax(node: NodeThread) -> None:
    r = post(node, envelope(RAD69, RAD69_BODY.format(doc="1.2.3.4.5", ts="1.2.840.10008.1.2.1")),
             path="/xdsi/retrieve")
    assert r.status_code == 200 and b"XDSDocumentUniqueIdError" in r.content
    assert b"ResponseStatusType:Failure" in r.content


def test_node_keeps_serving_and_refusals_are_audited(node: NodeThread) -> None:
    post(node, XXE)
    assert httpx.get(f"{node.url}/healthz").status_code == 200
    from imx.storage.sql_audit import SqlAuditSink

    events = node.call(SqlAuditSink(node.services.metadata).list_events(limit=50))  # type: ignore[union-attr, arg-type]
    assert any(e.event == "soap-request-refused" for e in events)


def test_transfer_syntax_that_cannot_be_provided(node: NodeThread) -> None:
    import io

    from imx.dicom.synth import generate_patients, generate_study

    ds = next(generate_study(generate_patients(91, 1)[0], seed=91, series_count=1,
                             instances_per_series=1, rows=8, columns=8))
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    node.call(node.services.ingest.ingest_bytes(out.getvalue(), source="test"))  # type: ignore[union-attr]
    body = RAD69_BODY.format(doc=ds.SOPInstanceUID, ts="1.2.840.10008.1.2.4.50").replace(
        'studyInstanceUID="1.2.3"', f'studyInstanceUID="{ds.StudyInstanceUID}"').replace(
        'seriesInstanceUID="1.2.3.4"', f'seriesInstanceUID="{ds.SeriesInstanceUID}"')
    r = post(node, envelope(RAD69, body), path="/xdsi/retrieve")
    assert r.status_code == 200 and b"urn:dicom:wado:0007" in r.content
    assert ds.SOPInstanceUID.encode() in r.content  # RegistryError @location = the document (RAD69-016)
