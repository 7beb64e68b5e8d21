"""End-to-end retrieval through two gateways with the network's trust on.

    python -m bench.e2e_retrieve [--gb 1]

Community B (``imx serve``: HTTPS with required client certificates, XUA assertions required)
holds a ~1 GB CT study (512x512 16-bit slices, stored over DIMSE by DCMTK storescu). Community
A runs ``imx studies list`` then ``imx studies fetch`` as separate processes, with its own
certificate and a signed assertion per request: ITI-55, ITI-38, ITI-39 for the KOS, then one
RAD-75 request per series, every instance streamed into A's store (SQLite + files, fsync on).

Reported: the fetch's MB/s against a raw loopback transfer of the same files (sendfile, read
and counted), the peak RSS of each gateway process (target <= 200 MB), and that A's copy is
complete. Results: bench/results/e2e_retrieve_<gb>gb.json and the "e2e-retrieve" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, imx_serve, replace_section, save
from bench.rad69_throughput import SLICE_MB, _raw_loopback, _rss_sampler, _wait_idle
from imx.dicom.synth import generate_patients, generate_study, write_study
from imx.security import pki
from imx.security.tls import client_ssl_context

HOME_A = "urn:oid:1.3.6.1.4.1.21367.2026.301"
HOME_B = "urn:oid:1.3.6.1.4.1.21367.2026.302"


def _pki(root: Path) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    ca = pki.init_ca_dir(
        root / "ca", common_name="bench CA", organization="bench", now=now, key_type="rsa2048"
    )
    out = {"bundle": root / "ca" / pki.CA_CERT}
    for name, home in (("a", HOME_A), ("b", HOME_B)):
        issued = pki.issue_node_to_dir(
            ca,
            root / name,
            common_name=f"imx-{name}",
            organization=f"Community {name.upper()}",
            home_community_id=home,
            now=now,
            dns_names=["localhost"],
            ip_addresses=["127.0.0.1"],
            key_type="rsa2048",
        )
        out[name] = (issued.cert_file, issued.key_file)
    return out


def _tls_toml(cert: Path, key: Path, bundle: Path) -> str:
    return f'[tls]\ncert_file = "{cert}"\nkey_file = "{key}"\ntrust_bundle = "{bundle}"\n'


def _run_measured(args: list[str]) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run a command, sampling its RSS; returns (result, seconds, peak RSS MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop, peak = threading.Event(), [0.0]
    sampler = threading.Thread(target=_safe_sampler, args=(proc.pid, stop, peak))
    sampler.start()
    out, err = proc.communicate(timeout=3600)
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    return subprocess.CompletedProcess(args, proc.returncode, out, err), seconds, peak[0]


def _safe_sampler(pid: int, stop: threading.Event, peak: list[float]) -> None:
    try:
        _rss_sampler(pid, stop, peak)
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        pass  # the process ended


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    name = f"e2e_retrieve_{args.gb:g}gb"
    if args.render:
        render(json.loads((RESULTS / f"{name}.json").read_text()))
        return
    n = int(args.gb * 1000 / SLICE_MB)
    per_series = 250
    patient = generate_patients(303, 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        certs = _pki(work / "pki")
        files = write_study(
            work / "study",
            generate_study(
                patient,
                seed=303,
                series_count=(n + per_series - 1) // per_series,
                instances_per_series=per_series,
            ),
        )
        total_mb = sum(f.stat().st_size for f in files) / 1e6
        b_toml = (
            _tls_toml(*certs["b"], certs["bundle"])
            + f'[trust]\nrequire_assertion = true\ntrust_bundle = "{certs["bundle"]}"\n'
            + f'[node]\nhome_community_id = "{HOME_B}"\ninstitution_name = "Community B"\n'
            + f'repository_unique_id = "{HOME_B.removeprefix("urn:oid:")}.1"\n'
        )
        probe = client_ssl_context(
            cert_file=certs["a"][0], key_file=certs["a"][1], trust_bundle=certs["bundle"]
        )
        with imx_serve(work / "b", extra_toml=b_toml, health_verify=probe) as b:
            subprocess.run(
                [
                    "storescu",
                    "-aec",
                    "IMX",
                    "+sd",
                    "+r",
                    "-nh",
                    "127.0.0.1",
                    str(b.dimse_port),
                    str(work / "study"),
                ],
                check=True,
                capture_output=True,
                env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
            )
            _wait_idle(b.process.pid)  # header indexing and the KOS manifest after the burst
            url = f"https://127.0.0.1:{b.http_port}"
            a_toml = work / "a.toml"
            a_toml.write_text(
                f'[node]\nhome_community_id = "{HOME_A}"\ninstitution_name = "Community A"\n'
                f'[storage]\ndata_dir = "{work / "a-data"}"\n[dimse]\nport = 0\n'
                + _tls_toml(*certs["a"], certs["bundle"])
                + "[initiating]\nsend_assertion = true\n"
                + f'[[communities]]\nhome_community_id = "{HOME_B}"\nname = "Community B"\n'
                + "".join(
                    f'[[communities.endpoints]]\ntransaction = "{t}"\naddress = "{url}{p}"\n'
                    for t, p in (
                        ("ITI-55", "/xcpd"),
                        ("ITI-38", "/xca/query"),
                        ("ITI-39", "/xca/retrieve"),
                        ("RAD-75", "/xcai/retrieve"),
                    )
                )
            )
            imx = [sys.executable, "-m", "imx"]
            who = [
                "--given",
                patient.given,
                "--family",
                patient.family,
                "--birth-date",
                patient.birth_date.isoformat(),
                "--gender",
                patient.sex,
                "-c",
                str(a_toml),
            ]
            listed, list_s, _ = _run_measured([*imx, "studies", "list", *who, "--json"])
            if listed.returncode != 0:
                raise SystemExit(listed.stderr[-2000:])
            kos = next(d for d in json.loads(listed.stdout)["documents"] if d["kind"] == "manifest")
            stop, b_peak = threading.Event(), [0.0]
            b_idle = b.rss_mib()
            sampler = threading.Thread(target=_rss_sampler, args=(b.process.pid, stop, b_peak))
            sampler.start()
            fetched, fetch_s, a_peak = _run_measured(
                [
                    *imx,
                    "studies",
                    "fetch",
                    "--community",
                    kos["home_community_id"],
                    "--document",
                    kos["document_unique_id"],
                    "--repository",
                    kos["repository_unique_id"],
                    "-c",
                    str(a_toml),
                    "--json",
                    "--user",
                    "Dr. Bench",
                ]
            )
            stop.set()
            sampler.join()
            if fetched.returncode != 0:
                raise SystemExit(fetched.stderr[-2000:])
            report = json.loads(fetched.stdout)
        raw = _raw_loopback(files)
        mbs = report["received_bytes"] / 1e6 / fetch_s
        result = {
            "instances": len(files),
            "study_mb": round(total_mb),
            "received_instances": report["received_instances"],
            "missing": len(report["missing"]),
            "list_s": round(list_s, 2),
            "fetch_s": round(fetch_s, 2),
            "e2e_mb_per_s": round(mbs, 1),
            "raw_loopback_mb_per_s": round(raw, 1),
            "ratio_to_raw": round(mbs / raw, 3),
            "initiator_rss_peak_mib": round(a_peak),
            "responder_rss_idle_mib": round(b_idle),
            "responder_rss_peak_mib": round(b_peak[0]),
        }
    save(name, result)
    render(json.loads((RESULTS / f"{name}.json").read_text()))


def render(r: dict[str, Any]) -> None:
    m = r["machine"]
    lines = [
        "## End-to-end retrieval: initiating and responding gateways, mutual TLS + XUA",
        "",
        f"A {r['study_mb']} MB CT study ({r['instances']} slices) at community B (`imx serve`, "
        "HTTPS with client certificates, signed assertions required) fetched by community A "
        "(`imx studies fetch`, its own certificate, a signed assertion per request): ITI-39 for "
        "the KOS, one RAD-75 per series of 250, every instance streamed into A's store (SQLite + "
        "files, fsync on). Raw loopback: the same files over one plain TCP socket (sendfile), "
        f"read and counted. Machine: {m['cpus']} CPUs ({m['cpu']}), shared with other jobs; run "
        f"{r['when']}. Command: `python -m bench.e2e_retrieve`. Targets: RSS <= 200 MB each.",
        "",
        "| study MB | received | missing | discovery + query s | fetch s | MB/s | raw loopback MB/s | "
        "ratio | initiator peak RSS MiB | responder RSS idle / peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {r['study_mb']} | {r['received_instances']} | {r['missing']} | {r['list_s']} | "
        f"{r['fetch_s']} | **{r['e2e_mb_per_s']}** | {r['raw_loopback_mb_per_s']} | "
        f"{r['ratio_to_raw']}x | **{r['initiator_rss_peak_mib']}** | {r['responder_rss_idle_mib']} / "
        f"**{r['responder_rss_peak_mib']}** |",
        "",
        "The initiator's MB/s includes storing every instance durably (parse, fsync'd file, "
        "database row): it is an import, not a copy, which is why it sits far below a bare "
        "socket.",
    ]
    replace_section("e2e-retrieve", lines)


if __name__ == "__main__":
    main()
