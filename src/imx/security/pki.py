"""Network PKI for sandboxes and tests: a CA, node certificates, revocation (CRL).

Production networks (Carequality, eHealth Exchange) issue certificates from their own CA and
publish a trust bundle and CRLs; a node then only *loads* them (``load_certificates``,
``load_crls``). The CA here is for sandboxes, loopback tests and private networks.

Certificate profile (SPEC-NOTES §5.6: one certificate type, used for both sides of 2-way TLS):
  - subject ``CN=<node name>, O=<organisation>``;
  - SAN ``URI:urn:oid:<home community id>`` (the community the certificate speaks for), plus
    DNS names / IP addresses of the endpoint (RFC 6125 host checks);
  - keyUsage digitalSignature (+ keyEncipherment for RSA, RFC 5246 7.4.7.1 RSA key transport),
    extendedKeyUsage serverAuth + clientAuth (RFC 5280 4.2.1.12);
  - RSA-3072 by default (RSA is Carequality practice; 3072 per NIST SP 800-57 beyond 2030),
    ECDSA P-256 optional; SHA-256 signatures.

Functions taking ``now`` are pure; ``*_dir`` functions read/write a CA directory::

    ca.pem  ca.key (0600)  state.json (revocations, CRL number)  crl.pem  issued/<serial>.pem
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_CERT",
    "CA_KEY",
    "CRL_FILE",
    "CertificateAuthority",
    "IssuedNode",
    "KeyType",
    "PrivateKey",
    "Revocation",
    "build_crl",
    "create_ca_certificate",
    "generate_key",
    "home_community_oid",
    "init_ca_dir",
    "issue_node_certificate",
    "issue_node_to_dir",
    "load_ca_dir",
    "load_certificates",
    "load_crls",
    "revoke_in_dir",
    "write_crl_in_dir",
    "write_private_key",
]

KeyType = Literal["rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384"]
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
CRL_FILE = "crl.pem"
_STATE = "state.json"
_ISSUED = "issued"
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Revocation:
    serial: int
    revoked_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateAuthority:
    directory: Path
    certificate: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedNode:
    certificate: x509.Certificate
    cert_file: Path  # the node certificate followed by the CA certificate (the chain a peer needs)
    key_file: Path
    trust_bundle: Path  # a copy of the CA certificate, the anchor peers of this network trust


def generate_key(key_type: KeyType = "rsa3072") -> PrivateKey:
    if key_type.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    curve: ec.EllipticCurve = ec.SECP256R1() if key_type == "ec-p256" else ec.SECP384R1()
    return ec.generate_private_key(curve)


def home_community_oid(home_community_id: str) -> str:
    """The bare OID of a home community id given as ``urn:oid:1.2.3`` or ``1.2.3``."""
    oid = home_community_id.removeprefix("urn:oid:")
    if not _OID_RE.match(oid):
        raise ValueError(f"not an OID: {home_community_id!r}")
    return oid


def create_ca_certificate(
    key: PrivateKey, *, common_name: str, organization: str, now: dt.datetime,
    valid_days: int = 3650,
) -> x509.Certificate:
    name = _name(common_name, organization)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        # RFC 5280 4.2.1.9: a CA that issues only end-entity certificates: pathLen 0
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True, rsa_key=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def issue_node_certificate(
    ca_certificate: x509.Certificate, ca_key: PrivateKey, public_key: rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey, *, common_name: str, organization: str, home_community_id: str,
    now: dt.datetime, dns_names: Sequence[str] = (), ip_addresses: Sequence[str] = (),
    valid_days: int = 365, not_before: dt.datetime | None = None,
) -> x509.Certificate:
    """A node certificate for both TLS server and client use (SPEC-NOTES §5.6)."""
    san: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(f"urn:oid:{home_community_oid(home_community_id)}")
    ]
    san += [x509.DNSName(d) for d in dns_names]
    san += [x509.IPAddress(ipaddress.ip_address(i)) for i in ip_addresses]
    start = not_before if not_before is not None else now - dt.timedelta(minutes=5)
    ca_ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(ca=False, rsa_key=isinstance(public_key, rsa.RSAPublicKey)), critical=True
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def build_crl(
    ca_certificate: x509.Certificate, ca_key: PrivateKey, revocations: Iterable[Revocation], *,
    now: dt.datetime, crl_number: int, next_update_days: int = 7,
) -> x509.CertificateRevocationList:
    """A v2 CRL (RFC 5280 5.1). Verifiers reject it after nextUpdate, so reissue it in time."""
    ca_ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=next_update_days))
        # RFC 5280 5.2.3: conforming CRL issuers MUST include the CRL number
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )
    for r in revocations:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(r.serial)
            .revocation_date(r.revoked_at).build()
        )
    return builder.sign(ca_key, hashes.SHA256())


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (a network trust bundle, a chain file)."""
    certs = x509.load_pem_x509_certificates(path.read_bytes())
    return list(certs)


