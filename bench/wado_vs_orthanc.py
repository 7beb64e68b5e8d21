"""WADO-RS retrieve of a whole study (multipart/related; type=application/dicom), imx vs
Orthanc's DICOMweb plugin on the same data in the same run. MB/s, best of 3.

    python -m bench.wado_vs_orthanc
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pydicom

from bench.common import imx_serve, save
from bench.peers.orthanc import orthanc
from imx.dicom.synth import generate_patients, generate_study, write_study

N = 200
ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def retrieve(url: str) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(3):
        t0 = time.perf_counter()
        n = 0
        with httpx.stream("GET", url, headers={"Accept": ACCEPT}, timeout=300) as r:
            r.raise_for_status()
            for chunk in r.iter_bytes(1 << 20):
                n += len(chunk)
        best, size = min(best, time.perf_counter() - t0), n
    return best, size


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        slices = work / "ct"
        write_study(
            slices,
            generate_study(
                generate_patients(102, 1)[0], seed=102, series_count=2, instances_per_series=N // 2
            ),
        )
        study = pydicom.dcmread(
            next(slices.rglob("*.dcm")), stop_before_pixels=True
        ).StudyInstanceUID
        with imx_serve(work / "imx") as node:
            subprocess.run(
                [
                    "storescu",
                    "-aec",
                    "IMX",
                    "+sd",
                    "+r",
                    "-nh",
                    "127.0.0.1",
                    str(node.dimse_port),
                    str(slices),
                ],
                check=True,
                capture_output=True,
                env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
            )
            imx_s, imx_bytes = retrieve(f"{node.dicomweb}/studies/{study}")
            imx_rss = node.rss_mib()
        with orthanc(work / "orthanc") as peer:
            subprocess.run(
                [
                    "storescu",
                    "-aec",
                    peer.ae_title,
                    "+sd",
                    "+r",
                    "-nh",
                    "127.0.0.1",
                    str(peer.dicom_port),
                    str(slices),
                ],
                check=True,
                capture_output=True,
                env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
            )
            orthanc_s, orthanc_bytes = retrieve(f"{peer.url}/dicom-web/studies/{study}")
        save(
            "wado_vs_orthanc",
            {
                "instances": N,
                "imx_mb": round(imx_bytes / 1e6, 1),
                "imx_mb_per_s": round(imx_bytes / 1e6 / imx_s, 1),
                "orthanc_mb_per_s": round(orthanc_bytes / 1e6 / orthanc_s, 1),
                "ratio": round(orthanc_s / imx_s, 2),
                "imx_rss_mib_after": round(imx_rss),
            },
        )


if __name__ == "__main__":
    main()
