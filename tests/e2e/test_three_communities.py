"""Three communities on loopback, talking real XCPD / XCA / XCA-I to each other.

A (the initiator) looks for a patient whose demographics differ slightly at B and C; it finds
them at both, lists both communities' studies with their source, retrieves one 300-instance
study from B bit-identical into its own store; a repeat search within the cache lifetime sends
no XCPD (checked on the responders' own audit trail); a retrieval broken off by killing B
resumes without fetching again what A already stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from imx.dicom.synth import SynthPatient, generate_patients, generate_study
from imx.model.patient_discovery import Address, PatientDemographics, PersonName
from tests.peers import orthanc as orthanc_peer
from tests.peers.dcmtk import dataset_bytes
from tests.support.node import test_settings as make_settings
from tests.support.server import NodeThread

pytestmark = pytest.mark.e2e

HOME = {"A": "1.3.6.1.4.1.21367.2026.101", "B": "1.3.6.1.4.1.21367.2026.102",
        "C": "1.3.6.1.4.1.21367.2026.103"}


def part10(ds: pydicom.Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def node_settings(tmp: Path, name: str, port: int = 0, communities: list[dict] | None = None,  # noqa: ANN201
                  pacs: list[dict] | None = None, **extra):  # noqa: ANN003
    home = HOME[name]
    return make_settings(
        tmp / name, http={"port": port}, dimse={"port": 0, "destinations": pacs or []},
        node={"home_community_id": f"urn:oid:{home}", "repository_unique_id": f"{home}.1",
              "institution_name": f"Community {name}"},
        initiating={"instances_per_request": 50},
        communities=communities or [], **extra)


def endpoints(node: NodeThread) -> list[dict[str, str]]:
    return [{"transaction": "ITI-55", "address": f"{node.url}/xcpd"},
            {"transaction": "ITI-38", "address": f"{node.url}/xca/query"},
            {"transaction": "ITI-39", "address": f"{node.url}/xca/retrieve"},
            {"transaction": "RAD-75", "address": f"{node.url}/xcai/retrieve"}]


def community(name: str, node: NodeThread) -> dict:
    return {"home_community_id": f"urn:oid:{HOME[name]}", "name": f"Community {name}",
            "endpoints": endpoints(node)}


@pytest.fixture(scope="module")
def patient() -> SynthPatient:
    return generate_patients(4242, 1)[0]


def load(node: NodeThread, datasets: Iterator[pydicom.Dataset]) -> dict[str, bytes]:
    out = {}
    for ds in datasets:
        data = part10(ds)
        out[ds.SOPInstanceUID] = data
        node.call(node.services.ingest.ingest_bytes(data, source="test"))  # type: ignore[union-attr]
    node.call(node.services.manifests.flush())  # type: ignore[union-attr]
    return out


def query_for(p: SynthPatient) -> PatientDemographics:
    return PatientDemographics(
        names=(PersonName(given=(p.given,), family=p.family),), gender=p.sex,
        birth_date=p.birth_date,
        addresses=(Address(street_lines=(p.street,), city=p.city, state=p.state,
                           postal_code=p.postal_code),))


def itI55_records(node: NodeThread) -> int:
    records = node.call(node.services.audit.list_events(limit=1000))  # type: ignore[union-attr]
    return sum(1 for r in records if r.transaction == "ITI-55")


def test_find_list_retrieve_cache_and_resume(tmp_path: Path, patient: SynthPatient) -> None:
    # B knows the patient as registered; C has a typo'd given name and no middle name.
    at_c = dataclasses.replace(patient, given=patient.given[:-1] + ("a" if patient.given[-1] != "a" else "e"),
                               middle="")
    b = NodeThread(node_settings(tmp_path, "B")).start()
    c = NodeThread(node_settings(tmp_path, "C")).start()
    a = None
    try:
        originals = load(b, generate_study(patient, seed=1, series_count=3, instances_per_series=100,
                                           rows=16, columns=16))
        load(c, generate_study(at_c, seed=2, study_index=1, series_count=1, instances_per_series=3,
                               rows=16, columns=16))
        # Someone else at B and C who must not be found.
        other = generate_patients(99, 1)[0]
        load(b, generate_study(other, seed=3, series_count=1, instances_per_series=2, rows=8, columns=8))
        a = NodeThread(node_settings(tmp_path, "A", communities=[community("B", b),
                                                                 community("C", c)])).start()
        net = a.services.network  # type: ignore[union-attr]

        found = a.call(net.search_patient(query_for(patient)))
        assert not found.failures
        assert {p.home_community_id for p in found.patients} == {f"urn:oid:{HOME['B']}",
                                                                 f"urn:oid:{HOME['C']}"}
        assert found.xcpd_sent == 2
        assert all(p.local_score is not None for p in found.patients)

        docs = a.call(net.list_documents(found.patients))
        assert docs.status == "Success"
        manifests = [d for d in docs.documents if d.is_manifest]
        assert {d.home_community_id for d in manifests} == {f"urn:oid:{HOME['B']}",
                                                            f"urn:oid:{HOME['C']}"}
        at_b = next(d for d in manifests if d.home_community_id == f"urn:oid:{HOME['B']}")

        # Retrieval, broken off after 120 instances by killing B.
        b_port = b.port

        async def kill_b_midway(state) -> None:  # noqa: ANN001
            if state.received_instances == 120 and b is not None:
                b._server.should_exit = True  # noqa: SLF001 - the test plays the failing peer

        first = a.call(net.retrieve_study(at_b.home_community_id, at_b, progress=kill_b_midway))
        assert not first.is_complete
        assert 120 <= first.received_instances < 300
        stored_before = first.received_instances
        b.stop()
        b = NodeThread(node_settings(tmp_path, "B", port=b_port)).start()

        second = a.call(net.retrieve_study(at_b.home_community_id, at_b))
        assert second.is_complete
        assert second.already_present == stored_before
        assert second.received_instances == 300 - stored_before  # nothing fetched twice
        for sop_uid, data in originals.items():
            record = a.call(a.services.metadata.get_instance(sop_uid))  # type: ignore[union-attr]
            assert record is not None
            assert a.call(a.services.blobs.read_bytes(record.blob_key)) == data  # type: ignore[union-attr]

        # Repeat search: answered from the correlation cache, no XCPD at B or C.
        before = (itI55_records(b) + itI55_records(c))
        again = a.call(net.search_patient(query_for(patient)))
        assert again.xcpd_sent == 0
        assert {p.home_community_id for p in again.patients} == {p.home_community_id
                                                                 for p in found.patients}
        assert all(p.from_cache for p in again.patients)
        assert itI55_records(b) + itI55_records(c) == before
    finally:
        for n in (a, b, c):
            if n is not None:
                n.stop()


def test_a_dead_community_is_a_failure_entry_not_a_failed_search(tmp_path: Path,
                                                                  patient: SynthPatient) -> None:
    b = NodeThread(node_settings(tmp_path, "B")).start()
    a = None
    try:
        load(b, generate_study(patient, seed=1, series_count=1, instances_per_series=2, rows=8,
                               columns=8))
        dead = {"home_community_id": f"urn:oid:{HOME['C']}", "name": "Down",
                "endpoints": [{"transaction": t, "address": "http://127.0.0.1:9/xcpd"}
                              for t in ("ITI-55", "ITI-38")]}
        a = NodeThread(node_settings(tmp_path, "A", communities=[community("B", b), dead])).start()
        net = a.services.network  # type: ignore[union-attr]
        started = dt.datetime.now(dt.UTC)
        found = a.call(net.search_patient(query_for(patient)))
        assert (dt.datetime.now(dt.UTC) - started).total_seconds() < 15
        assert [p.home_community_id for p in found.patients] == [f"urn:oid:{HOME['B']}"]
        assert [(f.home_community_id, f.error_code) for f in found.failures] == [
            (f"urn:oid:{HOME['C']}", "XDSUnavailableCommunity")]
        # The failure is not cached as "not found": the next search asks C again.
        again = a.call(net.search_patient(query_for(patient)))
        assert again.xcpd_sent == 1
    finally:
        for n in (a, b):
            if n is not None:
                n.stop()


@pytest.mark.interop
def test_retrieved_study_forwarded_to_orthanc_and_reconciled(tmp_path: Path,
                                                             patient: SynthPatient) -> None:
    """Retrieve into A with the patient's local ID (source IDs kept in Original Attributes), then
    C-STORE into a real PACS; and a plain retrieve-and-forward arrives bit-identical."""
    if not orthanc_peer.available():
        pytest.skip("Orthanc not installed (run `make test` as root to install it)")
    import httpx

    from imx.model.identifiers import PatientId

    b = NodeThread(node_settings(tmp_path, "B")).start()
    a = None
    try:
        originals = load(b, generate_study(patient, seed=7, series_count=3, instances_per_series=100,
                                           rows=16, columns=16))
        small = load(b, generate_study(patient, seed=8, study_index=1, series_count=1,
                                       instances_per_series=6, rows=16, columns=16))
        big_study = pydicom.dcmread(io.BytesIO(next(iter(originals.values())))).StudyInstanceUID
        with orthanc_peer.orthanc(tmp_path / "orthanc") as pacs:
            a = NodeThread(node_settings(
                tmp_path, "A", communities=[community("B", b)],
                pacs=[{"ae_title": "ORTHANC", "host": "127.0.0.1", "port": pacs.dicom_port}])).start()
            net = a.services.network  # type: ignore[union-attr]
            found = a.call(net.search_patient(query_for(patient)))
            docs = a.call(net.list_documents(found.patients))
            kos = next(d for d in docs.documents if big_study in d.study_instance_uids)
            report = a.call(net.retrieve_study(kos.home_community_id, kos, forward_to="ORTHANC"))
            assert report.is_complete and report.forwarded.sent == 300  # type: ignore[union-attr]
            assert len(httpx.get(f"{pacs.url}/instances", timeout=10).json()) == 300
            study_id = httpx.post(f"{pacs.url}/tools/lookup", content=big_study,
                                  timeout=10).json()[0]["ID"]
            archive = httpx.get(f"{pacs.url}/studies/{study_id}/archive", timeout=120).content
            received = {}
            with zipfile.ZipFile(io.BytesIO(archive)) as z:  # the files as Orthanc stored them
                for name in z.namelist():
                    data = z.read(name)
                    uid = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID
                    received[uid] = dataset_bytes(data)
            assert received == {uid: dataset_bytes(d) for uid, d in originals.items()}

        # Reconciliation into a fresh store: our patient ID, the source's kept.
        a.stop()
        a = NodeThread(node_settings(tmp_path / "again", "A", communities=[community("B", b)])).start()
        net = a.services.network  # type: ignore[union-attr]
        found = a.call(net.search_patient(query_for(patient)))
        kos = next(d for d in a.call(net.list_documents(found.patients)).documents
                   if d.is_manifest and big_study not in d.study_instance_uids)
        local = PatientId(id="A-LOCAL-1", assigning_authority="1.3.6.1.4.1.21367.2026.101.9")
        report = a.call(net.retrieve_study(kos.home_community_id, kos, reconcile_to=local))
        assert report.is_complete and report.received_instances == 6
        uid = next(iter(small))
        record = a.call(a.services.metadata.get_instance(uid))  # type: ignore[union-attr]
        ds = pydicom.dcmread(io.BytesIO(a.call(a.services.blobs.read_bytes(record.blob_key))))  # type: ignore[union-attr]
        assert ds.PatientID == "A-LOCAL-1"
        assert ds.OriginalAttributesSequence[-1].ModifiedAttributesSequence[0].PatientID == patient.patient_id
    finally:
        for n in (a, b):
            if n is not None:
                n.stop()
