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
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureMethod,
    XMLSigner,
)

from imx.security.xua.attributes import NS

__all__ = ["SigningQuirks", "sign_assertion"]

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


def _signer(quirks: SigningQuirks) -> XMLSigner:
    c14n = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
    if quirks.sha1:
        return _LegacySigner(signature_algorithm=SignatureMethod.RSA_SHA1,
                             digest_algorithm=DigestAlgorithm.SHA1, c14n_algorithm=c14n)
    return XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256,
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
