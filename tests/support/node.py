"""A node with real adapters (SQLite + files) in a temp directory, for integration tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from imx.runtime import open_node
from imx.services.context import NodeServices
from imx.settings import Settings, load_settings


def test_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a node living in ``tmp_path``; nested overrides as dicts."""
    storage = {"data_dir": tmp_path / "data", "fsync": False, **overrides.pop("storage", {})}
    manifests = {"debounce_s": 0.0, **overrides.pop("manifests", {})}
    dimse = {"port": 0, **overrides.pop("dimse", {})}
    http = {"port": 0, **overrides.pop("http", {})}
    return load_settings(
        None, storage=storage, manifests=manifests, dimse=dimse, http=http, **overrides
    )


@contextlib.asynccontextmanager
async def open_test_node(tmp_path: Path, **overrides: Any) -> AsyncIterator[NodeServices]:
    async with open_node(test_settings(tmp_path, **overrides)) as services:
        yield services
