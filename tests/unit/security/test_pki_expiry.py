"""Expiry warnings for certificates and CRLs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from imx.security import pki
from imx.security.expiry import check_certificate, check_crl, check_files, days_left

CA = tuple[pki.PrivateKey, x509.Certificate]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ca() -> tuple[pki.PrivateKey, x509.Certificate]:
    key = pki.generate_key("ec-p256")
    return key, pki.create_ca_certificate(key, common_name="CA", organization="O", now=NOW,
                                          valid_days=100)


def test_days_left_rounds_down_and_goes_negative() -> None:
    assert days_left(NOW + dt.timedelta(days=3, hours=23), NOW) == 3
    assert days_left(NOW - dt.timedelta(hours=1), NOW) == -1


@pytest.mark.parametrize(("at_day", "state"), [(0, "ok"), (70, "ok"), (71, "expiring"),
                                               (99, "expiring"), (101, "expired")])
def test_certificate_warns_inside_the_window(ca: CA, at_day: int, state: str) -> None:
    _, cert = ca
    status = check_certificate(cert, now=NOW + dt.timedelta(days=at_day), warning_days=30)
    assert status.state == state
    if state == "expired":
        assert "EXPIRED" in status.message


def test_crl_warns_before_next_update(ca: CA) -> None:
    key, cert = ca
    crl = pki.build_crl(cert, key, [], now=NOW, crl_number=1, next_update_days=7)
    assert check_crl(crl, now=NOW, warning_days=30).state == "ok"
    assert check_crl(crl, now=NOW + dt.timedelta(days=6), warning_days=30).state == "expiring"
    assert check_crl(crl, now=NOW + dt.timedelta(days=8), warning_days=30).state == "expired"


def test_check_files_sorts_soonest_first(tmp_path: Path, ca: CA) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    key, cert = ca
    (tmp_path / "ca.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    crl = pki.build_crl(cert, key, [], now=NOW, crl_number=1, next_update_days=7)
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
    statuses = check_files(certificates=[tmp_path / "ca.pem"], crls=[tmp_path / "crl.pem"],
                           now=NOW, warning_days=30)
    assert [s.kind for s in statuses] == ["crl", "certificate"]
