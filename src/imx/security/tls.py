"""TLS contexts for mutual authentication, and the verified identity of a peer.

Carequality requires 2-way TLS with one certificate type on both sides (SPEC-NOTES §5.6).
Every context built here verifies the peer's chain against the network trust anchors only
(never the system store: a public web CA is not a member of the network), checks
revocation against the loaded CRLs, and refuses TLS below 1.2 (RFC 9325 §3.1.1).

Python's ``ssl`` verifies inside OpenSSL during the handshake, so a peer that fails
(no certificate, foreign CA, expired, revoked) never reaches the application.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from imx.security.pki import load_certificates, load_crls
from imx.settings import TlsSettings

__all__ = [
    "PeerIdentity",
    "ReloadingServerContext",
    "asgi_tls_extension",
    "client_ssl_context",
    "crl_check_mode",
    "peer_identity",
    "peer_identity_from_scope",
    "server_ssl_context",
    "server_ssl_context_from",
]

log = logging.getLogger(__name__)

_VERSIONS: dict[str, ssl.TLSVersion] = {"1.2": ssl.TLSVersion.TLSv1_2,
                                        "1.3": ssl.TLSVersion.TLSv1_3}
# RFC 9325 §4.2: TLS 1.2 only with forward secrecy and AEAD. TLS 1.3 suites are all AEAD.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# ASGI TLS extension: tls_version is the 16-bit wire value (RFC 8446 B.1 / RFC 5246 A.1)
_WIRE_VERSION = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerIdentity:
    """Who is on the other end of a verified TLS connection (taken from its certificate)."""

    subject: str  # RFC 4514 string, e.g. "O=Community B,CN=imx-b"
    common_name: str
    organization: str
    home_community_id: str  # "urn:oid:..." from the SAN URI, "" when the certificate has none
    issuer: str
    serial: int
    not_after: dt.datetime
    fingerprint_sha256: str  # hex of the DER certificate

    def is_expired(self, now: dt.datetime) -> bool:
        return now >= self.not_after


def crl_check_mode(
    anchors: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]
) -> Literal["chain", "leaf", "none"]:
    """How much revocation checking the loaded CRLs allow.

    OpenSSL's VERIFY_CRL_CHECK_CHAIN fails a handshake when *any* certificate of the chain has no
    CRL from its issuer, so it is used only when every CA certificate in the bundle has one;
    otherwise VERIFY_CRL_CHECK_LEAF checks the node certificates, which are the ones revoked
    in practice. Without CRLs nothing can be checked (a setting problem, reported elsewhere).
    """
    if not crls:
        return "none"
    crl_issuers = {c.issuer for c in crls}
    if all(a.issuer in crl_issuers for a in anchors):
        return "chain"
    return "leaf"


def server_ssl_context(
    *, cert_file: Path, key_file: Path, trust_bundle: Path, crl_files: Sequence[Path] = (),
    min_version: str = "1.2",
) -> ssl.SSLContext:
    """A server context that requires and verifies a client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(ctx, min_version)
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert_file, key_file)
    _load_trust(ctx, trust_bundle, crl_files)
    return ctx


def server_ssl_context_from(tls: TlsSettings) -> ssl.SSLContext:
    if tls.cert_file is None or tls.key_file is None or tls.trust_bundle is None:
        raise ValueError("tls.cert_file, tls.key_file and tls.trust_bundle are all required")
    return server_ssl_context(cert_file=tls.cert_file, key_file=tls.key_file,
                              trust_bundle=tls.trust_bundle, crl_files=tls.crl_files,
                              min_version=tls.min_version)


class ReloadingServerContext:
    """The server context, rebuilt when a certificate, key, bundle or CRL file changes.

    CRLs are reissued every few days and must be picked up without a restart: a node that
    keeps a CRL past its nextUpdate refuses every peer. Each call costs a few ``stat``s; a
    file caught half-written fails to load and the previous context stays in use.
    """

    def __init__(self, tls: TlsSettings) -> None:
        self._tls = tls
        self._files = [p for p in (tls.cert_file, tls.key_file, tls.trust_bundle,
                                   *tls.crl_files) if p is not None]
        self._stamp = self._stat()
        self._context = server_ssl_context_from(tls)

    def __call__(self) -> ssl.SSLContext:
        stamp = self._stat()
        if stamp != self._stamp:
            try:
                self._context = server_ssl_context_from(self._tls)
            except (OSError, ValueError) as exc:
                log.warning("TLS files changed but do not load; keeping the previous context",
                            extra={"error": type(exc).__name__})
            else:
                log.info("TLS context reloaded (certificate, trust bundle or CRL changed)")
            self._stamp = stamp
        return self._context

    def _stat(self) -> tuple[tuple[int, int], ...]:
        out = []
        for path in self._files:
            try:
                st = path.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((0, 0))
        return tuple(out)


