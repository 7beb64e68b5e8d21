"""RAD-69 retrieve of a large study: MB/s against a raw loopback transfer of the same bytes,
and the responder's peak RSS while it streams (target: under 200 MB for a 2 GB study).

    python -m bench.rad69_throughput            # 1 GB study
    python -m bench.rad69_throughput --gb 2     # 2 GB study (the memory check)

The client (curl) posts one RetrieveImagingDocumentSetRequest per series (as dicomtrolley
does) and reads the MTOM answer as a stream, counting bytes. The raw baseline sends the stored files
over a plain loopback TCP socket to a reader that also just counts.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import pydicom

from bench.common import imx_serve, save
from imx.dicom.synth import generate_patients, generate_study, write_study

SLICE_MB = 0.526  # a 512x512 16-bit CT slice as Part-10


def _request(study: str, series: dict[str, list[str]], repository: str) -> bytes:
    docs = []
    for se, sops in series.items():
        refs = "".join(
            f"<x:DocumentRequest><x:RepositoryUniqueId>{repository}</x:RepositoryUniqueId>"
            f"<x:DocumentUniqueId>{sop}</x:DocumentUniqueId></x:DocumentRequest>"
            for sop in sops
        )
        docs.append(f'<i:SeriesRequest seriesInstanceUID="{se}">{refs}</i:SeriesRequest>')
    body = (
        f'<i:RetrieveImagingDocumentSetRequest xmlns:i="urn:ihe:rad:xdsi-b:2009" '
        f'xmlns:x="urn:ihe:iti:xds-b:2007"><i:StudyRequest studyInstanceUID="{study}">{"".join(docs)}'
        f"</i:StudyRequest><i:TransferSyntaxUIDList><i:TransferSyntaxUID>1.2.840.10008.1.2.1"
        f"</i:TransferSyntaxUID></i:TransferSyntaxUIDList></i:RetrieveImagingDocumentSetRequest>"
    )
    return (
        f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action>'
        f"urn:ihe:rad:2009:RetrieveImagingDocumentSet</a:Action><a:MessageID>urn:uuid:1</a:MessageID>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _rss_sampler(pid: int, stop: threading.Event, peak: list[float]) -> None:
    status = Path(f"/proc/{pid}/status")
    while not stop.is_set():
        rss = int(
            next(x for x in status.read_text().splitlines() if x.startswith("VmRSS")).split()[1]
        )
        peak[0] = max(peak[0], rss / 1024)
        time.sleep(0.02)


def _wait_idle(pid: int, *, timeout_s: float = 300) -> None:
    """Wait until the process uses under 10% of a core for a second."""
    stat = Path(f"/proc/{pid}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    deadline = time.monotonic() + timeout_s
    last = cpu()
    while time.monotonic() < deadline:
        time.sleep(1)
        now = cpu()
        if now - last < 0.1:
            return
        last = now


def _raw_loopback(files: list[Path]) -> float:
    """MB/s of sending the same files over plain loopback TCP (sendfile), read and counted."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def send() -> None:
        conn, _ = server.accept()
        with conn:
            for f in files:
                with f.open("rb") as fh:
                    conn.sendfile(fh)

    threading.Thread(target=send, daemon=True).start()
    total = 0
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as c:
        while chunk := c.recv(1 << 20):
            total += len(chunk)
    elapsed = time.perf_counter() - t0
    server.close()
    return total / 1e6 / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    args = ap.parse_args()
    n = int(args.gb * 1000 / SLICE_MB)
    per_series = 250
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "study"
        files = write_study(
            src,
            generate_study(
                generate_patients(201, 1)[0],
                seed=201,
                series_count=(n + per_series - 1) // per_series,
                instances_per_series=per_series,
            ),
        )
        series: dict[str, list[str]] = defaultdict(list)
        study = ""
        for f in files:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            study = ds.StudyInstanceUID
            series[ds.SeriesInstanceUID].append(ds.SOPInstanceUID)
        total_mb = sum(f.stat().st_size for f in files) / 1e6
        with imx_serve(work / "node") as node:
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
                    str(src),
                ],
                check=True,
                capture_output=True,
                env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
            )
            _wait_idle(node.process.pid)  # background header indexing after the burst
            stop, peak = threading.Event(), [0.0]
            idle_rss = node.rss_mib()
            sampler = threading.Thread(target=_rss_sampler, args=(node.process.pid, stop, peak))
            sampler.start()
            received = 0
            bodies = []
            for i, (se, sops) in enumerate(series.items()):  # one request per series (dicomtrolley)
                path = work / f"request-{i}.xml"
                path.write_bytes(_request(study, {se: sops}, "1.3.6.1.4.1.21367.2026.1.1.1"))
                bodies.append(path)
            t0 = time.perf_counter()
            for path in bodies:
                # curl (C) reads the answer, so the client does not bound the measurement
                out = subprocess.run(
                    ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}",
                     "-H", "Content-Type: application/soap+xml", "--data-binary", f"@{path}",
                     f"http://127.0.0.1:{node.http_port}/xdsi/retrieve"],
                    check=True, capture_output=True, text=True)
                received += int(out.stdout)
            elapsed = time.perf_counter() - t0
            stop.set()
            sampler.join()
        raw = _raw_loopback(files)
        imx_mbs = received / 1e6 / elapsed
        save(
            f"rad69_throughput_{args.gb:g}gb",
            {
                "instances": len(files),
                "study_mb": round(total_mb),
                "received_mb": round(received / 1e6),
                "imx_mb_per_s": round(imx_mbs, 1),
                "raw_loopback_mb_per_s": round(raw, 1),
                "ratio_to_raw": round(imx_mbs / raw, 2),
                "responder_rss_idle_mib": round(idle_rss),
                "responder_rss_peak_mib": round(peak[0]),
            },
        )


if __name__ == "__main__":
    main()