def load_crls(path: Path) -> list[x509.CertificateRevocationList]:
    """Every CRL of a file: PEM (one or more) or a single DER CRL as CAs publish them."""
    data = path.read_bytes()
    if b"-----BEGIN X509 CRL-----" not in data:
        return [x509.load_der_x509_crl(data)]
    blocks = re.findall(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", data, re.DOTALL)
    if len(blocks) != data.count(b"-----BEGIN X509 CRL-----"):
        # A truncated file must fail loudly: skipping it would silently stop revocation checks.
        raise ValueError(f"incomplete CRL in {path}")
    return [x509.load_pem_x509_crl(b) for b in blocks]


def write_private_key(path: Path, key: PrivateKey) -> None:
    """PKCS#8 PEM, unencrypted, created 0600 (never world-readable, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)  # the mode above is ignored for an existing file
        f.write(pem)


# --- CA directory --------------------------------------------------------------------------------


def init_ca_dir(
    directory: Path, *, common_name: str, organization: str, now: dt.datetime,
    key_type: KeyType = "rsa3072", valid_days: int = 3650,
) -> CertificateAuthority:
    if (directory / CA_KEY).exists():
        raise FileExistsError(f"a CA already exists in {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    key = generate_key(key_type)
    cert = create_ca_certificate(key, common_name=common_name, organization=organization,
                                 now=now, valid_days=valid_days)
    write_private_key(directory / CA_KEY, key)
    (directory / CA_CERT).write_bytes(_pem(cert))
    ca = CertificateAuthority(directory=directory, certificate=cert, key=key)
    _save_state(directory, revocations=[], crl_number=0)
    write_crl_in_dir(ca, now=now)
    return ca


def load_ca_dir(directory: Path) -> CertificateAuthority:
    key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported CA key type in {directory / CA_KEY}")
    cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    return CertificateAuthority(directory=directory, certificate=cert, key=key)


def issue_node_to_dir(
    ca: CertificateAuthority, out_dir: Path, *, common_name: str, organization: str,
    home_community_id: str, now: dt.datetime, dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (), key_type: KeyType = "rsa3072", valid_days: int = 365,
) -> IssuedNode:
    """Write ``node.key`` (0600), ``node.pem`` (cert + CA) and ``trust.pem`` into ``out_dir``."""
    key = generate_key(key_type)
    cert = issue_node_certificate(
        ca.certificate, ca.key, key.public_key(), common_name=common_name,
        organization=organization, home_community_id=home_community_id, now=now,
        dns_names=dns_names, ip_addresses=ip_addresses, valid_days=valid_days,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    issued = IssuedNode(certificate=cert, cert_file=out_dir / "node.pem",
                        key_file=out_dir / "node.key", trust_bundle=out_dir / "trust.pem")
    write_private_key(issued.key_file, key)
    issued.cert_file.write_bytes(_pem(cert) + _pem(ca.certificate))
    issued.trust_bundle.write_bytes(_pem(ca.certificate))
    (ca.directory / _ISSUED).mkdir(exist_ok=True)
    (ca.directory / _ISSUED / f"{cert.serial_number:x}.pem").write_bytes(_pem(cert))
    return issued


def revoke_in_dir(ca: CertificateAuthority, certificate: x509.Certificate, *,
                  now: dt.datetime) -> Path:
    """Record the revocation and reissue the CRL; returns the CRL path to distribute."""
    try:  # by signature, not name: two CAs may share a subject
        certificate.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise ValueError("certificate was not issued by this CA") from exc
    revocations, crl_number = _load_state(ca.directory)
    if all(r.serial != certificate.serial_number for r in revocations):
        revocations.append(Revocation(serial=certificate.serial_number, revoked_at=now))
    _save_state(ca.directory, revocations=revocations, crl_number=crl_number)
    return write_crl_in_dir(ca, now=now)


def write_crl_in_dir(ca: CertificateAuthority, *, now: dt.datetime,
                     next_update_days: int = 7) -> Path:
    revocations, crl_number = _load_state(ca.directory)
    crl_number += 1  # RFC 5280 5.2.3: monotonically increasing
    crl = build_crl(ca.certificate, ca.key, revocations, now=now, crl_number=crl_number,
                    next_update_days=next_update_days)
    _save_state(ca.directory, revocations=revocations, crl_number=crl_number)
    path = ca.directory / CRL_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    tmp.replace(path)  # readers (a running node reloading) never see half a file
    return path


def _load_state(directory: Path) -> tuple[list[Revocation], int]:
    raw = json.loads((directory / _STATE).read_text())
    revocations = [
        Revocation(serial=int(r["serial"], 16), revoked_at=dt.datetime.fromisoformat(r["at"]))
        for r in raw["revoked"]
    ]
    return revocations, int(raw["crl_number"])


def _save_state(directory: Path, *, revocations: list[Revocation], crl_number: int) -> None:
    raw = {"crl_number": crl_number,
           "revoked": [{"serial": f"{r.serial:x}", "at": r.revoked_at.isoformat()}
                       for r in revocations]}
    tmp = directory / (_STATE + ".tmp")
    tmp.write_text(json.dumps(raw, indent=1) + "\n")
    tmp.replace(directory / _STATE)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])


def _key_usage(*, ca: bool, rsa_key: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca, content_commitment=False, key_encipherment=rsa_key and not ca,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
