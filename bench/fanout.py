"""XCPD fan-out: one patient search across 100 simulated communities.

    python -m bench.fanout [--communities 100] [--runs 3]

The communities are one uvicorn process on loopback (a path each), answering a real
PRPA_IN201306UV02 (built by imx's responder code, each naming its own home community as
custodian) after a latency spread evenly from 10 ms to 5 s. Five fail: two refuse the
connection (closed port), two answer HTTP 500 with a SOAP fault, one accepts and never answers
(cut by the per-community deadline, set to 5.05 s here, just above the slowest responder).

The initiator is imx's own ``NetworkService.search_patient`` over ``SoapPeerGateway`` (httpx,
plain HTTP on loopback, no assertion), in this process. Reported: total wall time, the time the
slowest successful answer arrived (measured, not configured), their difference (target
<= 100 ms), matches found and the failures listed. Results: bench/results/fanout.json and the
"fan-out" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import RESULTS, replace_section, save
from bench.peers.orthanc import free_port

SLOW_S = 5.0
FAST_S = 0.010


FAILURES = {
    "fast": ("refused", "refused", "fault", "fault", "garbage"),
    "silent": ("refused", "refused", "fault", "fault", "hang"),
}


def _communities(n: int, scenario: str) -> list[dict[str, Any]]:
    """Latencies 10 ms .. 5 s; the last five fail (how: ``FAILURES[scenario]``)."""
    good = n - 5
    out = []
    for i in range(n):
        home = f"1.3.6.1.4.1.21367.2026.7.{i + 1}"
        if i < good:
            latency = FAST_S + (SLOW_S - FAST_S) * i / max(good - 1, 1)
            out.append({"i": i, "home": home, "kind": "ok", "latency": latency})
        else:
            kind = FAILURES[scenario][i - good]
            out.append({"i": i, "home": home, "kind": kind, "latency": 0.05 + 0.5 * (i - good)})
    return out


# --- the simulated responders (run as a subprocess: python -m bench.fanout --serve DIR PORT) ---


def _serve(directory: Path, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    table = {c["i"]: c for c in json.loads((directory / "communities.json").read_text())}
    answers = {
        i: (directory / f"answer-{i}.xml").read_bytes()
        for i, c in table.items()
        if c["kind"] == "ok"
    }
    fault = (directory / "fault.xml").read_bytes()

    async def respond(request: Request) -> Response:
        await request.body()
        c = table[int(request.path_params["i"])]
        if c["kind"] == "hang":
            await asyncio.sleep(3600)
        await asyncio.sleep(c["latency"])
        if c["kind"] == "fault":
            return Response(fault, status_code=500, media_type="application/soap+xml")
        if c["kind"] == "garbage":
            return Response(
                b"<html>502 Bad Gateway</html>", status_code=200, media_type="text/html"
            )
        return Response(answers[c["i"]], media_type="application/soap+xml")

    app = Starlette(routes=[Route("/c/{i:int}", respond, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=1024)


def _write_answers(directory: Path, communities: list[dict[str, Any]]) -> None:
    from imx.model.identifiers import PatientId
    from imx.model.patient_discovery import (
        InstanceIdentifier,
        PatientDemographics,
        PatientDiscoveryAnswer,
        PatientMatch,
        QueryResponseCode,
    )
    from imx.transactions.iti55_xcpd import request as iti55_request
    from imx.transactions.iti55_xcpd import response as iti55_response
    from imx.wire.addressing import build_response_headers
    from imx.wire.faults import build_fault
    from imx.wire.soap import build_envelope
    from imx.wire.xml import serialize

    request = iti55_request.parse_request(
        iti55_request.build_request(
            message_id=InstanceIdentifier(root="1.2.3", extension="m"),
            created_at=dt.datetime.now(dt.UTC),
            sender_device_id="1.2.3",
            sender_home_community_id="1.2.3",
            receiver_device_id="1.2.4",
            query_id=InstanceIdentifier(root="1.2.3", extension="q"),
            demographics=_patient(),
        )
    )
    for c in communities:
        if c["kind"] != "ok":
            continue
        theirs = PatientDemographics(
            names=_patient().names,
            gender="F",
            birth_date=_patient().birth_date,
            ids=(PatientId(id=f"P{c['i']}", assigning_authority=c["home"] + ".2"),),
        )
        body = iti55_response.build_response(
            request=request,
            answer=PatientDiscoveryAnswer(
                response_code=QueryResponseCode.OK,
                matches=(PatientMatch(demographics=theirs, score=95),),
            ),
            responder=iti55_response.ResponderIdentity(
                home_community_id=c["home"], organization_name=f"C{c['i']}", device_id=c["home"]
            ),
            message_id=InstanceIdentifier(root=c["home"], extension="r"),
            created_at=dt.datetime.now(dt.UTC),
        )
        env = build_envelope(
            body,
            build_response_headers(
                "urn:hl7-org:v3:PRPA_IN201306UV02:CrossGatewayPatientDiscovery", None, "urn:uuid:1"
            ),
        )
        (directory / f"answer-{c['i']}.xml").write_bytes(serialize(env))
    (directory / "fault.xml").write_bytes(
        serialize(build_envelope(build_fault("Receiver", None, "responder overloaded")))
    )
    (directory / "communities.json").write_text(json.dumps(communities))


def _patient():
    from imx.model.patient_discovery import PatientDemographics, PersonName

    return PatientDemographics(
        names=(PersonName(given=("Maria",), family="Gonzalez"),),
        gender="F",
        birth_date=dt.date(1961, 4, 12),
    )


@contextlib.contextmanager
def _simulator(directory: Path) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fanout", "--serve", str(directory), str(port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=(directory / "simulator.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("simulator did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a held-open "silent" connection blocks SIGTERM
        proc.wait(10)


# --- the initiator ---------------------------------------------------------------------------


class _Cache:
    async def get_correlations(self, key: str, *, now: dt.datetime) -> dict[str, Any]:
        return {}

    async def put_correlation(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def forget(self, key: str) -> int:
        return 0


class _NoAudit:
    async def record(self, record: object) -> None:
        return None


async def _search(
    communities: list[dict[str, Any]], port: int, closed_port: int, deadline_s: float
) -> dict[str, Any]:
    from imx.model.community import Community, CommunityEndpoint
    from imx.peers.soap_client import SoapClientSettings, SoapPeerGateway
    from imx.peers.static_directory import StaticDirectory
    from imx.services.network import NetworkService
    from imx.settings import InitiatingSettings
    from imx.storage.clock import SystemClock

    directory = StaticDirectory(
        [
            Community(
                home_community_id=f"urn:oid:{c['home']}",
                name=f"C{c['i']}",
                endpoints=(
                    CommunityEndpoint(
                        transaction="ITI-55",
                        address=(
                            f"http://127.0.0.1:{closed_port}/c/{c['i']}"
                            if c["kind"] == "refused"
                            else f"http://127.0.0.1:{port}/c/{c['i']}"
                        ),
                    ),
                ),
            )
            for c in communities
        ]
    )
    settings = InitiatingSettings(xcpd_timeout_s=deadline_s)
    peers = SoapPeerGateway(
        SoapClientSettings(home_community_id="urn:oid:1.2.3", xcpd_timeout_s=deadline_s)
    )
    arrivals: dict[str, float] = {}
    started = 0.0

    class Timed:
        async def discover_patient(self, community: Community, demographics: Any) -> Any:
            out = await peers.discover_patient(community, demographics)
            arrivals[community.home_community_id] = time.perf_counter() - started
            return out

    service = NetworkService(
        settings=settings,
        home_community_id="urn:oid:1.2.3",
        directory=directory,
        peers=Timed(),  # type: ignore[arg-type]
        correlations=_Cache(),
        metadata=None,
        ingest=None,  # type: ignore[arg-type]
        audit=_NoAudit(),
        clock=SystemClock(),
    )  # type: ignore[arg-type]
    # One warm-up request (TLS-free loopback: only imports and the first connection).
    await service.search_patient(_patient(), communities=[f"urn:oid:{communities[0]['home']}"])
    started = time.perf_counter()
    result = await service.search_patient(_patient())
    total = time.perf_counter() - started
    await peers.aclose()
    slowest = max(arrivals.values())
    return {
        "total_s": round(total, 3),
        "slowest_success_s": round(slowest, 3),
        "overhead_ms": round((total - slowest) * 1000, 1),
        "found": len(result.patients),
        "failures": sorted(
            f"{f.home_community_id.rsplit('.', 1)[1]}:{f.error_code}:{f.detail[:60]}"
            for f in result.failures
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.serve:
        _serve(Path(args.serve[0]), int(args.serve[1]))
        return
    if args.render:
        render(json.loads((RESULTS / "fanout.json").read_text()))
        return
    scenarios = {}
    for scenario, deadline in (("fast", 60.0), ("silent", SLOW_S + 0.5)):
        communities = _communities(args.communities, scenario)
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            _write_answers(Path(tmp), communities)
            with _simulator(Path(tmp)) as port:
                for _ in range(args.runs):
                    runs.append(asyncio.run(_search(communities, port, free_port(), deadline)))
                    print(scenario, runs[-1], flush=True)
        scenarios[scenario] = {
            "deadline_s": deadline,
            "failures": list(FAILURES[scenario]),
            "runs": runs,
        }
    result = {
        "communities": args.communities,
        "failing": 5,
        "slowest_configured_s": SLOW_S,
        "scenarios": scenarios,
    }
    save("fanout", result)
    render(json.loads((RESULTS / "fanout.json").read_text()))


def render(r: dict[str, Any]) -> None:
    m = r["machine"]
    lines = [
        f"## XCPD fan-out: {r['communities']} communities, {r['failing']} failing",
        "",
        f"One `NetworkService.search_patient` (httpx, plain HTTP on loopback) to {r['communities']} "
        f"simulated responding gateways (one uvicorn process) answering a real PRPA_IN201306UV02 "
        f"after 10 ms to {r['slowest_configured_s']} s, spread evenly. Five fail: scenario *fast*: "
        "two refuse the connection, two answer HTTP 500 + SOAP fault, one answers an HTML page; "
        "scenario *silent*: the last one accepts and never answers, cut at the per-community "
        "deadline. Target: total <= slowest successful answer + 100 ms, every failure listed. "
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), shared with other jobs; run {r['when']}. "
        "Command: `python -m bench.fanout`.",
        "",
        "| scenario | deadline s | run | total s | slowest successful answer s | total - slowest ms "
        "| patients found | failures listed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, sc in r["scenarios"].items():
        for i, run in enumerate(sc["runs"], 1):
            lines.append(
                f"| {name} | {sc['deadline_s']} | {i} | {run['total_s']} | "
                f"{run['slowest_success_s']} | **{run['overhead_ms']}** | {run['found']} | "
                f"{len(run['failures'])} |"
            )
    fast = r["scenarios"]["fast"]["runs"][-1]["failures"]
    lines += [
        "",
        "Failures as reported (community suffix, error code, detail), last *fast* run:",
        "",
    ]
    lines += [f"- `{f}`" for f in fast]
    lines += [
        "",
        "In *silent* the mute community decides the total: the answer waits for its "
        "deadline, whatever the others did. With the production default (60 s) a silent "
        "peer costs 60 s, so set `initiating.xcpd_timeout_s` to what the network's slowest "
        "healthy responders need.",
    ]
    replace_section("fanout", lines)


if __name__ == "__main__":
    main()
