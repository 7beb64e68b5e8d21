"""DCMTK against the node: storescu stores a 500-instance study; findscu finds it; getscu and
movescu (to a DCMTK storescp) bring every instance back bit-identical."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pydicom
import pytest

from imx.dicom.synth import generate_patients, generate_study, write_study
from tests.conftest import require_tool
from tests.peers.dcmtk import dataset_bytes, free_port, storescp
from tests.support.server import running_node

pytestmark = pytest.mark.interop
N_SERIES, PER_SERIES = 5, 100  # 500 instances


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("src")
    patient = generate_patients(31, 1)[0]
    write_study(
        out,
        generate_study(
            patient,
            seed=31,
            series_count=N_SERIES,
            instances_per_series=PER_SERIES,
            rows=64,
            columns=64,
        ),
    )
    return out


def originals(source: Path) -> dict[str, bytes]:
    out = {}
    for f in source.rglob("*.dcm"):
        data = f.read_bytes()
        out[pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID] = dataset_bytes(data)
    return out


def received(folder: Path) -> dict[str, bytes]:
    out = {}
    for f in folder.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            out[pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID] = dataset_bytes(data)
    return out


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300)


def test_storescu_findscu_getscu_movescu_round_trip(source: Path, tmp_path: Path) -> None:
    for tool in ("storescu", "findscu", "getscu", "movescu", "storescp"):
        require_tool(tool)
    dest_port = free_port()
    dests = [{"ae_title": "DEST", "host": "127.0.0.1", "port": dest_port}]
    study_uid = pydicom.dcmread(
        next(source.rglob("*.dcm")), stop_before_pixels=True
    ).StudyInstanceUID
    want = originals(source)
    assert len(want) == N_SERIES * PER_SERIES
    with running_node(tmp_path / "node", with_dimse=True, dimse={"destinations": dests}) as node:
        port = str(node.dimse_port)
        t0 = time.perf_counter()
        r = run(
            "storescu",
            "-aet",
            "DCMTK",
            "-aec",
            "IMX",
            "+sd",
            "+r",
            "-nh",
            "127.0.0.1",
            port,
            str(source),
        )
        elapsed = time.perf_counter() - t0
        assert r.returncode == 0, r.stderr[-2000:]
        n = node.call(node.services.metadata.get_study(study_uid))  # type: ignore[union-attr]
        assert n is not None and n.number_of_instances == 500, elapsed

        r = run(
            "findscu",
            "-S",
            "-aet",
            "DCMTK",
            "-aec",
            "IMX",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={study_uid}",
            "-k",
            "NumberOfStudyRelatedInstances",
            "127.0.0.1",
            port,
        )
        assert r.returncode == 0 and re.search(r"\[500 ?\]", r.stderr + r.stdout)

        got = tmp_path / "get"
        got.mkdir()
        # +B: write what arrives byte for byte (DCMTK would otherwise re-encode sequences)
        r = run(
            "getscu",
            "-S",
            "+B",
            "-aet",
            "DCMTK",
            "-aec",
            "IMX",
            "-od",
            str(got),
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={study_uid}",
            "127.0.0.1",
            port,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        got_sets = received(got)
        assert got_sets == want, _first_difference(got_sets, want)  # bit-identical datasets

        moved = tmp_path / "moved"
        moved.mkdir()
        with storescp(moved, tmp_path, ae_title="DEST", port=dest_port):
            r = run(
                "movescu",
                "-S",
                "-aet",
                "DCMTK",
                "-aec",
                "IMX",
                "-aem",
                "DEST",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={study_uid}",
                "127.0.0.1",
                port,
            )
            assert r.returncode == 0, r.stderr[-2000:]
        assert received(moved) == want


def _first_difference(a: dict[str, bytes], b: dict[str, bytes]) -> str:
    for uid in a:
        x, y = a[uid], b.get(uid, b"")
        if x != y:
            i = next(
                (k for k, (p, q) in enumerate(zip(x, y, strict=False)) if p != q),
                min(len(x), len(y)),
            )
            where = f"{uid}: lengths {len(x)}/{len(y)}, first difference at {i}"
            return f"{where}: {x[i - 20 : i + 20]!r} vs {y[i - 20 : i + 20]!r}"
    return "same"
