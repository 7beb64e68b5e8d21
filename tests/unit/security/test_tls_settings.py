"""Settings: which listener configurations refuse to start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from imx.cli.main import app
from imx.settings import load_settings


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, str]:
    for name in ("node.pem", "node.key", "trust.pem", "crl.pem"):
        (tmp_path / name).write_text("x")
    return {"cert_file": str(tmp_path / "node.pem"), "key_file": str(tmp_path / "node.key"),
            "trust_bundle": str(tmp_path / "trust.pem")}


def _problems(monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> list[str]:
    monkeypatch.delenv("IMX_CONFIG", raising=False)
    return load_settings(**overrides).problems()


def test_public_bind_with_tls_and_plain_http_off_starts(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, str]
) -> None:
    assert _problems(monkeypatch, http={"host": "192.0.2.10", "insecure_plain_http": False},
                     tls=tls_files) == []


def test_public_bind_with_insecure_setting_refuses_even_with_tls(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, str]
) -> None:
    problems = _problems(monkeypatch, http={"host": "10.1.2.3", "insecure_plain_http": True},
                         tls=tls_files)
    assert any("insecure_plain_http=false" in p for p in problems)


def test_public_bind_without_tls_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = _problems(monkeypatch, http={"host": "192.0.2.10", "insecure_plain_http": False})
    assert any("configure tls.cert_file" in p for p in problems)


def test_plain_http_off_without_tls_refuses_even_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _problems(monkeypatch, http={"insecure_plain_http": False})


def test_half_configured_tls_refuses(monkeypatch: pytest.MonkeyPatch,
                                     tls_files: dict[str, str]) -> None:
    problems = _problems(monkeypatch, tls={"cert_file": tls_files["cert_file"]})
    assert "tls.key_file is required when TLS is configured" in problems
    assert "tls.trust_bundle is required when TLS is configured" in problems


def test_missing_tls_file_refuses(monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, str],
                                  tmp_path: Path) -> None:
    problems = _problems(monkeypatch, tls={**tls_files, "crl_files": [str(tmp_path / "no.crl")]})
    assert problems == [f"tls file not found: {tmp_path / 'no.crl'}"]


@pytest.mark.parametrize("section", ["dimse", "hl7v2"])
def test_listeners_without_tls_stay_on_loopback(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, str], section: str
) -> None:
    problems = _problems(monkeypatch, http={"insecure_plain_http": False}, tls=tls_files,
                         **{section: {"host": "192.0.2.10", "enabled": True}})
    assert any(p.startswith(f"{section}.host 192.0.2.10 beyond loopback") for p in problems)


def test_serve_refuses_to_start_on_an_insecure_combination(tmp_path: Path) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text('[http]\nhost = "192.0.2.10"\ninsecure_plain_http = true\n')
    result = CliRunner().invoke(app, ["serve", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "refusing to start" in result.output
