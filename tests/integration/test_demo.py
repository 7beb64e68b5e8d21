"""`make demo`'s script, run once end to end: CA, directory, three communities with mTLS and
signed assertions, the scripted exchange (discover at B and C, list, retrieve into A)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_demo_network_runs_the_scripted_exchange(tmp_path: Path) -> None:
    env = {**os.environ, "IMX_DEMO_ONCE": "1", "IMX_DEMO_DIR": str(tmp_path / "demo"),
           "COLUMNS": "200"}
    env.pop("IMX_CONFIG", None)
    out = subprocess.run(["bash", "scripts/demo"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=420)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    text = out.stdout
    # Found at both other communities despite their different demographics
    assert "Community B: Harbor Imaging Center" in text and "Community C: Valley Health Network" in text
    assert "XCPD: 2 communities asked" in text
    assert "retrieval done:" in text and "now serves the study over DICOMweb" in text
    for node in ("a", "b", "c"):
        assert (tmp_path / "demo" / node / "data" / "imx.sqlite3").exists()
    assert (tmp_path / "demo" / "pki" / "ca").is_dir()
