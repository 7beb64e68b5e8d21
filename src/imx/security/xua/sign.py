"""signxml adapter: the enveloped signature of a SAML assertion (SPEC-NOTES §5.4).

RSA-SHA256, SHA-256 digests, exclusive c14n (``http://www.w3.org/2001/10/xml-exc-c14n#``) for
SignedInfo and the reference; KeyInfo carries X509Data with the signing certificate (and its
intermediates). SHA-1 is available only as an explicit per-peer quirk (SPEC-NOTES §5.4: a few
legacy peers still require rsa-sha1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.signer import XMLSigner

from imx.security.xua.attributes import NS

__all__ = ["SigningQuirks", "sign_assertion", "sign_timestamp"]

_SAML = NS["saml2"]
_DS = NS["ds"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningQuirks:
    """Per-peer deviations from the secure defaults. All off by default."""

    sha1: bool = False  # rsa-sha1 + sha1 digests, for a legacy peer that cannot verify SHA-256


class _LegacySigner(XMLSigner):
    """signxml refuses SHA-1 unless this hook is overridden (its documented escape hatch)."""

    def check_deprecated_methods(self) -> None:
        return None


def _signer(quirks: SigningQuirks, *,
            method: SignatureConstructionMethod = SignatureConstructionMethod.enveloped,
            ) -> XMLSigner:
    c14n = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
    if quirks.sha1:
        return _LegacySigner(method=method, signature_algorithm=SignatureMethod.RSA_SHA1,
                             digest_algorithm=DigestAlgorithm.SHA1, c14n_algorithm=c14n)
    return XMLSigner(method=method, signature_algorithm=SignatureMethod.RSA_SHA256,
                     digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=c14n)


def sign_assertion(assertion: etree._Element, *, key: rsa.RSAPrivateKey,
                   cert_chain: Sequence[x509.Certificate],
                   quirks: SigningQuirks = SigningQuirks()) -> etree._Element:
    """Return a signed copy of ``assertion`` (the input is not modified).

    Args:
        assertion: an unsigned saml2:Assertion with an ``ID`` (``build_assertion``).
        key: the gateway's RSA private key (the Carequality-issued certificate's key).
        cert_chain: the signing certificate first, then any intermediates.
        quirks: per-peer deviations (SHA-1), off by default.
    """
    if assertion.tag != f"{{{_SAML}}}Assertion" or not assertion.get("ID"):
        raise ValueError("sign_assertion needs a saml2:Assertion with an ID")
    if not cert_chain:
        raise ValueError("sign_assertion needs the signing certificate")
    work = etree.fromstring(etree.tostring(assertion))
    issuer = work.find(f"{{{_SAML}}}Issuer")
    if issuer is None:
        raise ValueError("the assertion has no Issuer")
    # SAML core 5.4.1: enveloped signature; the schema puts ds:Signature right after Issuer.
    placeholder = etree.Element(f"{{{_DS}}}Signature", nsmap={"ds": _DS})
    placeholder.set("Id", "placeholder")
    issuer.addnext(placeholder)
    signed: etree._Element = _signer(quirks).sign(
        work, key=key, cert=list(cert_chain), reference_uri=f"#{work.get('ID')}",
        id_attribute="ID")
    return signed


_WSSE = NS["wsse"]
_WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
_SAML_TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"  # noqa: S105
_SAML_ID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"


def _token_reference(assertion_id: str) -> etree._Element:
    """KeyInfo naming the assertion as the key's token (WSS SAML Token Profile 1.1 §3.4.2)."""
    key_info = etree.Element(f"{{{_DS}}}KeyInfo", nsmap={"ds": _DS})
    reference = etree.SubElement(key_info, f"{{{_WSSE}}}SecurityTokenReference",
                                 nsmap={"wsse": _WSSE, "wsse11": _WSSE11})
    reference.set(f"{{{_WSSE11}}}TokenType", _SAML_TOKEN_TYPE)
    identifier = etree.SubElement(reference, f"{{{_WSSE}}}KeyIdentifier")
    identifier.set("ValueType", _SAML_ID)
    identifier.text = assertion_id
    return key_info


def sign_timestamp(security: etree._Element, *, key: rsa.RSAPrivateKey, assertion_id: str,
                   quirks: SigningQuirks = SigningQuirks()) -> etree._Element:
    """A ds:Signature over the header's wsu:Timestamp, keyed by the assertion (SPEC-NOTES §5.1).

    The holder-of-key proof: the initiator shows it holds the key the assertion confirms.
    Returns the Signature, to append to wsse:Security after the Assertion.
    """
    timestamp = security.find(f"{{{NS['wsu']}}}Timestamp")
    timestamp_id = timestamp.get(f"{{{NS['wsu']}}}Id") if timestamp is not None else None
    if not timestamp_id:
        raise ValueError("the security header has no wsu:Timestamp with a wsu:Id")
    signer = _signer(quirks, method=SignatureConstructionMethod.detached)
    signature: etree._Element = signer.sign(
        security, key=key, reference_uri=f"#{timestamp_id}", id_attribute="Id",
        key_info=_token_reference(assertion_id))
    return signature
