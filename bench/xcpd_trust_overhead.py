"""What full XUA checks cost an ITI-55 (XCPD) responder: queries/s and p99, with vs without.

    python -m bench.xcpd_trust_overhead [--people 20000] [--queries 3000] [--concurrency 8]
                                        [--reuse 10] [--rounds 3]

Same population, same queries, same server build; each round (``--rounds``) runs three
cases back to back on loopback, and the ratios are taken within a round:

1. ``trust.require_assertion = false`` (no wsse:Security checks);
2. ``trust.require_assertion = true``: every request carries a wsu:Timestamp and a SAML 2.0
   assertion signed by a test CA's gateway certificate (RSA-2048, RSA-SHA256, exc-c14n), and
   the responder parses the header, validates the assertion against the SAML XSD, checks the
   chain, the signature (``xmldsig.py``), window, audience, attributes and the purpose-of-use
   policy (in its XUA verifier child process, ``trust.verifier_process``, the default); a new
   assertion for every request (the worst case);
3. the same, but each assertion is reused for ``--reuse`` consecutive requests (one initiator
   session, as Carequality peers do), each request with its own freshly signed wsu:Timestamp:
   the responder's verified-assertion cache answers the repeats, the Timestamp signature is
   still verified every time.

Runs 2 and 3 are also over mutual TLS (HTTPS, client certificate required and verified against
a test network CA, keep-alive connections as gateways use them); run 1 is plain HTTP, so the
ratios are the whole cost of trust. Assertions are signed beforehand (the client's signing
cost is not measured). Server CPU per query counts ``imx serve`` and its children (the
verifier); the event-loop thread's CPU is reported too.
Writes ``bench/results/xcpd_trust_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import datetime as dt
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from tests.support.xua_pki import pki, user

import bench.iti55_throughput as iti55
from bench.common import RESULTS, ROOT, load_average, replace_section, save, tree_cpu_s
from bench.iti55_throughput import build_data, drive, request_bodies, score_answers
from bench.peers.orthanc import free_port
from imx.security.xua import build_security_header
from imx.security.xua.sign import sign_timestamp

SOAP = "http://www.w3.org/2003/05/soap-envelope"
HCID = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"


def _tls(work: Path) -> dict[str, Path]:
    """A network CA, the responder's certificate (127.0.0.1) and an initiator's."""
    from imx.security import pki as network_pki

    root = work / "tls"
    if (root / "server" / "node.pem").exists():
        return {"ca": root / "ca" / network_pki.CA_CERT, "server": root / "server",
                "client": root / "client"}
    now = dt.datetime.now(dt.UTC)
    ca = network_pki.init_ca_dir(root / "ca", common_name="bench CA", organization="bench",
                                 now=now, key_type="rsa2048")
    for name, home in (("server", HCID), ("client", "urn:oid:1.3.6.1.4.1.21367.2026.1.2")):
        network_pki.issue_node_to_dir(ca, root / name, common_name=name, organization=name,
                                      home_community_id=home, now=now, dns_names=["localhost"],
                                      ip_addresses=["127.0.0.1"], key_type="rsa2048")
    return {"ca": root / "ca" / network_pki.CA_CERT, "server": root / "server",
            "client": root / "client"}


def client_tls(work: Path) -> ssl.SSLContext:
    from imx.security.tls import client_ssl_context

    t = _tls(work)
    return client_ssl_context(cert_file=t["client"] / "node.pem", key_file=t["client"] / "node.key",
                              trust_bundle=t["ca"])


def _config(work: Path, port: int, *, trust: bool) -> Path:
    cfg = work / f"imx-trust-{trust}.toml"
    text = (f"[http]\nport = {port}\n[dimse]\nenabled = false\n"
            f'[storage]\ndata_dir = "{work / "data"}"\n')
    if trust:
        bundle = work / "xua-ca.pem"
        bundle.write_bytes(pki().ca.cert_pem)
        text += f'[trust]\nrequire_assertion = true\ntrust_bundle = "{bundle}"\n'
        t = _tls(work)
        text += (f'[tls]\ncert_file = "{t["server"] / "node.pem"}"\n'
                 f'key_file = "{t["server"] / "node.key"}"\ntrust_bundle = "{t["ca"]}"\n')
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
                scheme, verify = ("https", client_tls(work)) if trust else ("http", True)
                if httpx.get(f"{scheme}://127.0.0.1:{port}/healthz", timeout=1,
                             verify=verify).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("imx serve did not start (see serve.log)")
            time.sleep(0.2)
        if trust:
            time.sleep(1.5)  # the XUA verifier process starts beside the server (~0.5-1 s)
        yield port, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _next_in_session(security: etree._Element, key: Any, n: int) -> etree._Element:
    """The same assertion, a new wsu:Timestamp (own Id) signed again (SPEC-NOTES §5.1)."""
    security = copy.deepcopy(security)
    security.remove(security.find(f"{{{DS}}}Signature"))
    stamp = security.find(f"{{{WSU}}}Timestamp")
    stamp.set(f"{{{WSU}}}Id", f"TS-{uuid.uuid4()}")
    created = stamp.find(f"{{{WSU}}}Created")
    created.text = created.text.replace(".000Z", f".{n % 1000:03d}Z")
    assertion_id = security.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion").get("ID")
    security.append(sign_timestamp(security, key=key, assertion_id=assertion_id))
    return security


def with_assertions(requests: list[tuple[bytes, int | None]], *, reuse: int = 1
                    ) -> list[tuple[bytes, int | None]]:
    signer, now, out = pki().signer, dt.datetime.now(dt.UTC), []
    security = None
    for n, (body, expected) in enumerate(requests):
        env = etree.fromstring(body)
        if n % reuse == 0 or security is None:
            security = build_security_header(user(audience=(HCID,)), signer.key, [signer.cert],
                                             now, dt.timedelta(minutes=20))
        else:
            security = _next_in_session(security, signer.key, n)
        env.find(f"{{{SOAP}}}Header").append(copy.deepcopy(security))
        out.append((etree.tostring(env, xml_declaration=True, encoding="UTF-8"), expected))
    return out


def _loop_thread_cpu_s(pid: int) -> float:
    """CPU seconds of the server's main thread (the event loop: HTTP, XML, the XUA gate)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(work: Path, *, trust: bool, concurrency: int, reuse: int = 1) -> dict[str, Any]:
    with serve(work, trust=trust) as (port, proc):
        requests = request_bodies(work, port)
        if trust:
            requests = with_assertions(requests, reuse=reuse)
        warm = min(300, len(requests) // 10)
        tls = client_tls(work) if trust else None
        asyncio.run(drive([port], requests[:warm], concurrency, tls))
        # The process and its children: the XUA verifier process's CPU counts as trust's.
        cpu0, loop0 = tree_cpu_s(proc.pid), _loop_thread_cpu_s(proc.pid)
        wall, latencies, answers = asyncio.run(drive([port], requests[warm:], concurrency, tls))
        cpu_ms = (tree_cpu_s(proc.pid) - cpu0) * 1000 / len(latencies)
        loop_ms = (_loop_thread_cpu_s(proc.pid) - loop0) * 1000 / len(latencies)
    latencies.sort()
    n = len(latencies)
    return {"queries": n, "queries_per_s": round(n / wall), "p50_ms": round(latencies[n // 2], 2),
            "p99_ms": round(latencies[int(n * 0.99)], 2),
            "server_cpu_ms_per_query": round(cpu_ms, 2),
            "loop_thread_cpu_ms_per_query": round(loop_ms, 2),
            "request_bytes_mean": round(sum(len(b) for b, _ in requests) / len(requests)),
            **score_answers(answers), "load_average_during": load_average()}


def _cost(run: dict[str, Any], plain: dict[str, Any]) -> dict[str, float]:
    return {"throughput_ratio": round(run["queries_per_s"] / plain["queries_per_s"], 3),
            "p99_ratio": round(run["p99_ms"] / plain["p99_ms"], 3),
            "added_server_cpu_ms_per_query": round(
                run["server_cpu_ms_per_query"] - plain["server_cpu_ms_per_query"], 2),
            "added_loop_thread_cpu_ms_per_query": round(
                run["loop_thread_cpu_ms_per_query"] - plain["loop_thread_cpu_ms_per_query"], 2),
            "cpu_ratio": round(plain["server_cpu_ms_per_query"]
                               / run["server_cpu_ms_per_query"], 3)}


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each round measures the three cases back to back; ratios are taken within a round (the
    shared machine's load drifts between rounds) and their median is the headline."""
    out: dict[str, Any] = {"rounds": rounds}
    for case in ("with_assertion", "with_assertion_reused"):
        costs = [r[case]["cost"] for r in rounds]
        out[case] = {key: _median([c[key] for c in costs]) for key in costs[0]}
    return out


def render(r: dict[str, Any]) -> None:
    """Our own section of docs/benchmarks.md (``<!-- xcpd_trust:start -->``)."""
    reuse = r["requests_per_assertion"]
    rounds = r["rounds"]
    loads = [run[case]["load_average_during"] for run in rounds
             for case in ("without_assertion", "with_assertion", "with_assertion_reused")]
    lines = ["## XCPD responder: cost of full XUA assertion checks (trust overhead)", "",
             f"{r['people']:,} patients, {rounds[0]['without_assertion']['queries']:,} timed "
             f"ITI-55 queries per case, {r['concurrency']} keep-alive connections, one `imx "
             "serve` process; assertions and Timestamp signatures made beforehand (the client's "
             "signing is not measured). Each round runs three cases back to back: plain HTTP "
             "without checks; HTTPS with a verified client certificate plus every XUA check and "
             "a new signed assertion per request; the same with each assertion reused for "
             f"{reuse} requests (a fresh signed Timestamp on each). {len(rounds)} rounds, "
             f"finished {r['when']}, 1-min load average {min(loads)}-{max(loads)} during the "
             "cases (shared 2-CPU machine, the client on the same cores). Target (Trust issue): "
             "trust costs at most 30 % of the time per query, i.e. throughput >= 0.77x and p99 "
             "<= 1.3x without. Ratios are taken within a round; the last row is their median. "
             "The XUA gate runs in the server's verifier child process (`trust.verifier_process`, "
             "the default); server CPU counts `imx serve` and that child. Loop-thread CPU is "
             "the server's event-loop thread (TLS records, the XML, handing the envelope to the "
             "verifier).",
             "Command: `python -m bench.xcpd_trust_overhead`; every run, the profile and what "
             "changed: docs/trust-xua.md (Cost).", "",
             "| round | plain q/s | new assertion: q/s, ratio | reused: q/s, ratio | p99 ms "
             "plain / new / reused | server CPU ms/query plain / new / reused | loop-thread CPU "
             "ms/query plain / new / reused |",
             "|---|---|---|---|---|---|---|"]
    for n, run in enumerate(rounds, 1):
        plain, new, reused = (run["without_assertion"], run["with_assertion"],
                              run["with_assertion_reused"])
        lines.append(
            f"| {n} | {plain['queries_per_s']} | {new['queries_per_s']}, "
            f"{new['cost']['throughput_ratio']:.2f} | {reused['queries_per_s']}, "
            f"{reused['cost']['throughput_ratio']:.2f} | {plain['p99_ms']} / {new['p99_ms']} / "
            f"{reused['p99_ms']} | {plain['server_cpu_ms_per_query']} / "
            f"{new['server_cpu_ms_per_query']} / {reused['server_cpu_ms_per_query']} | "
            f"{plain['loop_thread_cpu_ms_per_query']} / {new['loop_thread_cpu_ms_per_query']} / "
            f"{reused['loop_thread_cpu_ms_per_query']} |")
    new, reused = r["with_assertion"], r["with_assertion_reused"]
    lines.append(
        f"| **median** | | **{new['throughput_ratio']:.2f}** (p99 {new['p99_ratio']:.2f}x) | "
        f"**{reused['throughput_ratio']:.2f}** (p99 {reused['p99_ratio']:.2f}x) | | "
        f"added: new +{new['added_server_cpu_ms_per_query']:.2f}, "
        f"reused +{reused['added_server_cpu_ms_per_query']:.2f} | "
        f"added: new +{new['added_loop_thread_cpu_ms_per_query']:.2f}, "
        f"reused +{reused['added_loop_thread_cpu_ms_per_query']:.2f} |")
    replace_section("xcpd_trust", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--reuse", type=int, default=10,
                        help="requests per assertion in the session-reuse run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the three cases, back to back (ratios per round)")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the docs section from the last results")
    args = parser.parse_args()
    if args.render:
        render(json.loads((RESULTS / "xcpd_trust_overhead.json").read_text()))
        return
    iti55.CACHE = ROOT / ".cache" / "xcpd_trust"  # our own copy: the ITI-55 bench may be running
    work = build_data(args.people, args.queries, 3)
    rounds = []
    for _ in range(args.rounds):
        plain = measure(work, trust=False, concurrency=args.concurrency)
        checked = measure(work, trust=True, concurrency=args.concurrency)
        reused = measure(work, trust=True, concurrency=args.concurrency, reuse=args.reuse)
        rounds.append({"without_assertion": plain,
                       "with_assertion": {**checked, "cost": _cost(checked, plain)},
                       "with_assertion_reused": {**reused, "cost": _cost(reused, plain)}})
    save("xcpd_trust_overhead", {"people": args.people, "concurrency": args.concurrency,
                                 "requests_per_assertion": args.reuse, **summarise(rounds)})
    render(json.loads((RESULTS / "xcpd_trust_overhead.json").read_text()))


if __name__ == "__main__":
    main()
