"""Warnings before certificates and CRLs run out.

An expired node certificate fails every handshake with every peer; an expired CRL is worse
in one way: with revocation checking on, OpenSSL refuses *all* peers ("CRL has expired",
RFC 5280 6.3.3 (a)(2)) until a fresh CRL is loaded. Both are announced ahead of time here.
Pure functions over parsed objects; ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509

from imx.security.pki import load_certificates, load_crls

__all__ = ["ExpiryStatus", "check_certificate", "check_crl", "check_files", "days_left"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpiryStatus:
    label: str  # file and subject / issuer, never a key
    kind: Literal["certificate", "crl"]
    expires_at: dt.datetime
    days_left: int  # whole days, rounded down; negative once expired
    state: Literal["ok", "expiring", "expired"]

    @property
    def message(self) -> str:
        when = self.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        if self.state == "expired":
            return f"{self.kind} {self.label} EXPIRED at {when}"
        return f"{self.kind} {self.label} expires in {self.days_left} days ({when})"


def days_left(expires_at: dt.datetime, now: dt.datetime) -> int:
    return math.floor((expires_at - now) / dt.timedelta(days=1))


def check_certificate(cert: x509.Certificate, *, now: dt.datetime, warning_days: int,
                      label: str = "") -> ExpiryStatus:
    name = label or cert.subject.rfc4514_string()
    return _status(name, "certificate", cert.not_valid_after_utc, now, warning_days)


def check_crl(crl: x509.CertificateRevocationList, *, now: dt.datetime, warning_days: int,
              label: str = "") -> ExpiryStatus:
    # A CRL without nextUpdate never goes stale to OpenSSL; report it as good for a year.
    next_update = crl.next_update_utc or now + dt.timedelta(days=365)
    # CRLs are reissued every few days, so warn at a fraction of the certificate window.
    window = max(1, min(warning_days, 2))
    return _status(label or crl.issuer.rfc4514_string(), "crl", next_update, now, window)


def check_files(*, certificates: Iterable[Path], crls: Iterable[Path], now: dt.datetime,
                warning_days: int) -> list[ExpiryStatus]:
    """The status of every certificate in the given PEM files and every CRL, soonest first."""
    out = [
        check_certificate(c, now=now, warning_days=warning_days,
                          label=f"{path.name}: {c.subject.rfc4514_string()}")
        for path in certificates for c in load_certificates(path)
    ]
    out += [
        check_crl(c, now=now, warning_days=warning_days,
                  label=f"{path.name}: {c.issuer.rfc4514_string()}")
        for path in crls for c in load_crls(path)
    ]
    return sorted(out, key=lambda s: s.expires_at)


def _status(label: str, kind: Literal["certificate", "crl"], expires_at: dt.datetime,
            now: dt.datetime, warning_days: int) -> ExpiryStatus:
    left = days_left(expires_at, now)
    state: Literal["ok", "expiring", "expired"] = (
        "expired" if now >= expires_at else "expiring" if left < warning_days else "ok")
    return ExpiryStatus(label=label, kind=kind, expires_at=expires_at, days_left=left, state=state)
