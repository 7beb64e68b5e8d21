"""The network in a box (``make demo`` / ``imx demo``): a CA, a participant directory and three
communities on loopback with mutual TLS and signed assertions between them, synthetic patients
who appear in several communities with slightly different demographics, then a scripted
exchange from community A through its JSON API: discover, list, retrieve, import.

Everything lives under one folder (default ``var/demo``): ``pki/`` (the network CA, one
certificate per node and one for the operator), ``directory.sqlite``, ``a/ b/ c/`` (each node's
``imx.toml``, data and log). Each community is a real ``imx serve`` process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from imx.dicom.synth import SynthPatient, generate_patients, generate_study, write_study
from imx.directory.app import build_directory_app
from imx.directory.auth import hash_token
from imx.directory.publish import PublishSpec, node_entries
from imx.directory.store import DirectoryStore
from imx.directory.tokens import Authenticator
from imx.security import pki
from imx.security.tls import client_ssl_context
from imx.storage.engine import create_engine

__all__ = ["DemoNode", "run_network_demo"]

ROOT_OID = "1.3.6.1.4.1.21367.2026.500"
DEMO_PASSWORD = "demo"  # noqa: S105 - the portal user of the demo network (loopback only)


@dataclass(frozen=True)
class DemoNode:
    key: str  # "a" | "b" | "c"
    name: str
    home_community_id: str
    city: str
    state: str
    postal_code: str
    http_port: int
    dimse_port: int

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.http_port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nodes() -> list[DemoNode]:
    places = {
        "a": ("Community A: Riverside Hospital", "Boston", "MA", "02114"),
        "b": ("Community B: Harbor Imaging Center", "Cambridge", "MA", "02139"),
        "c": ("Community C: Valley Health Network", "Worcester", "MA", "01608"),
    }
    return [
        DemoNode(
            key=k,
            name=n,
            home_community_id=f"urn:oid:{ROOT_OID}.{i + 1}",
            city=c,
            state=s,
            postal_code=z,
            http_port=_free_port(),
            dimse_port=_free_port(),
        )
        for i, (k, (n, c, s, z)) in enumerate(places.items())
    ]


def _variant(p: SynthPatient, community: str, index: int) -> SynthPatient:
    """The same person as another community registered them: new local ID, small differences."""
    issuer = f"{ROOT_OID}.{ {'a': 1, 'b': 2, 'c': 3}[community] }.2"
    pid = f"{community.upper()}{index:05d}"
    if community == "b":
        return dataclasses.replace(p, patient_id=pid, issuer_oid=issuer, middle="")
    if community == "c":  # a typo in the given name and an old address
        given = p.given[:-1] + ("y" if p.given[-1] != "y" else "i")
        return dataclasses.replace(
            p, patient_id=pid, issuer_oid=issuer, given=given, street="12 Old Mill Rd"
        )
    return dataclasses.replace(p, patient_id=pid, issuer_oid=issuer)


def _write_pki(root: Path, nodes: list[DemoNode]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    if (root / "ca" / pki.CA_CERT).exists():
        ca = pki.load_ca_dir(root / "ca")
    else:
        ca = pki.init_ca_dir(
            root / "ca",
            common_name="imx demo network CA",
            organization="imx demo network",
            now=now,
            key_type="rsa2048",
        )
    out: dict[str, Any] = {"bundle": root / "ca" / pki.CA_CERT}
    for n in nodes:
        issued = pki.issue_node_to_dir(
            ca,
            root / n.key,
            common_name=f"imx-{n.key}",
            organization=n.name,
            home_community_id=n.home_community_id,
            now=now,
            dns_names=["localhost"],
            ip_addresses=["127.0.0.1"],
            key_type="rsa2048",
        )
        out[n.key] = (issued.cert_file, issued.key_file)
    operator = pki.issue_node_to_dir(
        ca,
        root / "operator",
        common_name="demo operator",
        organization=nodes[0].name,
        home_community_id=nodes[0].home_community_id,
        now=now,
        key_type="rsa2048",
    )
    out["operator"] = (operator.cert_file, operator.key_file)
    # For a browser: the operator's certificate and key as PKCS#12 (password "demo").
    key = serialization.load_pem_private_key(operator.key_file.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(operator.cert_file.read_bytes())
    p12 = pkcs12.serialize_key_and_certificates(
        b"imx demo operator",
        key,
        cert,
        [ca.certificate],  # type: ignore[arg-type]
        serialization.BestAvailableEncryption(DEMO_PASSWORD.encode()),
    )
    out["p12"] = root / "operator" / "operator.p12"
    out["p12"].write_bytes(p12)
    return out


def _toml(
    n: DemoNode, folder: Path, certs: dict[str, Any], directory_url: str, api_key_sha256: str
) -> str:
    cert, key = certs[n.key]
    return f"""# Community {n.key.upper()} of the imx demo network (generated by `imx demo`)