def client_ssl_context(
    *, cert_file: Path, key_file: Path, trust_bundle: Path, crl_files: Sequence[Path] = (),
    min_version: str = "1.2",
) -> ssl.SSLContext:
    """A client context presenting our node certificate; for ``httpx.AsyncClient(verify=ctx)``.

    The server certificate must chain to the trust bundle and match the URL's host name
    (RFC 6125; ``check_hostname`` stays on).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname by default
    _harden(ctx, min_version)
    ctx.load_cert_chain(cert_file, key_file)
    _load_trust(ctx, trust_bundle, crl_files)
    return ctx


def peer_identity(certificate: x509.Certificate) -> PeerIdentity:
    """The identity in a certificate that the TLS layer has already verified."""
    return PeerIdentity(
        subject=certificate.subject.rfc4514_string(),
        common_name=_attr(certificate.subject, NameOID.COMMON_NAME),
        organization=_attr(certificate.subject, NameOID.ORGANIZATION_NAME),
        home_community_id=_home_community_id(certificate),
        issuer=certificate.issuer.rfc4514_string(),
        serial=certificate.serial_number,
        not_after=certificate.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(
            certificate.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )


def asgi_tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """``scope["extensions"]["tls"]`` per the ASGI TLS extension, for a handshaken connection."""
    der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name: str | None = None
    if der:
        # Python >= 3.13 returns the whole verified chain (DER); before, the leaf is all we get
        verified = getattr(ssl_object, "get_verified_chain", None)
        ders: list[bytes] = list(verified()) if verified is not None else [der]
        chain = [ssl.DER_cert_to_PEM_cert(d) for d in ders]
        name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    return {
        "server_cert": None,  # optional in the extension; we do not echo our own certificate
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,  # CERT_REQUIRED: an unverified peer never gets this far
        "tls_version": _WIRE_VERSION.get(ssl_object.version() or ""),
        "cipher_suite": None,  # Python exposes the suite's name only, not its IANA number
    }


def peer_identity_from_scope(scope: Mapping[str, Any]) -> PeerIdentity | None:
    """The verified client identity of an ASGI request, or None on plain HTTP / no certificate."""
    tls = scope.get("extensions", {}).get("tls")
    if not tls or not tls.get("client_cert_chain") or tls.get("client_cert_error"):
        return None
    return _identity_of_pem(tls["client_cert_chain"][0])


@functools.lru_cache(maxsize=1024)
def _identity_of_pem(pem: str) -> PeerIdentity:
    # Asked on every request of a keep-alive connection (the 403 gate, the XUA organisation
    # check): parse each certificate once. Keyed by the exact PEM, so nothing else can match.
    return peer_identity(x509.load_pem_x509_certificate(pem.encode("ascii")))


def _harden(ctx: ssl.SSLContext, min_version: str) -> None:
    ctx.minimum_version = _VERSIONS[min_version]
    ctx.set_ciphers(_TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION


def _load_trust(ctx: ssl.SSLContext, trust_bundle: Path, crl_files: Sequence[Path]) -> None:
    ctx.load_verify_locations(cafile=trust_bundle)
    crls = [crl for path in crl_files for crl in load_crls(path)]
    if crls:
        # Only the cafile path reads CRLs (OpenSSL X509_LOOKUP_load_file; ``cadata`` takes
        # certificates only), so DER and PEM alike are loaded from one PEM file of our own.
        with tempfile.TemporaryDirectory() as tmp:
            pem = Path(tmp) / "crls.pem"
            pem.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls))
            ctx.load_verify_locations(cafile=pem)
    mode = crl_check_mode(load_certificates(trust_bundle), crls)
    if mode == "chain":
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    elif mode == "leaf":
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _home_community_id(certificate: x509.Certificate) -> str:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)
            if u.startswith("urn:oid:")]
    return uris[0] if uris else ""
