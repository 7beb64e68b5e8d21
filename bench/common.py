"""Shared benchmark plumbing: a served imx node as a subprocess, synthetic data, results file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.peers.orthanc import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass
class ServedNode:
    http_port: int
    dimse_port: int
    process: subprocess.Popen[bytes]
    data_dir: Path

    @property
    def dicomweb(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1]) / 1024


@contextlib.contextmanager
def imx_serve(workdir: Path, *, fsync: bool = True, extra_toml: str = "",
              health_verify: ssl.SSLContext | None = None) -> Iterator[ServedNode]:
    """`imx serve --config <toml>` in ``workdir``; production settings (fsync on) by default.

    The TOML is written from ``imx.settings.Settings`` field names (http.port, dimse.port,
    storage.data_dir, storage.fsync) plus ``extra_toml`` (whole tables, e.g. ``[tls]``);
    ``IMX_*`` variables in the environment still apply. With TLS, pass ``health_verify``
    (a client context) so the start-up probe can pass the mutual-TLS gate.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, dimse_port = free_port(), free_port()
    cfg = workdir / "imx.toml"
    cfg.write_text(
        f"[http]\nport = {http_port}\n[dimse]\nport = {dimse_port}\n"
        f'[storage]\ndata_dir = "{workdir / "data"}"\nfsync = {str(fsync).lower()}\n'
        + extra_toml
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "imx", "serve", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "serve.log").open("wb"),
        start_new_session=True,
    )
    node = ServedNode(http_port, dimse_port, proc, workdir / "data")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                scheme = "https" if health_verify is not None else "http"
                probe = httpx.get(f"{scheme}://127.0.0.1:{http_port}/healthz", timeout=1,
                                  verify=health_verify if health_verify is not None else True)
                if probe.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("imx serve did not start")
            time.sleep(0.1)
        yield node
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process (all its threads) has used so far (proc(5) stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its direct children (HTTP workers, the XUA verifier)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry.name))
    total = 0.0
    for one in pids:
        with contextlib.suppress(OSError):  # a child that just ended
            total += process_cpu_s(one)
    return total


def load_average() -> str:
    """1-minute load average: how busy the shared machine was (other jobs skew wall times)."""
    return Path("/proc/loadavg").read_text().split()[0]


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i % 7
    return (time.perf_counter() - t0) * 1000


def cpu_calibration(n: int = 3_000_000) -> dict[str, object]:
    """The same pure-Python loop alone and in two processes at once (ms each): whether both
    CPUs of this shared VM run at full speed right now. A wide gap between the two means
    the second CPU is partly taken by others, and every two-process figure reads lower."""
    import concurrent.futures
    import multiprocessing

    alone = _spin(n)
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        pair = sorted(pool.map(_spin, [n, n]))
    return {"alone_ms": round(alone), "two_at_once_ms": [round(t) for t in pair]}


def machine() -> dict[str, str]:
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next(
            (
                x.split(":", 1)[1].strip()
                for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")
            ),
            "",
        )
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def save(name: str, result: dict[str, object]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "load_average_at_end": load_average(),
        **result,
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def replace_section(name: str, block_lines: list[str]) -> None:
    """Put ``block_lines`` between ``<!-- name:start -->`` / ``<!-- name:end -->`` in
    docs/benchmarks.md (appended before the generic bench block when new)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    target = ROOT / "docs" / "benchmarks.md"
    text = target.read_text()
    block = "\n".join([start, "", *block_lines, "", end])
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    elif "<!-- bench:start -->" in text:
        head, rest = text.split("<!-- bench:start -->", 1)
        text = head + block + "\n\n<!-- bench:start -->" + rest
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    target.write_text(text)
