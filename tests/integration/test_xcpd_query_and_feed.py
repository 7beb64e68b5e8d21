"""ITI-55 Query and Feed over HTTP: the initiator's livingSubjectId is correlated with our
patient, and its ITI-38 FindDocuments with that identifier lists our patient's manifest."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from lxml import etree

from imx.dicom.synth import generate_patients, generate_study
from imx.model.document_query import DocumentQuery, FindDocumentsQuery
from imx.model.identifiers import PatientId
from imx.transactions.iti38_xca_query import TRANSACTION as ITI38
from imx.transactions.iti38_xca_query.codes import DOCUMENT_ENTRY_TYPE_STABLE
from imx.transactions.iti38_xca_query.request import build_request
from imx.wire.addressing import build_request_headers
from imx.wire.soap import build_envelope
from tests.integration.test_soap_zeep import FIND, _xcpd_request
from tests.support.server import NodeThread, running_node

H = "{urn:hl7-org:v3}"
RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
ITI55_ACTION = "urn:hl7-org:v3:PRPA_IN201305UV02:CrossGatewayPatientDiscovery"
# The golden request's livingSubjectId: the initiator's own MRN for the patient.
THEIRS = PatientId(id="E12345", assigning_authority="1.2.840.114350.1.13.999.2.7.5")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with running_node(tmp_path_factory.mktemp("qaf")) as n:
        patient = generate_patients(82, 1)[0]
        for ds in generate_study(patient, seed=82, series_count=1, instances_per_series=2,
                                 rows=16, columns=16):
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
            n.call(n.services.ingest.ingest_bytes(out.getvalue(), source="test"))  # type: ignore[union-attr]
        n.call(n.services.manifests.flush())  # type: ignore[union-attr]
        n.patient = patient  # type: ignore[attr-defined]
        yield n


def _soap(node: NodeThread, path: str, action: str, body: etree._Element) -> etree._Element:
    env = build_envelope(body, build_request_headers(action, f"{node.url}{path}",
                                                     f"urn:uuid:{uuid.uuid4()}"))
    r = httpx.post(f"{node.url}{path}", content=etree.tostring(env), timeout=30, headers={
        "Content-Type": f'application/soap+xml; charset=UTF-8; action="{action}"'})
    assert r.status_code == 200, r.text[:300]
    return etree.fromstring(r.content)


def _find_documents(node: NodeThread, pid: PatientId) -> list[etree._Element]:
    query = DocumentQuery(
        stored_query_id=FIND, return_type="LeafClass",
        home_community_id=node.settings.node.home_community_id,
        find=FindDocumentsQuery(patient_id=pid,
                                statuses=("urn:oasis:names:tc:ebxml-regrep:StatusType:Approved",),
                                entry_types=(DOCUMENT_ENTRY_TYPE_STABLE,)))
    answer = _soap(node, "/xca/query", ITI38.request_action, build_request(query))
    return answer.findall(f".//{RIM}ExtrinsicObject")


def test_query_and_feed_then_iti38_with_the_initiators_id(node: NodeThread) -> None:
    assert _find_documents(node, THEIRS) == []  # not correlated yet: nothing disclosed
    answer = _soap(node, "/xcpd", ITI55_ACTION, _xcpd_request(node.patient))  # type: ignore[attr-defined]
    assert answer.find(f".//{H}queryResponseCode").get("code") == "OK"
    ours = answer.find(f".//{H}subject1/{H}patient/{H}id")
    local = PatientId(id=ours.get("extension"), assigning_authority=ours.get("root"))
    [correlation] = node.call(node.services.metadata.list_correlations(local))  # type: ignore[union-attr]
    assert correlation.remote_patient_id == THEIRS
    # The golden request's sender home community (bare OID, SPEC-NOTES §1.5).
    assert correlation.home_community_id == "1.2.840.114350.1.13.999"
    by_theirs = _find_documents(node, THEIRS)
    by_ours = _find_documents(node, local)
    assert len(by_theirs) == len(by_ours) == 1
    assert by_theirs[0].get("id") == by_ours[0].get("id")
    other = PatientId(id="E99999", assigning_authority=THEIRS.assigning_authority)
    assert _find_documents(node, other) == []
