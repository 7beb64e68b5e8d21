"""Settings: precedence (env > TOML > defaults), validation, refusal of insecure combinations."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from imx.cli.main import app
from imx.settings import load_settings


def test_defaults_are_local_and_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMX_CONFIG", raising=False)
    s = load_settings()
    assert s.http.host == "127.0.0.1"
    assert s.dimse.host == "127.0.0.1"
    assert s.storage.effective_database_url().startswith("sqlite+aiosqlite:///")
    assert s.problems() == []


def test_toml_then_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text('[http]\nport = 9000\n[dimse]\nae_title = "FROMTOML"\nport = 4242\n')
    monkeypatch.setenv("IMX_DIMSE__PORT", "5555")
    s = load_settings(cfg)
    assert s.http.port == 9000  # from TOML
    assert s.dimse.ae_title == "FROMTOML"
    assert s.dimse.port == 5555  # env beats TOML


def test_imx_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "node.toml"
    cfg.write_text('[node]\nname = "Community B"\n')
    monkeypatch.setenv("IMX_CONFIG", str(cfg))
    assert load_settings().node.name == "Community B"


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.toml")


def test_invalid_ae_title_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text('[dimse]\nae_title = "THIS_AE_TITLE_IS_TOO_LONG"\n')
    with pytest.raises(ValidationError):
        load_settings(cfg)


def test_unknown_setting_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text("[http]\nprot = 1\n")
    with pytest.raises(ValidationError):
        load_settings(cfg)


def test_binding_beyond_loopback_without_tls_refuses(tmp_path: Path) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text('[http]\nhost = "0.0.0.0"\n')
    s = load_settings(cfg)
    assert any("needs TLS" in p for p in s.problems())
    result = CliRunner().invoke(app, ["config", "check", "--config", str(cfg)])
    assert result.exit_code == 1


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text('[storage]\ndatabase_url = "postgresql+psycopg://u:hunter2@db/imx"\n')
    result = CliRunner().invoke(app, ["config", "show", "--config", str(cfg)])
    assert result.exit_code == 0
    assert "hunter2" not in result.output
    assert "**" in result.output


def test_keep_alive_cap_is_on_only_where_it_spreads_connections() -> None:
    from imx.settings import HttpSettings

    assert HttpSettings().requests_per_connection == 0  # one process: nothing to spread
    assert HttpSettings(workers=2).requests_per_connection == 100
    assert HttpSettings(workers=2, max_requests_per_connection=0).requests_per_connection == 0
    assert HttpSettings(max_requests_per_connection=7).requests_per_connection == 7
