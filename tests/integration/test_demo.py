"""`make demo`'s script, run once end to end (synth → import → serve → QIDO self-check)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.peers.dcmtk import free_port

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_demo_runs_and_serves_the_imported_studies(tmp_path: Path) -> None:
    env = {**os.environ, "IMX_DEMO_ONCE": "1", "IMX_DEMO_DIR": str(tmp_path / "demo"),
           "IMX_DEMO_HTTP_PORT": str(free_port()), "IMX_DEMO_DIMSE_PORT": str(free_port())}
    env.pop("IMX_CONFIG", None)
    out = subprocess.run(["bash", "scripts/demo"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "demo self-check: QIDO lists 8 studies" in out.stdout
    assert (tmp_path / "demo" / "data" / "imx.sqlite3").exists()
