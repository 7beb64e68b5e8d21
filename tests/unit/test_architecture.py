"""The layering of CONVENTIONS §2 holds (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import require_tool


def test_import_contracts_are_kept() -> None:
    tool = require_tool("lint-imports")
    root = Path(__file__).parents[2]
    out = subprocess.run([tool], cwd=root, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(root / "src"), "PATH": str(Path(sys.executable).parent)})
    assert out.returncode == 0, out.stdout[-3000:]
    assert "BROKEN" not in out.stdout
