"""Test PKI for XUA: a CA, a trusted signer, an untrusted signer, made once per session.

RSA-2048 keys generated at first use (never committed), cached for the whole test process.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from imx.security.xua import UserContext
from imx.security.xua.attributes import SNOMED_ROLES, PurposeOfUse

NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
OUR_HCID = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"


@dataclass(frozen=True)
class Party:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Pki:
    ca: Party
    signer: Party  # issued by ca
    rogue_ca: Party
    rogue: Party  # issued by rogue_ca: a valid signature nobody trusts


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "imx test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(cn: str, key: rsa.RSAPrivateKey, issuer: Party | None, *, ca: bool) -> x509.Certificate:
    start = NOW - dt.timedelta(days=30)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn))
               .issuer_name(issuer.cert.subject if issuer else _name(cn))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start)
               .not_valid_after(start + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=False, key_encipherment=not ca,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                   encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


def _party(cn: str, issuer: Party | None = None, *, ca: bool = False) -> Party:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Party(key=key, cert=_issue(cn, key, issuer, ca=ca))


@lru_cache(maxsize=1)
def pki() -> Pki:
    ca = _party("imx test CA", ca=True)
    rogue_ca = _party("rogue CA", ca=True)
    return Pki(ca=ca, signer=_party("gateway.lakeside.example", ca), rogue_ca=rogue_ca,
               rogue=_party("gateway.rogue.example", rogue_ca))


def user(**overrides: object) -> UserContext:
    fields: dict[str, object] = {
        "subject_id": "Dr Jane Smith",
        "organization": "Lakeside Health",
        "organization_id": "urn:oid:1.2.840.114350.1.13.999",
        "home_community_id": "urn:oid:1.2.840.114350.1.13.999.2.7",
        "purpose_of_use": PurposeOfUse.TREATMENT,
        "role": SNOMED_ROLES["112247003"],
        "audience": (OUR_HCID,),
        "issuer": "CN=gateway.lakeside.example,O=imx test",
        "npi": "1234567893",
    }
    fields.update(overrides)
    return UserContext(**fields)  # type: ignore[arg-type]


SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"


def security_header(*, now: dt.datetime = NOW, ttl: dt.timedelta = dt.timedelta(minutes=5),
                    signer: Party | None = None, **user_overrides: object):  # type: ignore[no-untyped-def]
    from imx.security.xua import build_security_header

    party = signer or pki().signer
    return build_security_header(user(**user_overrides), party.key, [party.cert], now, ttl)


def envelope(security, body=None, extra_headers=()) -> bytes:  # type: ignore[no-untyped-def]
    """A SOAP 1.2 envelope (bytes) with ``security`` (and any extra blocks) in its Header."""
    from lxml import etree

    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"s": SOAP_NS})
    head = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
    if security is not None:
        head.append(security)
    for block in extra_headers:
        head.append(block)
    b = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    if body is not None:
        b.append(body)
    return etree.tostring(env)
