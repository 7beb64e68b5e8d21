"""`imx db upgrade` creates the schema once; a second run is a no-op; an old schema is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from imx.cli.main import app
from imx.errors import StoreError
from imx.settings import load_settings
from imx.storage import build_metadata_store


def test_upgrade_twice(tmp_path: Path) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    first = CliRunner().invoke(app, ["db", "upgrade", "--config", str(cfg)])
    assert first.exit_code == 0, first.output
    assert "applied [1" in first.output  # every migration, 0001 first
    second = CliRunner().invoke(app, ["db", "upgrade", "--config", str(cfg)])
    assert second.exit_code == 0 and "nothing to apply" in second.output


async def test_store_refuses_unmigrated_database(tmp_path: Path) -> None:
    settings = load_settings(None, storage={"data_dir": tmp_path / "data"})
    with pytest.raises(StoreError, match="imx db upgrade"):
        await build_metadata_store(settings.storage)
    store = await build_metadata_store(settings.storage, auto_upgrade=True)
    await store.close()
