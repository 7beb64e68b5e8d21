"""Orthanc, a real PACS, talks to the node: it C-MOVEs a study from the node to itself, and the
node C-STOREs (C-MOVE to Orthanc as destination) into it. Checked through Orthanc's REST API."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pydicom
import pytest
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelMove  # type: ignore[attr-defined]

from imx.dicom.synth import generate_patients, generate_study
from tests.peers import orthanc as orthanc_peer
from tests.peers.dcmtk import free_port
from tests.support.server import running_node

pytestmark = pytest.mark.interop


def _wait_instances(peer: orthanc_peer.OrthancPeer, n: int, timeout_s: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = httpx.get(f"{peer.url}/instances", timeout=10).json()
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_orthanc_moves_from_node_and_receives_from_it(tmp_path: Path) -> None:
    if not orthanc_peer.available():
        pytest.skip("Orthanc not installed (run `make test` as root to install it)")
    node_port = free_port()
    datasets = list(
        generate_study(
            generate_patients(41, 1)[0],
            seed=41,
            series_count=2,
            instances_per_series=5,
            rows=32,
            columns=32,
        )
    )
    study_uid = datasets[0].StudyInstanceUID
    with orthanc_peer.orthanc(
        tmp_path / "orthanc", modalities={"IMX": ("IMX", "127.0.0.1", node_port)}
    ) as peer:
        dests = [{"ae_title": "ORTHANC", "host": "127.0.0.1", "port": peer.dicom_port}]
        with running_node(
            tmp_path / "node", with_dimse=True, dimse={"port": node_port, "destinations": dests}
        ) as node:
            ae = AE(ae_title="LOADER")
            ae.add_requested_context(CTImageStorage)
            a = ae.associate("127.0.0.1", node.dimse_port, ae_title="IMX")
            for ds in datasets:
                assert a.send_c_store(ds).Status == 0
            a.release()

            # 1. Orthanc pulls: its REST API issues a C-MOVE to the node with itself as target.
            r = httpx.post(
                f"{peer.url}/modalities/IMX/move",
                timeout=60,
                json={
                    "Level": "Study",
                    "Resources": [{"StudyInstanceUID": study_uid}],
                    "TargetAet": "ORTHANC",
                    "Synchronous": True,
                },
            )
            assert r.status_code == 200, r.text
            ids = _wait_instances(peer, 10)
            assert len(ids) == 10
            tags = httpx.get(f"{peer.url}/instances/{ids[0]}/simplified-tags", timeout=10).json()
            assert tags["StudyInstanceUID"] == study_uid

            # 2. The node pushes: a C-MOVE to the node naming Orthanc as destination.
            found = httpx.post(f"{peer.url}/tools/lookup", content=study_uid).json()
            httpx.delete(f"{peer.url}/studies/{found[0]['ID']}")
            assert _wait_instances(peer, 0, timeout_s=1) == []
            ae2 = AE(ae_title="MOVER")
            ae2.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
            m = ae2.associate("127.0.0.1", node.dimse_port, ae_title="IMX")
            ident = pydicom.Dataset()
            ident.QueryRetrieveLevel = "STUDY"
            ident.StudyInstanceUID = study_uid
            final = [
                s
                for s, _ in m.send_c_move(
                    ident, "ORTHANC", StudyRootQueryRetrieveInformationModelMove
                )
            ][-1]
            m.release()
            assert final.Status == 0 and final.NumberOfCompletedSuboperations == 10
            assert len(_wait_instances(peer, 10)) == 10
