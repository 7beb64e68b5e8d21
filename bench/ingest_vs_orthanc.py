"""C-STORE ingest of 200 CT slices (512x512, 16-bit) with DCMTK storescu: imx vs Orthanc, same run.

    python -m bench.ingest_vs_orthanc

storescu is run as shipped by Debian (Nagle on), and again with TCP_NODELAY=1 in its
environment, so the numbers show both the server and the client's socket setting. Each
configuration runs REPEATS times against fresh, empty servers; the median is reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import imx_serve, process_cpu_s, save
from bench.peers.orthanc import orthanc
from imx.dicom.synth import generate_patients, generate_study, write_study

N = 200
REPEATS = 3


def storescu(port: int, ae: str, folder: Path, *, nodelay: bool) -> float:
    env = dict(os.environ)
    if nodelay:
        env["TCP_NODELAY"] = "1"
    t0 = time.perf_counter()
    subprocess.run(
        ["storescu", "-aec", ae, "+sd", "+r", "-nh", "127.0.0.1", str(port), str(folder)],
        check=True,
        env=env,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        slices = work / "ct"
        write_study(
            slices,
            generate_study(
                generate_patients(101, 1)[0], seed=101, series_count=1, instances_per_series=N
            ),
        )
        mb = sum(f.stat().st_size for f in slices.rglob("*.dcm")) / 1e6
        rows = {}
        orthanc_version = "?"
        for nodelay in (False, True):
            label = "storescu TCP_NODELAY=1" if nodelay else "storescu default (Nagle on)"
            imx_times, orthanc_times, imx_rss, orthanc_rss = [], [], 0.0, 0.0
            imx_cpu, orthanc_cpu = [], []
            # Fresh servers per repetition (same empty state each time), alternating imx and
            # Orthanc so background load on the machine hits both alike; the median is kept.
            for rep in range(REPEATS):
                with imx_serve(work / f"imx-{nodelay}-{rep}") as node:
                    cpu0 = process_cpu_s(node.process.pid)
                    imx_times.append(storescu(node.dimse_port, "IMX", slices, nodelay=nodelay))
                    imx_cpu.append(process_cpu_s(node.process.pid) - cpu0)
                    imx_rss = max(imx_rss, node.rss_mib())
                with orthanc(work / f"orthanc-{nodelay}-{rep}") as peer:
                    cpu0 = process_cpu_s(peer.process.pid)
                    orthanc_times.append(
                        storescu(peer.dicom_port, peer.ae_title, slices, nodelay=nodelay)
                    )
                    orthanc_cpu.append(process_cpu_s(peer.process.pid) - cpu0)
                    orthanc_rss = max(orthanc_rss, peer.rss_mib())
                    orthanc_version = peer.version()
            imx_s, orthanc_s = statistics.median(imx_times), statistics.median(orthanc_times)
            rows[label] = {
                "imx_instances_per_s": round(N / imx_s, 1),
                "orthanc_instances_per_s": round(N / orthanc_s, 1),
                "ratio": round(orthanc_s / imx_s, 2),
                "imx_runs_per_s": [round(N / t, 1) for t in imx_times],
                "orthanc_runs_per_s": [round(N / t, 1) for t in orthanc_times],
                # Server CPU per instance: independent of other load on a shared machine.
                "imx_cpu_ms_per_instance": round(1000 * statistics.median(imx_cpu) / N, 2),
                "orthanc_cpu_ms_per_instance": round(1000 * statistics.median(orthanc_cpu) / N, 2),
                "imx_rss_mib": round(imx_rss),
                "orthanc_rss_mib": round(orthanc_rss),
            }
        save(
            "ingest_vs_orthanc",
            {
                "instances": N,
                "megabytes": round(mb, 1),
                "repeats": REPEATS,
                "orthanc_version": orthanc_version,
                "runs": rows,
            },
        )


if __name__ == "__main__":
    main()
