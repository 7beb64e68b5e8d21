"""RAD-69 retrieve of a large study: MB/s against a raw loopback transfer of the same bytes,
and the responder's peak RSS while it streams (target: under 200 MB for a 2 GB study).

    python -m bench.rad69_throughput            # 1 GB study, 5 passes
    python -m bench.rad69_throughput --gb 2     # 2 GB study (the memory check)
    python -m bench.rad69_throughput --runs 9   # more passes (the machine is shared)

The client (curl) posts one RetrieveImagingDocumentSetRequest per series (as dicomtrolley
does) and reads the MTOM answer as a stream, counting bytes. The raw baseline sends the stored files
over a plain loopback TCP socket to a reader that also just counts; a bare sendfile HTTP
server answering the same curl requests shows what curl itself can take. The three kinds of
pass alternate. Writes bench/results/rad69_throughput_<gb>gb.json and its own section of
docs/benchmarks.md (markers rad69_<gb>gb).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom

from bench.common import imx_serve, load_average, machine, replace_section, save
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


def _curl_pass(urls: list[str], bodies: list[Path] | None) -> tuple[int, float, float]:
    """One curl per URL (POSTing the matching body, if any): bytes received, wall seconds,
    summed time to the first byte (for imx: request parsing, planning and audit, plus
    curl's own start)."""
    received, first_byte_s = 0, 0.0
    t0 = time.perf_counter()
    for i, url in enumerate(urls):
        post = [] if bodies is None else [
            "-H", "Content-Type: application/soap+xml", "--data-binary", f"@{bodies[i]}"]
        # curl (C) reads the answer, so the client does not bound the measurement
        out = subprocess.run(
            ["curl", "-sS", "--fail", "-o", "/dev/null", "-w",
             "%{size_download} %{time_starttransfer}", *post, url],
            check=True, capture_output=True, text=True)
        size, ttfb = out.stdout.split()
        received += int(size)
        first_byte_s += float(ttfb)
    return received, time.perf_counter() - t0, first_byte_s


@contextlib.contextmanager
def _bare_http_server(groups: list[list[Path]]) -> Iterator[int]:
    """The least an HTTP server can do: GET /<i> answers group i's files back to back by
    sendfile with a Content-Length, no parsing, no framing. What curl can take per request."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(65536)
                files = groups[int(head.split(b" ")[1].strip(b"/"))]
                size = sum(f.stat().st_size for f in files)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n" % size)
                for f in files:
                    with f.open("rb") as fh:
                        conn.sendfile(fh)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=5, help="retrieve passes, each with a raw pass")
    args = ap.parse_args()
    n = int(args.gb * 1000 / SLICE_MB)
    per_series = 250
    load_at_start = load_average()
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
        runs = []
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
            bodies = []
            for i, (se, sops) in enumerate(series.items()):  # one request per series (dicomtrolley)
                path = work / f"request-{i}.xml"
                path.write_bytes(_request(study, {se: sops}, "1.3.6.1.4.1.21367.2026.1.1.1"))
                bodies.append(path)
            imx_urls = [f"http://127.0.0.1:{node.http_port}/xdsi/retrieve"] * len(bodies)
            groups = [files[i:i + per_series] for i in range(0, len(files), per_series)]
            # imx, bare-server and raw passes alternate, so a busy moment on the shared
            # machine hits all three
            with _bare_http_server(groups) as bare_port:
                bare_urls = [f"http://127.0.0.1:{bare_port}/{i}" for i in range(len(groups))]
                for _ in range(args.runs):
                    received, elapsed, first_byte_s = _curl_pass(imx_urls, bodies)
                    bare_bytes, bare_s, _ = _curl_pass(bare_urls, None)
                    raw = _raw_loopback(files)
                    imx_mbs = received / 1e6 / elapsed
                    bare = bare_bytes / 1e6 / bare_s
                    runs.append({
                        "imx_mb_per_s": round(imx_mbs, 1),
                        "bare_http_mb_per_s": round(bare, 1),
                        "raw_loopback_mb_per_s": round(raw, 1),
                        "ratio_to_raw": round(imx_mbs / raw, 2),
                        "ratio_to_bare_http": round(imx_mbs / bare, 2),
                        "received_mb": round(received / 1e6),
                        "first_byte_share": round(first_byte_s / elapsed, 2),
                    })
            stop.set()
            sampler.join()
    best = max(runs, key=lambda r: r["ratio_to_raw"])
    result = {
        "instances": len(files),
        "study_mb": round(total_mb),
        "requests_per_pass": len(series),
        "ratio_to_raw_median": statistics.median(r["ratio_to_raw"] for r in runs),
        "imx_mb_per_s_median": statistics.median(r["imx_mb_per_s"] for r in runs),
        "raw_loopback_mb_per_s_median": statistics.median(r["raw_loopback_mb_per_s"] for r in runs),
        "bare_http_mb_per_s_median": statistics.median(r["bare_http_mb_per_s"] for r in runs),
        "ratio_to_bare_http_median": statistics.median(r["ratio_to_bare_http"] for r in runs),
        "ratio_to_raw_best": best["ratio_to_raw"],
        "responder_rss_idle_mib": round(idle_rss),
        "responder_rss_peak_mib": round(peak[0]),
        "load_average_at_start": load_at_start,
        "runs": runs,
    }
    save(f"rad69_throughput_{args.gb:g}gb", result)
    _render(args.gb, result)


def _render(gb: float, r: dict[str, Any]) -> None:
    m = machine()
    rows = [
        f"| {i}{' (first after ingest)' if i == 1 else ''} | {x['imx_mb_per_s']} | "
        f"{x['raw_loopback_mb_per_s']} | **{x['ratio_to_raw']}** | {x['bare_http_mb_per_s']} "
        f"| {x['ratio_to_bare_http']} | {x['first_byte_share']} |"
        for i, x in enumerate(r["runs"], 1)
    ]
    command = "python -m bench.rad69_throughput" + ("" if gb == 1 else f" --gb {gb:g}")
    lines = [
        f"## RAD-69 retrieve of a {gb:g} GB study vs raw loopback",
        "",
        f"{r['instances']} CT slices ({r['study_mb']} MB), {r['requests_per_pass']} "
        "RetrieveImagingDocumentSetRequests per pass (one per series, as dicomtrolley sends "
        "them), each answer read by curl over plain HTTP on loopback from `imx serve`, which "
        "sends the stored instances by sendfile(2) (ASGI Zero Copy Send). Raw baseline: the "
        "same files by sendfile over one loopback TCP connection to a Python reader. Bare "
        "HTTP: the same curl requests (no body) to a minimal server that answers each with "
        "its series' files by sendfile and a Content-Length, no parsing or framing: what curl "
        "can take. The three kinds of pass alternate. "
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), Linux {m['kernel']}, Python {m['python']}; "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 1-min load average "
        f"{r['load_average_at_start']} at the start and {load_average()} at the end (shared "
        "machine: other jobs take CPU from both sides).",
        f"Command: `{command}`. Target: imx >= 0.5x raw; responder peak RSS < 200 MB "
        "for a 2 GB study.",
        "",
        "| pass | imx MB/s | raw loopback MB/s | imx / raw | bare HTTP MB/s | imx / bare "
        "| curl's time to first byte, share of the imx pass |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Median **{r['ratio_to_raw_median']}x** raw ({r['imx_mb_per_s_median']} MB/s against "
        f"{r['raw_loopback_mb_per_s_median']} MB/s), {r['ratio_to_bare_http_median']}x bare "
        f"HTTP ({r['bare_http_mb_per_s_median']} MB/s). Responder RSS: "
        f"{r['responder_rss_idle_mib']} MiB idle, **{r['responder_rss_peak_mib']} MiB** peak.",
    ]
    replace_section(f"rad69_{gb:g}gb", lines)


if __name__ == "__main__":
    main()
