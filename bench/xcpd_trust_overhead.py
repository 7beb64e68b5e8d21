"""What full XUA checks cost an ITI-55 (XCPD) responder: queries/s and p99, with vs without.

    python -m bench.xcpd_trust_overhead [--people 20000] [--queries 3000] [--concurrency 8]

Same population, same queries, same server build, run twice on loopback:

1. ``trust.require_assertion = false`` (no wsse:Security checks);
2. ``trust.require_assertion = true``: every request carries a wsu:Timestamp and a SAML 2.0
   assertion signed by a test CA's gateway certificate (RSA-2048, RSA-SHA256, exc-c14n), and
   the responder parses the header, validates the assertion against the SAML XSD, checks the
   chain, the signature (signxml), window, audience, attributes and the purpose-of-use policy.

Assertions are signed beforehand (the client's signing cost is not measured). Writes
``bench/results/xcpd_trust_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from tests.support.xua_pki import pki, user

import bench.iti55_throughput as iti55
from bench.common import ROOT, load_average, process_cpu_s, save
from bench.iti55_throughput import build_data, drive, request_bodies, score_answers
from bench.peers.orthanc import free_port
from imx.security.xua import build_security_header

SOAP = "http://www.w3.org/2003/05/soap-envelope"
HCID = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"


def _config(work: Path, port: int, *, trust: bool) -> Path:
    cfg = work / f"imx-trust-{trust}.toml"
    text = (f"[http]\nport = {port}\n[dimse]\nenabled = false\n"
            f'[storage]\ndata_dir = "{work / "data"}"\n')
    if trust:
        bundle = work / "xua-ca.pem"
        bundle.write_bytes(pki().ca.cert_pem)
        text += f'[trust]\nrequire_assertion = true\ntrust_bundle = "{bundle}"\n'
    cfg.write_text(text)
    return cfg


@contextlib.contextmanager
def serve(work: Path, *, trust: bool) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    cfg = _config(work, port, trust=trust)
    proc = subprocess.Popen([sys.executable, "-m", "imx", "serve", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("wb"),
                            start_new_session=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("imx serve did not start (see serve.log)")
            time.sleep(0.2)
        yield port, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def with_assertions(requests: list[tuple[bytes, int | None]]) -> list[tuple[bytes, int | None]]:
    signer, now, out = pki().signer, dt.datetime.now(dt.UTC), []
    for body, expected in requests:
        env = etree.fromstring(body)
        security = build_security_header(user(audience=(HCID,)), signer.key, [signer.cert], now,
                                         dt.timedelta(minutes=20))
        env.find(f"{{{SOAP}}}Header").append(security)
        out.append((etree.tostring(env, xml_declaration=True, encoding="UTF-8"), expected))
    return out


def measure(work: Path, *, trust: bool, concurrency: int) -> dict[str, Any]:
    with serve(work, trust=trust) as (port, proc):
        requests = request_bodies(work, port)
        if trust:
            requests = with_assertions(requests)
        warm = min(300, len(requests) // 10)
        asyncio.run(drive([port], requests[:warm], concurrency))
        cpu0 = process_cpu_s(proc.pid)
        wall, latencies, answers = asyncio.run(drive([port], requests[warm:], concurrency))
        cpu_ms = (process_cpu_s(proc.pid) - cpu0) * 1000 / len(latencies)
    latencies.sort()
    n = len(latencies)
    return {"queries": n, "queries_per_s": round(n / wall), "p50_ms": round(latencies[n // 2], 2),
            "p99_ms": round(latencies[int(n * 0.99)], 2),
            "server_cpu_ms_per_query": round(cpu_ms, 2),
            "request_bytes_mean": round(sum(len(b) for b, _ in requests) / len(requests)),
            **score_answers(answers), "load_average_during": load_average()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    iti55.CACHE = ROOT / ".cache" / "xcpd_trust"  # our own copy: the ITI-55 bench may be running
    work = build_data(args.people, args.queries, 3)
    plain = measure(work, trust=False, concurrency=args.concurrency)
    checked = measure(work, trust=True, concurrency=args.concurrency)
    save("xcpd_trust_overhead", {
        "people": args.people, "concurrency": args.concurrency, "without_assertion": plain,
        "with_assertion": checked,
        "throughput_ratio": round(checked["queries_per_s"] / plain["queries_per_s"], 3),
        "added_server_cpu_ms_per_query": round(
            checked["server_cpu_ms_per_query"] - plain["server_cpu_ms_per_query"], 2)})


if __name__ == "__main__":
    main()
