"""DCMTK helpers: the loopback bind shim, a storescp destination, and Part-10 comparison."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

# One copy of the loopback shim and port helper, shared with the benchmarks.
from bench.peers.orthanc import free_port, loopback_shim

__all__ = ["dataset_bytes", "free_port", "loopback_shim", "storescp"]


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
