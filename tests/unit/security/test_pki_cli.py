"""``imx pki``: a sandbox network made, used, revoked and checked from the command line."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imx.cli.main import app
from imx.security import pki
from imx.security.tls import peer_identity, server_ssl_context

runner = CliRunner()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki-cli")
    r = runner.invoke(app, ["pki", "init-ca", str(root / "ca"), "--key-type", "ec-p256"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [
        "pki", "issue", "--ca", str(root / "ca"), "--name", "imx-a",
        "--organization", "Community A", "--home-community-id", "urn:oid:1.2.3.4",
        "--out", str(root / "a"), "--dns", "localhost", "--ip", "127.0.0.1",
        "--key-type", "rsa2048"])
    assert r.exit_code == 0, r.output
    assert 'cert_file = "' in r.output  # the [tls] settings to paste
    return root


def test_issued_node_is_usable_as_a_tls_server(sandbox: Path) -> None:
    ctx = server_ssl_context(cert_file=sandbox / "a" / "node.pem",
                             key_file=sandbox / "a" / "node.key",
                             trust_bundle=sandbox / "a" / "trust.pem",
                             crl_files=(sandbox / "ca" / pki.CRL_FILE,))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    ident = peer_identity(pki.load_certificates(sandbox / "a" / "node.pem")[0])
    assert (ident.organization, ident.home_community_id) == ("Community A", "urn:oid:1.2.3.4")
    assert stat.S_IMODE((sandbox / "a" / "node.key").stat().st_mode) == 0o600


def test_revoke_puts_the_serial_on_the_crl(sandbox: Path) -> None:
    r = runner.invoke(app, ["pki", "revoke", "--ca", str(sandbox / "ca"),
                            str(sandbox / "a" / "node.pem")])
    assert r.exit_code == 0, r.output
    serial = pki.load_certificates(sandbox / "a" / "node.pem")[0].serial_number
    crl = pki.load_crls(sandbox / "ca" / pki.CRL_FILE)[0]
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    r = runner.invoke(app, ["pki", "crl", "--ca", str(sandbox / "ca"), "--days", "3"])
    assert r.exit_code == 0, r.output
    crl = pki.load_crls(sandbox / "ca" / pki.CRL_FILE)[0]
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None  # kept on reissue


def test_check_prints_days_and_fails_inside_the_warning_window(sandbox: Path) -> None:
    cert = str(sandbox / "a" / "node.pem")
    r = runner.invoke(app, ["pki", "check", cert])
    assert r.exit_code == 0, r.output
    assert "364 days" in r.output or "365 days" in r.output
    r = runner.invoke(app, ["pki", "check", cert, "--warning-days", "400"])
    assert r.exit_code == 1
    assert "expiring" in r.output


def test_check_reads_crls_too(sandbox: Path) -> None:
    r = runner.invoke(app, ["pki", "check", str(sandbox / "ca" / pki.CRL_FILE)])
    assert r.exit_code == 0, r.output
    assert "crl" in r.output


def test_issue_rejects_a_bad_home_community_id(sandbox: Path) -> None:
    r = runner.invoke(app, ["pki", "issue", "--ca", str(sandbox / "ca"), "--name", "x",
                            "--home-community-id", "not-an-oid", "--out",
                            str(sandbox / "x")])
    assert r.exit_code != 0
    assert not (sandbox / "x" / "node.key").exists()


def test_init_ca_twice_refuses(sandbox: Path) -> None:
    r = runner.invoke(app, ["pki", "init-ca", str(sandbox / "ca")])
    assert r.exit_code != 0


def test_missing_ca_is_explained(tmp_path: Path) -> None:
    r = runner.invoke(app, ["pki", "crl", "--ca", str(tmp_path)])
    assert r.exit_code != 0
    assert "init-ca" in r.output
