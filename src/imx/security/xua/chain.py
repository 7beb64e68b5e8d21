"""Signing-certificate trust: an explicit path to a configured trust anchor (SPEC-NOTES §5.5 #3).

cryptography's ``x509.verification`` builds Web-PKI server/client verifiers whose extension
policies (EKU, SAN) do not describe a SAML signing certificate, so the path is checked here
directly: each link's signature (``verify_directly_issued_by``), each certificate's validity at
``now``, CA basic constraints on issuers, digitalSignature key usage on the signer, RSA ≥ 2048.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from imx.security.xua.cache import PathValidity
from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault

__all__ = ["load_trust_anchors", "verify_certificate_chain"]

_MAX_DEPTH = 5
_MIN_RSA_BITS = 2048


def load_trust_anchors(pem: bytes) -> tuple[x509.Certificate, ...]:
    """Read a PEM bundle of trust anchors (CA or pinned signer certificates)."""
    return tuple(x509.load_pem_x509_certificates(pem))


def _refuse(detail: str) -> SecurityHeaderError:
    return SecurityHeaderError(detail, fault=WsSecurityFault.FAILED_AUTHENTICATION)


def _check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise _refuse("signing certificate chain is outside its validity period")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _check_signer(leaf: x509.Certificate) -> None:
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < _MIN_RSA_BITS:
        raise _refuse("signing key must be RSA of at least 2048 bits")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.digital_signature:
        raise _refuse("signing certificate key usage does not allow signatures")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _window(path: Sequence[x509.Certificate]) -> PathValidity:
    return PathValidity(not_before=max(c.not_valid_before_utc for c in path),
                        not_after=min(c.not_valid_after_utc for c in path))


def verify_certificate_chain(leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
                             anchors: Sequence[x509.Certificate], *, now: dt.datetime
                             ) -> PathValidity:
    """Accept ``leaf`` if it is a pinned anchor or chains to a CA anchor.

    Returns:
        When every certificate on the accepted path is valid (the responder caches the path
        until then and re-checks ``now`` against it; ``cache.py``).

    Raises:
        SecurityHeaderError: ``FailedAuthentication`` when no valid path exists.
    """
    _check_signer(leaf)
    _check_validity(leaf, now)
    fingerprint = leaf.fingerprint(hashes.SHA256())
    if any(a.fingerprint(hashes.SHA256()) == fingerprint for a in anchors):
        return _window([leaf])  # pinned signer certificate
    current, path = leaf, [leaf]
    for _ in range(_MAX_DEPTH):
        for anchor in anchors:
            if _is_ca(anchor) and _issued_by(current, anchor):
                _check_validity(anchor, now)
                return _window([*path, anchor])
        step = next((c for c in intermediates if c is not current and _is_ca(c)
                     and _issued_by(current, c)), None)
        if step is None:
            break
        _check_validity(step, now)
        current = step
        path.append(step)
    raise _refuse("signing certificate does not chain to a trust anchor")
