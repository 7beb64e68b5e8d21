"""DCMTK helpers: the loopback bind shim, a storescp destination, and Part-10 comparison."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopback_shim(build_dir: Path) -> Path | None:
    """Compile the LD_PRELOAD shim turning wildcard binds into 127.0.0.1 (DCMTK storescp and
    Orthanc 1.10 have no bind-address option). None when no compiler is available."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    out = build_dir / "bind_loopback.so"
    if not out.exists():
        subprocess.run(
            [gcc, "-shared", "-fPIC", "-O2", "-o", str(out), str(HERE / "bind_loopback.c"), "-ldl"],
            check=True,
        )
    return out


def dataset_bytes(part10: bytes) -> bytes:
    """The dataset that follows the File Meta Information (PS3.10 7.1): what "bit-identical"
    compares, since each writer stamps its own Implementation Class UID in the meta group."""
    assert part10[128:132] == b"DICM"
    # (0002,0000) UL group length: tag 4 + VR 2 + length 2 + value 4 at offset 132
    (group_length,) = struct.unpack("<I", part10[140:144])
    return part10[144 + group_length :]


@contextlib.contextmanager
def storescp(
    out_dir: Path, shim_dir: Path, ae_title: str = "DEST", port: int | None = None
) -> Iterator[int]:
    port = port or free_port()
    env = dict(os.environ)
    shim = loopback_shim(shim_dir)
    if shim is not None:
        env["LD_PRELOAD"] = str(shim)
    proc = subprocess.Popen(
        ["storescp", "-aet", ae_title, "-od", str(out_dir), "+B", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
