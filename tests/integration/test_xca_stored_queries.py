"""ITI-38 over HTTP on a node with real manifests (SQLite store): the SubmissionSet,
Association and GetAll queries answer schema-valid, patient-scoped, and errors are the
standard RegistryErrors at the responding community."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from lxml import etree

from imx.dicom.synth import generate_patients, generate_study
from imx.transactions.iti38_xca_query import TRANSACTION as ITI38
from imx.transactions.iti38_xca_query.codes import StoredQuery
from imx.wire.addressing import build_request_headers
from imx.wire.schemas import validate
from imx.wire.soap import build_envelope
from tests.support.server import NodeThread, running_node
from tests.unit.transactions.test_iti38 import _request

RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
RS = "{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}"
QUERY = "{urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0}"
APPROVED = "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')"
BOTH = ("('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved',"
        "'urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated')")
Q = StoredQuery


def _ingest(node: NodeThread, patient, *, seed: int, series: int) -> None:  # type: ignore[no-untyped-def]
    for ds in generate_study(patient, seed=seed, series_count=series, instances_per_series=1,
                             rows=8, columns=8):
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        node.call(node.services.ingest.ingest_bytes(out.getvalue(), source="test"))  # type: ignore[union-attr]
    node.call(node.services.manifests.flush())  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with running_node(tmp_path_factory.mktemp("xcasq")) as n:
        ana, ben = generate_patients(83, 2)
        _ingest(n, ana, seed=83, series=1)
        _ingest(n, ana, seed=83, series=2)  # a second series: the manifest is rebuilt
        _ingest(n, ben, seed=84, series=1)
        yield n


def _cx(node: NodeThread, index: int) -> str:
    docs = node.call(node.services.metadata.find_documents())  # type: ignore[union-attr]
    return sorted({d.patient_id.to_cx() for d in docs})[index]


def _query(node: NodeThread, stored: StoredQuery, slots: list[tuple[str, list[str]]],
           return_type: str = "LeafClass") -> etree._Element:
    body = _request(stored.value, slots, return_type=return_type,
                    home=node.settings.node.home_community_id)
    env = build_envelope(body, build_request_headers(
        ITI38.request_action, f"{node.url}/xca/query", f"urn:uuid:{uuid.uuid4()}"))
    r = httpx.post(f"{node.url}/xca/query", content=etree.tostring(env), timeout=30, headers={
        "Content-Type": f'application/soap+xml; charset=UTF-8; action="{ITI38.request_action}"'})
    assert r.status_code == 200, r.text[:300]
    answer = etree.fromstring(r.content).find(f".//{QUERY}AdhocQueryResponse")
    validate(answer, "query")  # every answer is schema-valid
    for child in answer.find(f"{RIM}RegistryObjectList"):
        assert child.get("home") == node.settings.node.home_community_id
    return answer


def _objects(answer: etree._Element) -> list[tuple[str, str]]:
    return [(c.tag.removeprefix(RIM), c.get("id")) for c in answer.find(f"{RIM}RegistryObjectList")]


def _patient_ids(answer: etree._Element) -> set[str]:
    return {x.get("value") for x in answer.iter(f"{RIM}ExternalIdentifier")
            if x.get("identificationScheme") in ("urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446",
                                                 "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427")}


def test_find_submission_sets_per_patient_leafclass_and_objectref(node: NodeThread) -> None:
    ana = _cx(node, 0)
    slots = [("$XDSSubmissionSetPatientId", [f"'{ana}'"]), ("$XDSSubmissionSetStatus", [APPROVED])]
    leaf = _query(node, Q.FIND_SUBMISSION_SETS, slots)
    kinds = [k for k, _ in _objects(leaf)]
    assert kinds == ["RegistryPackage", "RegistryPackage"]  # two publications for Ana
    assert _patient_ids(leaf) == {ana}
    refs = _query(node, Q.FIND_SUBMISSION_SETS, slots, return_type="ObjectRef")
    assert [i for _, i in _objects(refs)] == [i for _, i in _objects(leaf)]
    assert {k for k, _ in _objects(refs)} == {"ObjectRef"}
    future = _query(node, Q.FIND_SUBMISSION_SETS, [
        *slots, ("$XDSSubmissionSetSubmissionTimeFrom", ["29990101"])])
    assert _objects(future) == []


def test_get_all_documents_sets_and_associations(node: NodeThread) -> None:
    ana = _cx(node, 0)
    common = [("$patientId", [f"'{ana}'"]), ("$XDSSubmissionSetStatus", [APPROVED]),
              ("$XDSFolderStatus", [APPROVED])]
    current = _query(node, Q.GET_ALL, [*common, ("$XDSDocumentEntryStatus", [APPROVED])])
    kinds = [k for k, _ in _objects(current)]
    assert kinds.count("ExtrinsicObject") == 1 and kinds.count("RegistryPackage") == 2
    assert kinds.count("Association") == 1  # the current manifest's HasMember
    history = _query(node, Q.GET_ALL, [*common, ("$XDSDocumentEntryStatus", [BOTH])])
    types = [a.get("associationType").rsplit(":", 1)[1]
             for a in history.iter(f"{RIM}Association")]
    assert sorted(types) == ["HasMember", "HasMember", "RPLC"]
    assert _patient_ids(history) == {ana}


def test_lookups_by_identifier(node: NodeThread) -> None:
    ben = _cx(node, 1)
    docs = node.call(node.services.metadata.find_documents())  # type: ignore[union-attr]
    [bens] = [d for d in docs if d.patient_id.to_cx() == ben]
    sets = _query(node, Q.GET_SUBMISSION_SETS, [("$uuid", [f"('{bens.entry_uuid}')"])])
    assert [k for k, _ in _objects(sets)] == ["RegistryPackage", "Association"]
    both = _query(node, Q.GET_DOCUMENTS_AND_ASSOCIATIONS, [
        ("$XDSDocumentEntryUniqueId", [f"('{bens.document_unique_id}')"])])
    assert [k for k, _ in _objects(both)] == ["ExtrinsicObject", "Association"]
    folders = _query(node, Q.GET_FOLDERS_FOR_DOCUMENT, [
        ("$XDSDocumentEntryEntryUUID", [f"'{bens.entry_uuid}'"])])
    assert folders.get("status").endswith(":Success") and _objects(folders) == []


@pytest.mark.parametrize(("stored", "slots", "code"), [
    (Q.GET_FOLDERS, [], "XDSStoredQueryMissingParam"),
    (Q.GET_ALL, [("$patientId", ["'X^^^&1.2.3&ISO'"])], "XDSStoredQueryMissingParam"),
    (Q.GET_DOCUMENTS_AND_ASSOCIATIONS, [("$XDSDocumentEntryEntryUUID", ["('urn:uuid:1')"]),
                                        ("$XDSDocumentEntryUniqueId", ["('1.2')"])],
     "XDSStoredQueryParamNumber"),
])
def test_errors_are_registry_errors(node: NodeThread, stored: StoredQuery,
                                     slots: list[tuple[str, list[str]]], code: str) -> None:
    answer = _query(node, stored, slots)
    assert answer.get("status").endswith(":Failure")
    [error] = answer.iter(f"{RS}RegistryError")
    assert error.get("errorCode") == code
    assert error.get("location") == node.settings.node.home_community_id


def test_two_patients_in_one_lookup_is_refused(node: NodeThread) -> None:
    docs = node.call(node.services.metadata.find_documents())  # type: ignore[union-attr]
    approved = [d for d in docs if d.status.endswith(":Approved")]
    uuids = ",".join(f"'{d.entry_uuid}'" for d in approved)
    answer = _query(node, Q.GET_SUBMISSION_SETS, [("$uuid", [f"({uuids})"])])
    assert _objects(answer) == []
    [error] = answer.iter(f"{RS}RegistryError")
    assert error.get("errorCode") == "XDSResultNotSinglePatient"
