"""A test network made once per session: our CA, good / revoked / expired nodes, a foreign CA."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from imx.security import pki

HOME = "urn:oid:1.3.6.1.4.1.21367.2026.9.1"
PEER_HOME = "urn:oid:1.3.6.1.4.1.21367.2026.9.2"


@dataclass(frozen=True)
class Credential:
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class PkiNetwork:
    ca: pki.CertificateAuthority
    trust_bundle: Path
    crl: Path
    server: Credential  # CN=imx-a, SAN 127.0.0.1 / localhost
    client: Credential  # CN=imx-b, Community B
    revoked: Credential
    expired: Credential
    foreign: Credential  # a well-formed certificate from a CA outside the network

    def server_tls(self) -> dict[str, object]:
        """The ``[tls]`` settings of a node serving with ``server`` (CRL included)."""
        return {"cert_file": self.server.cert_file, "key_file": self.server.key_file,
                "trust_bundle": self.trust_bundle, "crl_files": [self.crl]}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _node(ca: pki.CertificateAuthority, out: Path, name: str, home: str) -> Credential:
    issued = pki.issue_node_to_dir(
        ca, out, common_name=name, organization=f"Community {name[-1].upper()}",
        home_community_id=home, now=_now(), dns_names=["localhost"], ip_addresses=["127.0.0.1"],
        key_type="rsa2048",
    )
    return Credential(issued.cert_file, issued.key_file)


def _expired(ca: pki.CertificateAuthority, out: Path) -> Credential:
    key = pki.generate_key("rsa2048")
    start = _now() - dt.timedelta(days=30)
    cert = pki.issue_node_certificate(
        ca.certificate, ca.key, key.public_key(), common_name="imx-old", organization="Old",
        home_community_id=PEER_HOME, now=_now(), not_before=start, valid_days=1,
    )
    out.mkdir(parents=True)
    pki.write_private_key(out / "node.key", key)
    (out / "node.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Credential(out / "node.pem", out / "node.key")


def build_test_network(root: Path) -> PkiNetwork:
    ca = pki.init_ca_dir(root / "ca", common_name="imx test network CA",
                         organization="imx test network", now=_now(), key_type="rsa2048")
    server = _node(ca, root / "server", "imx-a", HOME)
    client = _node(ca, root / "client", "imx-b", PEER_HOME)
    revoked = _node(ca, root / "revoked", "imx-r", PEER_HOME)
    revoked_cert = pki.load_certificates(revoked.cert_file)[0]
    crl = pki.revoke_in_dir(ca, revoked_cert, now=_now())
    foreign_ca = pki.init_ca_dir(root / "foreign-ca", common_name="imx test network CA",
                                 organization="imx test network", now=_now(), key_type="rsa2048")
    foreign = _node(foreign_ca, root / "foreign", "imx-f", PEER_HOME)
    return PkiNetwork(ca=ca, trust_bundle=root / "ca" / pki.CA_CERT, crl=crl, server=server,
                       client=client, revoked=revoked, expired=_expired(ca, root / "expired"),
                       foreign=foreign)