[node]
name = "{n.name}"
home_community_id = "{n.home_community_id}"
repository_unique_id = "{n.home_community_id.removeprefix("urn:oid:")}.1"
institution_name = "{n.name}"
base_url = "{n.url}"

[http]
port = {n.http_port}

[dimse]
ae_title = "IMX{n.key.upper()}"
port = {n.dimse_port}

[storage]
data_dir = "{folder / "data"}"
fsync = false

[manifests]
debounce_s = 0.5

[tls]
cert_file = "{cert}"
key_file = "{key}"
trust_bundle = "{certs["bundle"]}"

[trust]
require_assertion = true
trust_bundle = "{certs["bundle"]}"
require_known_community = true

[initiating]
send_assertion = true

[directory]
url = "{directory_url}"
sync_interval_s = 30

[[api.keys]]
name = "demo-script"
sha256 = "{api_key_sha256}"
requester_name = "Dr. Demo Clinician"

[portal]
loopback_only = true

[[portal.users]]
name = "Dr. Demo Clinician"
password_sha256 = "{hashlib.sha256(DEMO_PASSWORD.encode()).hexdigest()}"
role = "admin"
"""


@contextlib.asynccontextmanager
async def _directory(path: Path, entries: list[dict[str, Any]]) -> AsyncIterator[str]:
    store = DirectoryStore(create_engine(f"sqlite+aiosqlite:///{path}"))
    await store.create_tables()
    for resource in entries:
        await store.put(resource)
    app = build_directory_app(
        store, Authenticator(store, admin_token_sha256=hash_token(secrets.token_hex(16)))
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        if task.done():
            await task
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await store.close()


def _load(folder: Path, patients: list[SynthPatient], seed: int) -> int:
    """Write the community's studies and import them with `imx import` (the node is not up yet)."""
    source = folder / "incoming"
    count = 0
    if not source.exists():
        for i, p in enumerate(patients):
            for s in range(1 + (i + seed) % 2):
                count += len(
                    write_study(
                        source / f"{p.patient_id}-{s}",
                        generate_study(
                            p,
                            seed=seed * 100 + i,
                            study_index=s,
                            series_count=2,
                            instances_per_series=24,
                            rows=256,
                            columns=256,
                        ),
                    )
                )
    subprocess.run(
        [sys.executable, "-m", "imx", "import", str(source), "-c", str(folder / "imx.toml")],
        check=True,
        capture_output=True,
    )
    return count


async def _wait_healthy(
    n: DemoNode, client: httpx.AsyncClient, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(f"{n.url}/healthz")).status_code == 200:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"community {n.key.upper()} did not start (see its serve.log)")
        await asyncio.sleep(0.2)


