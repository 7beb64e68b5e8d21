"""A private Orthanc (Debian 1.10 + DICOMweb + GDCM plugins) on loopback, for the benchmarks.

Self-contained on purpose: a user's machine has only this repository. Debian's Orthanc reads
one JSON configuration file given on its command line, and has no bind-address option, so an
LD_PRELOAD shim (``bind_loopback.c`` beside this file, compiled on first use) rewrites its
wildcard ``bind()`` calls to 127.0.0.1. Ports are free ports chosen by the kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["OrthancPeer", "available", "free_port", "loopback_shim", "orthanc"]

HERE = Path(__file__).parent
ORTHANC = "/usr/sbin/Orthanc"
PLUGINS = "/usr/share/orthanc/plugins"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopback_shim(build_dir: Path) -> Path | None:
    """Compile ``bind_loopback.c`` into ``build_dir``; None when there is no C compiler."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None
    out = build_dir / "bind_loopback.so"
    if not out.exists():
        subprocess.run(
            [gcc, "-shared", "-fPIC", "-O2", "-o", str(out), str(HERE / "bind_loopback.c"), "-ldl"],
            check=True,
        )
    return out


@dataclass
class OrthancPeer:
    http_port: int
    dicom_port: int
    ae_title: str
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS"))
        return int(line.split()[1]) / 1024

    def version(self) -> str:
        return str(httpx.get(f"{self.url}/system", timeout=5).json().get("Version", "?"))


def available() -> bool:
    """Orthanc installed and a compiler for the loopback shim present."""
    return Path(ORTHANC).exists() and (shutil.which("gcc") or shutil.which("cc")) is not None


def _config(workdir: Path, http_port: int, dicom_port: int, ae_title: str,
            modalities: dict[str, tuple[str, str, int]] | None = None) -> dict[str, object]:
    plugins = [
        p
        for p in (f"{PLUGINS}/libOrthancDicomWeb.so", f"{PLUGINS}/libOrthancGdcm.so")
        if Path(p).exists()
    ]
    return {
        "Name": "BENCH-ORTHANC",
        "StorageDirectory": str(workdir / "db"),
        "IndexDirectory": str(workdir / "db"),
        "StorageCompression": False,
        "Plugins": plugins,
        "ConcurrentJobs": 2,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "WebDavEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": ae_title,
        "DicomCheckCalledAet": False,
        "DicomPort": dicom_port,
        "DefaultEncoding": "Utf8",
        "UnknownSopClassAccepted": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "DicomCheckModalityHost": False,
        "DicomModalities": {k: list(v) for k, v in (modalities or {}).items()},
        "OverwriteInstances": True,
        "StableAge": 5,
        "SaveJobs": False,
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "Host": f"127.0.0.1:{http_port}",
            "Ssl": False,
            "StudiesMetadata": "Full",
            "SeriesMetadata": "Full",
        },
        "Gdcm": {"Enable": True, "Throttling": 2},
    }


@contextlib.contextmanager
def orthanc(workdir: Path, *, ae_title: str = "ORTHANC",
            modalities: dict[str, tuple[str, str, int]] | None = None) -> Iterator[OrthancPeer]:
    """Run Orthanc with its own storage in ``workdir`` for the duration of the block;
    ``modalities`` are its C-MOVE targets (AE title -> (AE title, host, port))."""
    if not available():
        raise RuntimeError(
            "Orthanc not installed (apt-get install orthanc orthanc-dicomweb orthanc-gdcm gcc)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    cfg = workdir / "orthanc.json"
    cfg.write_text(json.dumps(_config(workdir, http_port, dicom_port, ae_title, modalities),
                              indent=1))
    env = dict(os.environ)
    shim = loopback_shim(workdir)
    if shim is not None:
        env["LD_PRELOAD"] = str(shim)
    proc = subprocess.Popen(
        [ORTHANC, f"--logdir={workdir}", str(cfg)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    peer = OrthancPeer(http_port=http_port, dicom_port=dicom_port, ae_title=ae_title, process=proc)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{peer.url}/system", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc did not start; see {workdir}")
            time.sleep(0.1)
        yield peer
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
