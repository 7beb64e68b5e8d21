"""Where imx's C-STORE ingest time goes: fsync on vs off, and a py-spy sample of the server.

    python -m bench.profile_ingest        (needs py-spy: pip install py-spy; skipped without)

Sends the same 200 CT slices as ``bench.ingest_vs_orthanc`` with storescu (TCP_NODELAY=1) into
``imx serve`` twice (storage.fsync true / false), into a bare pynetdicom SCP that does nothing
(the ceiling of one serial association), into imx over two associations at once (does it
scale past one serial association?), then into imx once more under ``py-spy record`` and
reports, per server thread, the share of wall time spent busy and the busiest imx / library
frames. py-spy slows Python down, so its instances/s is not a benchmark number.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import imx_serve, save
from bench.peers.orthanc import free_port
from imx.dicom.synth import generate_patients, generate_study, write_study

N = 200
# Leaf frames that mean "waiting" (poll sleeps, selector waits, queue waits).
_IDLE = (
    "select (",
    "Condition.wait",
    "dul.py:403",
    "association.py:714",
    "aiosqlite/core.py:59",
    "time.sleep",
    "Event.wait",
    "_wait_for_tstate_lock",
    "lock.acquire",
)
# Inclusive busy samples by the part of the pipeline they belong to (first match wins).
_CATEGORIES = (
    ("blob write + fsync (storage/files.py)", ("storage/files.py",)),
    ("SQL write (storage/sql_store.py)", ("storage/sql_store.py",)),
    ("parse + index fields (services/ingest.py _parse)", ("IngestService._parse",)),
    ("Part-10 re-encode (dicom/part10.py encode_part10)", ("encode_part10",)),
    ("DIMSE decode/encode, state machine (pynetdicom)", ("pynetdicom/",)),
    ("event loop / other Python", ("",)),
)
_KEEP = ("imx/", "pynetdicom/", "pydicom/", "sqlalchemy/engine", "sqlite3", "os.fsync", "files.py")


def storescu(port: int, folder: Path) -> float:
    env = dict(os.environ, TCP_NODELAY="1")
    t0 = time.perf_counter()
    subprocess.run(
        ["storescu", "-aec", "IMX", "+sd", "+r", "-nh", "127.0.0.1", str(port), str(folder)],
        check=True,
        env=env,
        capture_output=True,
    )
    return time.perf_counter() - t0


def parallel_rate(port: int, folders: list[Path]) -> float:
    """storescu on several associations at once (one per folder): all instances / wall time."""
    env = dict(os.environ, TCP_NODELAY="1")
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            ["storescu", "-aec", "IMX", "+sd", "+r", "-nh", "127.0.0.1", str(port), str(f)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for f in folders
    ]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("storescu failed")
    return N / (time.perf_counter() - t0)


def null_scp_rate(folder: Path) -> float:
    """storescu into a bare pynetdicom C-STORE SCP whose handler only answers Success: the
    ceiling pynetdicom + this machine put on one serial association, before any imx work."""
    from pynetdicom import AE, evt

    ae = AE(ae_title="NULL")
    ae.add_supported_context(
        "1.2.840.10008.5.1.4.1.1.2", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
    )
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, lambda event: 0x0000)]
    )
    try:
        return N / storescu(port, folder)
    finally:
        if server is not None:
            server.shutdown()


def summarise(raw: Path, seconds: float, rate_hz: int) -> dict[str, object]:
    """Per thread: busy share of the storescu window; top frames by inclusive busy samples."""
    busy: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    frames: dict[str, Counter[str]] = defaultdict(Counter)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        parts = stack.split(";")
        thread = parts[0].split(":", 1)[-1].strip() or parts[0]
        if len(parts) < 2 or any(i in parts[-1] for i in _IDLE):
            continue
        busy[thread] += int(count)
        stack_text = ";".join(parts[1:])
        label = next(c for c, keys in _CATEGORIES if any(k in stack_text for k in keys))
        categories[label] += int(count)
        for frame in set(parts[1:]):
            if any(k in frame for k in _KEEP):
                frames[thread][frame] += int(count)
    window = seconds * rate_hz
    return {
        "wall_share_by_part": {c: round(n / window, 3) for c, n in categories.most_common()},
        "threads": {
            thread: {
                "busy_share": round(n / window, 2),
                "top": [[f, round(c / window, 3)] for f, c in frames[thread].most_common(8)],
            }
            for thread, n in busy.most_common(6)
        },
    }


def main() -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        slices = work / "ct"
        write_study(
            slices,
            generate_study(
                generate_patients(101, 1)[0], seed=101, series_count=1, instances_per_series=N
            ),
        )
        rates = {}
        for fsync in (True, False):
            with imx_serve(work / f"imx-fsync-{fsync}", fsync=fsync) as node:
                rates[f"fsync={str(fsync).lower()}"] = round(
                    N / storescu(node.dimse_port, slices), 1
                )
        halves = [work / "half0", work / "half1"]
        for i, f in enumerate(sorted(slices.rglob("*.dcm"))):
            (halves[i % 2] / f.name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, halves[i % 2] / f.name)
        with imx_serve(work / "imx-parallel") as node:
            rates["fsync=true, 2 associations in parallel"] = round(
                parallel_rate(node.dimse_port, halves), 1
            )
        rates["bare pynetdicom SCP, no-op handler"] = round(null_scp_rate(slices), 1)
        profile: dict[str, object] = {"skipped": "py-spy not installed"}
        if Path(spy).exists():
            rate_hz = 200
            raw = work / "profile.raw"
            with imx_serve(work / "imx-profiled") as node:
                rec = subprocess.Popen(
                    [
                        spy,
                        "record",
                        "-p",
                        str(node.process.pid),
                        "--format",
                        "raw",
                        "-o",
                        str(raw),
                        "--threads",
                        "--idle",
                        "-r",
                        str(rate_hz),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)
                seconds = storescu(node.dimse_port, slices)
                rec.send_signal(signal.SIGINT)
                rec.wait(60)
            profile = {
                "instances_per_s_under_py_spy": round(N / seconds, 1),
                **summarise(raw, seconds + 1.0, rate_hz),
            }
        save("profile_ingest", {"instances": N, "instances_per_s": rates, "profile": profile})


if __name__ == "__main__":
    main()
