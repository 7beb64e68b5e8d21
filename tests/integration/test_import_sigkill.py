"""SIGKILL in the middle of importing 1,000 instances: after a restart every acknowledged
instance is present and intact, nothing half-written is visible, and a re-run completes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from imx.dicom.synth import generate_patients, generate_study, write_study

pytestmark = pytest.mark.slow


def test_sigkill_during_import(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_study(
        src,
        generate_study(
            generate_patients(61, 1)[0],
            seed=61,
            series_count=10,
            instances_per_series=100,
            rows=8,
            columns=8,
        ),
    )
    cfg = tmp_path / "imx.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\nfsync = true\n')
    cmd = [sys.executable, "-m", "imx", "import", "--json", "--config", str(cfg), str(src)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    acknowledged: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        rec = json.loads(line)
        acknowledged[rec["sop_instance_uid"]] = rec["status"]
        if len(acknowledged) >= 300:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 300

    db = sqlite3.connect(tmp_path / "data" / "imx.sqlite3")
    rows = dict(db.execute("select sop_instance_uid, blob_key || '|' || sha256 from instances"))
    blobs = tmp_path / "data" / "blobs"
    # every acknowledged instance is committed, and its bytes are whole
    for sop in acknowledged:
        key, sha = rows[sop].split("|")
        assert hashlib.sha256((blobs / key).read_bytes()).hexdigest() == sha
    # every committed row points at a whole blob (no row without its bytes)
    for key_sha in rows.values():
        key, sha = key_sha.split("|")
        assert hashlib.sha256((blobs / key).read_bytes()).hexdigest() == sha
    assert not any(".tmp-" in k for k in rows.values())
    # every visible object (temp files are hidden ".tmp-*") is whole: its name carries its hash
    visible = [p for p in blobs.rglob("*.dcm") if not p.name.startswith(".tmp-")]
    assert len(visible) >= len(acknowledged)
    for p in visible:
        assert hashlib.sha256(p.read_bytes()).hexdigest()[:12] == p.name.split(".")[-2]
    db.close()

    # restart: the import runs to the end; acknowledged ones are duplicates now
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    second = [json.loads(x) for x in done.stdout.splitlines()]
    assert {r["sop_instance_uid"] for r in second if r["status"] == "duplicate"} >= set(
        acknowledged
    )
    db = sqlite3.connect(tmp_path / "data" / "imx.sqlite3")
    assert db.execute("select count(*) from instances").fetchone()[0] == 1000
    assert db.execute("select number_of_instances from studies").fetchone()[0] == 1000
