"""Start a private Orthanc (Debian's 1.10 + DICOMweb plugin) on loopback for a test or benchmark."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.peers.dcmtk import free_port, loopback_shim

ORTHANC = "/usr/sbin/Orthanc"
PLUGINS = "/usr/share/orthanc/plugins"


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


def available() -> bool:
    return Path(ORTHANC).exists() and shutil.which("gcc") is not None


@contextlib.contextmanager
def orthanc(
    workdir: Path,
    *,
    modalities: dict[str, tuple[str, str, int]] | None = None,
    ae_title: str = "ORTHANC",
) -> Iterator[OrthancPeer]:
    """Run Orthanc with its own storage in ``workdir``; ``modalities`` are its C-MOVE targets."""
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    plugins = [
        p
        for p in (f"{PLUGINS}/libOrthancDicomWeb.so", f"{PLUGINS}/libOrthancGdcm.so")
        if Path(p).exists()
    ]
    config = {
        "Name": "PEER-ORTHANC",
        "StorageDirectory": str(workdir / "db"),
        "IndexDirectory": str(workdir / "db"),
        "StorageCompression": False,
        "Plugins": plugins,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
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
        "StableAge": 2,
        "SaveJobs": False,
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "Host": f"127.0.0.1:{http_port}",
            "StudiesMetadata": "Full",
            "SeriesMetadata": "Full",
        },
    }
    cfg = workdir / "orthanc.json"
    cfg.write_text(json.dumps(config))
    env = dict(os.environ)
    shim = loopback_shim(workdir)
    if shim is not None:
        env["LD_PRELOAD"] = str(shim)  # Orthanc 1.10 has no bind-address option
    proc = subprocess.Popen(
        [ORTHANC, f"--logdir={workdir}", str(cfg)],
        env=env,
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
                raise RuntimeError("Orthanc did not start")
            time.sleep(0.1)
        yield peer
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