async def run_network_demo(root: Path, *, once: bool, console: Console) -> int:  # noqa: C901
    started = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    nodes = _nodes()
    certs = _write_pki(root / "pki", nodes)
    api_key = secrets.token_urlsafe(24)
    console.rule("[bold]imx demo network")
    console.print(f"network CA and certificates: {root / 'pki'}")

    people = generate_patients(2026, 6)
    roster = {"a": people[:2], "b": people[:4], "c": people[1:6]}
    entries = [
        e
        for n in nodes
        for e in node_entries(
            PublishSpec(
                home_community_id=n.home_community_id,
                name=n.name,
                base_url=n.url,
                city=n.city,
                state=n.state,
                postal_code=n.postal_code,
            )
        )
    ]
    procs: list[subprocess.Popen[bytes]] = []
    async with _directory(root / "directory.sqlite", entries) as directory_url:
        console.print(
            f"participant directory (FHIR R4): {directory_url}/Organization "
            f"({len(nodes)} organisations published)"
        )
        for n in nodes:
            folder = root / n.key
            folder.mkdir(exist_ok=True)
            (folder / "imx.toml").write_text(
                _toml(n, folder, certs, directory_url, hashlib.sha256(api_key.encode()).hexdigest())
            )
            variants = [_variant(p, n.key, i) for i, p in enumerate(roster[n.key])]
            count = await asyncio.to_thread(_load, folder, variants, ord(n.key))
            console.print(f"{n.name}: {len(variants)} patients, {count} instances imported")
        try:
            for n in nodes:
                folder = root / n.key
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "imx", "serve", "-c", str(folder / "imx.toml")],
                        stdout=subprocess.DEVNULL,
                        stderr=(folder / "serve.log").open("wb"),
                        start_new_session=True,
                    )
                )
            ctx = client_ssl_context(
                cert_file=certs["operator"][0],
                key_file=certs["operator"][1],
                trust_bundle=certs["bundle"],
            )
            async with httpx.AsyncClient(verify=ctx, timeout=120) as client:
                for n, proc in zip(nodes, procs, strict=True):
                    await _wait_healthy(n, client, proc)
                    console.print(f"{n.name} serving at {n.url} (mTLS, signed assertions required)")
                a = nodes[0]
                api = f"{a.url}/api/v1"
                headers = {"Authorization": f"Bearer {api_key}"}
                who = people[1]  # registered at all three, with differences
                console.rule(
                    f"[bold]From {a.name}: find {who.given} {who.family}, born {who.birth_date}"
                )
                body = {
                    "given": who.given,
                    "family": who.family,
                    "birth_date": who.birth_date.isoformat(),
                    "gender": who.sex,
                    "street": who.street,
                    "city": who.city,
                    "state": who.state,
                    "postal_code": who.postal_code,
                }
                deadline = time.monotonic() + 60
                while True:  # the nodes' first directory sync runs in the background
                    found = (
                        await client.post(
                            f"{api}/patients/search",
                            headers=headers,
                            json={**body, "use_cache": False},
                        )
                    ).json()
                    if len(found.get("patients", [])) >= 2 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                table = Table(title=f"XCPD: {found['xcpd_sent']} communities asked")
                for col in ("community", "their patient ID", "name there", "birth date", "score"):
                    table.add_column(col)
                for p in found["patients"]:
                    table.add_row(
                        p["organization"],
                        p["patient_id"],
                        f"{' '.join(p['given'])} {p['family']}",
                        str(p["birth_date"]),
                        str(p["responder_score"]),
                    )
                console.print(table)
                for f in found["failures"]:
                    console.print(f"[yellow]{f['home_community_id']}: {f['error_code']}[/]")
                if not found["patients"]:
                    console.print("[red]the patient was not found: see the nodes' serve.log[/]")
                    return 1
                studies = (
                    await client.post(
                        f"{api}/studies/search",
                        headers=headers,
                        json={
                            "patients": [
                                {
                                    k: p[k]
                                    for k in (
                                        "home_community_id",
                                        "patient_id",
                                        "assigning_authority",
                                    )
                                }
                                for p in found["patients"]
                            ]
                        },
                    )
                ).json()
                table = Table(
                    title=f"XCA: {len(studies['documents'])} documents ({studies['status']})"
                )
                for col in ("date", "kind", "title", "source"):
                    table.add_column(col)
                for d in studies["documents"]:
                    table.add_row(
                        (d["service_start_time"] or d["creation_time"] or "")[:10],
                        d["kind"],
                        d["title"],
                        d["organization"],
                    )
                console.print(table)
                kos = next((d for d in studies["documents"] if d["kind"] == "manifest"), None)
                if kos is None:
                    console.print("[red]no imaging manifest found[/]")
                    return 1
                console.rule(f"[bold]Retrieve '{kos['title']}' from {kos['organization']}")
                job = (
                    await client.post(
                        f"{api}/retrievals",
                        headers=headers,
                        json={
                            k: kos[k]
                            for k in (
                                "home_community_id",
                                "repository_unique_id",
                                "document_unique_id",
                            )
                        },
                    )
                ).json()
                t0 = time.monotonic()
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[mb]:.1f} MB"),
                    TimeElapsedColumn(),
                    console=console,
                ) as bars:
                    bar = bars.add_task("instances", total=None, mb=0.0)
                    while job["status"] in ("queued", "running"):
                        await asyncio.sleep(0.2)
                        job = (
                            await client.get(f"{api}/retrievals/{job['id']}", headers=headers)
                        ).json()
                        bars.update(
                            bar,
                            total=job["total_instances"] or None,
                            completed=job["received_instances"] + job["already_present"],
                            mb=job["received_bytes"] / 1e6,
                        )
                seconds = time.monotonic() - t0
                console.print(
                    f"retrieval {job['status']}: {job['received_instances']} instances, "
                    f"{job['received_bytes'] / 1e6:.1f} MB in {seconds:.1f} s into "
                    f"{a.name}'s store (study {job['study_instance_uid']})"
                )
                local = (
                    await client.get(
                        f"{a.url}/dicom-web/studies/{job['study_instance_uid']}/series"
                    )
                ).json()
                console.print(f"{a.name} now serves the study over DICOMweb: {len(local)} series")
                console.rule(f"[bold]Done in {time.monotonic() - started:.0f} s")
                console.print(
                    f"Portal: {a.url}/portal/  sign in as 'Dr. Demo Clinician', password "
                    f"'{DEMO_PASSWORD}'. The node asks the browser for a client "
                    f"certificate: import {certs['p12']} (password '{DEMO_PASSWORD}') "
                    "and trust the demo CA in pki/ca."
                )
                console.print(f"JSON API: {api}/openapi.json   API key for this run: {api_key}")
                if job["status"] != "done":
                    return 1
                if once:
                    return 0
                console.print("Press Ctrl-C to stop the network.")
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                loop.add_signal_handler(signal.SIGINT, stop.set)
                loop.add_signal_handler(signal.SIGTERM, stop.set)
                await stop.wait()
                return 0
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
