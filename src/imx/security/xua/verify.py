"""Responder side: the only way to obtain a ``VerifiedAssertion`` (SPEC-NOTES §5.5).

Order of checks, each refusal a ``SecurityHeaderError`` with its WSS 1.1 §12 fault code:

1. exactly one saml2:Assertion in the whole envelope, a direct child of wsse:Security, whose ID
   no other element carries (XML signature wrapping needs a second assertion or a second ID);
2. SAML 2.0 schema; exactly one ds:Signature, a direct child of the Assertion;
3. the X.509 certificate in its KeyInfo chains to a trust anchor (``chain.py``);
4. signxml verifies the signature (one reference, allowed algorithms and transforms only);
5. from here on ONLY the element signxml returns as signed (``signed_xml``: re-parsed from the
   canonical bytes, so no comments or unsigned siblings) is read, and it must be the
   assertion of step 1 (same tag, same ID, reference URI ``#ID``);
6. Version 2.0, IssueInstant / NotBefore / NotOnOrAfter within the clock skew, our audience in
   every AudienceRestriction (SAML core 2.5.1.4);
7. a header ds:Signature, if present (or required), covers exactly the wsu:Timestamp and was made
   with the key the signed assertion confirms (holder-of-key; SPEC-NOTES §5.1, §5.5 step 3);
8. the required XSPA/NHIN attributes (§5.2).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Final

import cryptography.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from imx.errors import MalformedMessageError
from imx.security.xua.assertion import parse_instant
from imx.security.xua.attributes import (
    CM_HOLDER_OF_KEY,
    NS,
    PURPOSE_OF_USE_CODE_SYSTEM,
    PurposeOfUse,
    Role,
)
from imx.security.xua.chain import verify_certificate_chain
from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault
from imx.security.xua.saml_attributes import read_attributes
from imx.wire.schemas import validate

__all__ = ["TrustConfig", "VerifiedAssertion", "verify_assertion"]

_SAML = NS["saml2"]
_DS = NS["ds"]
_ASSERTION = f"{{{_SAML}}}Assertion"
_SIGNATURE = f"{{{_DS}}}Signature"
_WSSE_SECURITY = f"{{{NS['wsse']}}}Security"
_WSU = NS["wsu"]
_ALLOWED_TRANSFORMS: Final = frozenset({
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/2006/12/xml-c14n11",
})
_SEAL: Final = object()

Fault = WsSecurityFault


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustConfig:
    """What this responder trusts (built once from ``settings.trust``)."""

    trust_anchors: tuple[x509.Certificate, ...]
    audiences: frozenset[str]
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    accept_sha1: bool = False  # SPEC-NOTES §5.4 legacy peers; off unless configured
    # A Timestamp signature, when present, is always verified; this makes it mandatory.
    require_timestamp_signature: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedAssertion:
    """Attributes of an assertion whose signature, signer, window and audience were checked.

    Only ``verify_assertion`` can construct one (a private seal), so code holding this type
    knows the checks ran.
    """

    assertion_id: str
    issuer: str
    name_id: str
    subject_id: str
    organization: str
    organization_id: str
    home_community_id: str
    purpose_of_use: PurposeOfUse
    role: Role
    npi: str | None
    issue_instant: dt.datetime
    not_on_or_after: dt.datetime
    audiences: tuple[str, ...]
    signer_subject: str
    signer_certificate_sha256: str
    signer_certificate: x509.Certificate = field(repr=False, compare=False)
    _seal: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError("a VerifiedAssertion comes only from verify_assertion()")


def _count_ids(element: etree._Element, value: str) -> int:
    """How many ID-like attributes in the whole message carry ``value`` (signxml's resolver
    matches any attribute named ID, Id or id, in any namespace)."""
    count = element.getroottree().getroot().xpath(
        "count(//@*[local-name()='ID' or local-name()='Id' or local-name()='id'][.=$v])", v=value)
    return int(count) if isinstance(count, float) else -1


def _locate(security: etree._Element) -> etree._Element:
    root = security.getroottree().getroot()
    assertions = list(root.iter(_ASSERTION))
    if not assertions:
        raise SecurityHeaderError("no SAML assertion in the security header",
                                  fault=Fault.SECURITY_TOKEN_UNAVAILABLE)
    if len(assertions) > 1:
        raise SecurityHeaderError("exactly one SAML assertion is allowed per message",
                                  fault=Fault.INVALID_SECURITY)
    assertion = assertions[0]
    if assertion.getparent() is not security or security.tag != _WSSE_SECURITY:
        raise SecurityHeaderError("the SAML assertion must be a child of wsse:Security",
                                  fault=Fault.INVALID_SECURITY)
    assertion_id = assertion.get("ID") or ""
    if not assertion_id or _count_ids(root, assertion_id) != 1:
        raise SecurityHeaderError("the assertion ID must be present and unique in the message",
                                  fault=Fault.INVALID_SECURITY)
    return assertion


def _signature(assertion: etree._Element) -> etree._Element:
    try:
        validate(assertion, "xua-assertion")
    except MalformedMessageError as exc:
        raise SecurityHeaderError("the SAML assertion does not follow the SAML 2.0 schema",
                                  fault=Fault.INVALID_SECURITY_TOKEN) from exc
    signatures = [child for child in assertion if child.tag == _SIGNATURE]
    if not signatures:
        raise SecurityHeaderError("the SAML assertion is not signed",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    if len(signatures) > 1:
        raise SecurityHeaderError("the SAML assertion carries more than one signature",
                                  fault=Fault.FAILED_CHECK)
    return signatures[0]


def _load_certificate(base64_der: str) -> x509.Certificate:
    """Parse a certificate completely now: cryptography decodes fields lazily, and a damaged
    issuer or extension would otherwise raise ValueError in the middle of a later check."""
    cert = x509.load_der_x509_certificate(base64.b64decode("".join(base64_der.split()),
                                                           validate=True))
    _ = (cert.issuer, cert.subject, cert.public_key(), cert.extensions,
         cert.not_valid_before_utc, cert.not_valid_after_utc, cert.subject.rfc4514_string())
    return cert


def _certificates(signature: etree._Element) -> list[x509.Certificate]:
    texts = signature.findall(f"{{{_DS}}}KeyInfo/{{{_DS}}}X509Data/{{{_DS}}}X509Certificate")
    try:
        certs = [_load_certificate(t.text or "") for t in texts]
    except (ValueError, binascii.Error, cryptography.exceptions.UnsupportedAlgorithm) as exc:
        raise SecurityHeaderError("the signature's X.509 certificate cannot be read",
                                  fault=Fault.INVALID_SECURITY_TOKEN) from exc
    if not certs:
        raise SecurityHeaderError("the signature carries no X.509 certificate",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    return certs


def _check_references(signature: etree._Element, target_id: str, *, what: str) -> None:
    references = signature.findall(f"{{{_DS}}}SignedInfo/{{{_DS}}}Reference")
    if len(references) != 1 or references[0].get("URI") != f"#{target_id}":
        raise SecurityHeaderError(f"the signature must reference {what} itself",
                                  fault=Fault.FAILED_CHECK)
    for transform in references[0].iter(f"{{{_DS}}}Transform"):
        if transform.get("Algorithm") not in _ALLOWED_TRANSFORMS:
            raise SecurityHeaderError("signature transform not supported",
                                      fault=Fault.UNSUPPORTED_ALGORITHM)


def _signature_config(trust: TrustConfig, now: dt.datetime) -> SignatureConfiguration:
    methods = {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
    digests = {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
    if trust.accept_sha1:
        methods.add(SignatureMethod.RSA_SHA1)
        digests.add(DigestAlgorithm.SHA1)
    # location "./": the ds:Signature must be a direct child of the Assertion we pass in.
    return SignatureConfiguration(location="./", expect_references=1,
                                  signature_methods=frozenset(methods),
                                  digest_algorithms=frozenset(digests),
                                  verification_time=now)


def _signxml_verify(detached: etree._Element, cert: x509.Certificate, *, id_attribute: str,
                    trust: TrustConfig, now: dt.datetime, validate_schema: bool) -> etree._Element:
    """signxml with our configuration; every failure becomes a WSS fault."""
    try:
        result = XMLVerifier().verify(detached, x509_cert=cert, id_attribute=id_attribute,
                                      validate_schema=validate_schema,
                                      expect_config=_signature_config(trust, now))
    except InvalidCertificate as exc:
        raise SecurityHeaderError("signing certificate not acceptable",
                                  fault=Fault.FAILED_AUTHENTICATION) from exc
    except InvalidDigest as exc:
        raise SecurityHeaderError("signed content was altered (digest mismatch)",
                                  fault=Fault.FAILED_CHECK) from exc
    except InvalidInput as exc:
        if "forbidden by configuration" in str(exc):
            raise SecurityHeaderError("signature algorithm not accepted",
                                      fault=Fault.UNSUPPORTED_ALGORITHM) from exc
        raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK) from exc
    except (SignXMLException, cryptography.exceptions.InvalidSignature, ValueError, TypeError,
            AttributeError, KeyError, IndexError, etree.LxmlError) as exc:
        # Hostile signatures reach odd corners of signxml; every one is a failed check.
        raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK) from exc
    signed = None if isinstance(result, list) else result.signed_xml  # one reference expected
    if signed is None:
        raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK)
    return signed


def _detached(element: etree._Element) -> etree._Element:
    # A detached copy (no tail, in-scope namespaces kept): signxml sees this subtree only.
    return etree.fromstring(etree.tostring(element, with_tail=False))


def _verify_signature(assertion: etree._Element, leaf: x509.Certificate, trust: TrustConfig,
                      now: dt.datetime) -> etree._Element:
    # validate_schema=False: step 2 already validated ds:Signature strictly (the SAML XSD
    # imports xmldsig-core); signxml's second pass costs ~1 ms per request.
    signed = _signxml_verify(_detached(assertion), leaf, id_attribute="ID", trust=trust, now=now,
                             validate_schema=False)
    if signed.tag != _ASSERTION or signed.get("ID") != assertion.get("ID"):
        raise SecurityHeaderError("the signature does not cover the assertion in the header",
                                  fault=Fault.FAILED_CHECK)
    return signed


def _confirmation_certificate(signed: etree._Element, leaf: x509.Certificate,
                              now: dt.datetime) -> x509.Certificate:
    """The holder-of-key certificate the (signed) assertion confirms, else its signer's."""
    path = (f"{{{_SAML}}}Subject/{{{_SAML}}}SubjectConfirmation[@Method='{CM_HOLDER_OF_KEY}']/"
            f"{{{_SAML}}}SubjectConfirmationData/{{{_DS}}}KeyInfo/{{{_DS}}}X509Data/"
            f"{{{_DS}}}X509Certificate")
    text = signed.findtext(path)
    if not text:
        return leaf
    try:
        cert = _load_certificate(text)
    except (ValueError, binascii.Error, cryptography.exceptions.UnsupportedAlgorithm) as exc:
        raise SecurityHeaderError("the confirmation certificate cannot be read",
                                  fault=Fault.INVALID_SECURITY_TOKEN) from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SecurityHeaderError("the confirmation certificate is outside its validity",
                                  fault=Fault.FAILED_AUTHENTICATION)
    return cert


def _check_timestamp_signature(security: etree._Element, signed: etree._Element,
                               leaf: x509.Certificate, trust: TrustConfig,
                               now: dt.datetime) -> None:
    """SPEC-NOTES §5.1: the header's own ds:Signature over wsu:Timestamp, by the confirmed key."""
    signatures = [child for child in security if child.tag == _SIGNATURE]
    if not signatures:
        if trust.require_timestamp_signature:
            raise SecurityHeaderError("the wsu:Timestamp must be signed",
                                      fault=Fault.INVALID_SECURITY)
        return
    timestamp = security.find(f"{{{_WSU}}}Timestamp")
    timestamp_id = timestamp.get(f"{{{_WSU}}}Id") if timestamp is not None else None
    if (timestamp is None or len(signatures) > 1 or not timestamp_id
            or _count_ids(security, timestamp_id) != 1):
        raise SecurityHeaderError("one signature over one identified wsu:Timestamp expected",
                                  fault=Fault.INVALID_SECURITY)
    _check_references(signatures[0], timestamp_id, what="the wsu:Timestamp")
    cert = _confirmation_certificate(signed, leaf, now)
    # Only the Timestamp and the Signature: exc-c14n output does not depend on siblings, and
    # signxml re-parses its input several times, so leaving the assertion out halves the work.
    minimal = etree.Element(security.tag)
    minimal.extend([copy.deepcopy(timestamp), copy.deepcopy(signatures[0])])
    signed_timestamp = _signxml_verify(_detached(minimal), cert, id_attribute="Id", trust=trust,
                                       now=now, validate_schema=True)
    if (signed_timestamp.tag != f"{{{_WSU}}}Timestamp"
            or signed_timestamp.get(f"{{{_WSU}}}Id") != timestamp_id):
        raise SecurityHeaderError("the header signature does not cover the wsu:Timestamp",
                                  fault=Fault.FAILED_CHECK)


def _instant(text: str | None, what: str) -> dt.datetime:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise SecurityHeaderError(f"assertion {what} is not a UTC dateTime",
                                  fault=Fault.INVALID_SECURITY_TOKEN) from exc


def _check_window(signed: etree._Element, trust: TrustConfig,
                  now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    skew = trust.clock_skew
    issued = _instant(signed.get("IssueInstant"), "IssueInstant")
    conditions = signed.findall(f"{{{_SAML}}}Conditions")
    if len(conditions) != 1:
        raise SecurityHeaderError("the assertion must carry one Conditions element",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    not_after = _instant(conditions[0].get("NotOnOrAfter"), "NotOnOrAfter")
    not_before = conditions[0].get("NotBefore")
    if issued > now + skew or (not_before and _instant(not_before, "NotBefore") > now + skew):
        raise SecurityHeaderError("the assertion is not yet valid",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    if now - skew >= not_after:  # SAML core 2.5.1.2: NotOnOrAfter is exclusive
        raise SecurityHeaderError("the assertion has expired", fault=Fault.INVALID_SECURITY_TOKEN)
    return issued, not_after


def _check_audience(signed: etree._Element, trust: TrustConfig) -> tuple[str, ...]:
    restrictions = signed.findall(f"{{{_SAML}}}Conditions/{{{_SAML}}}AudienceRestriction")
    if not restrictions:
        raise SecurityHeaderError("the assertion names no audience",
                                  fault=Fault.FAILED_AUTHENTICATION)
    named: list[str] = []
    for restriction in restrictions:
        values = [(a.text or "").strip() for a in restriction.findall(f"{{{_SAML}}}Audience")]
        named.extend(values)
        # SAML core 2.5.1.4: every AudienceRestriction must name this relying party.
        if not any(v in trust.audiences for v in values):
            raise SecurityHeaderError("the assertion is meant for another audience",
                                      fault=Fault.FAILED_AUTHENTICATION)
    return tuple(named)


def verify_assertion(security: etree._Element, *, trust: TrustConfig,
                     now: dt.datetime) -> VerifiedAssertion:
    """Verify the SAML assertion of a wsse:Security header element.

    Args:
        security: the wsse:Security header block (still attached to its envelope, so the
            whole message can be searched for duplicate assertions and IDs).
        trust: anchors, audiences, clock skew, algorithm quirks.
        now: the current time (timezone-aware, from the Clock port).

    Raises:
        SecurityHeaderError: with the WSS fault code of the first failed check.
    """
    assertion = _locate(security)
    signature = _signature(assertion)
    certs = _certificates(signature)
    verify_certificate_chain(certs[0], certs[1:], trust.trust_anchors, now=now)
    assertion_id = assertion.get("ID") or ""
    _check_references(signature, assertion_id, what="the assertion")
    signed = _verify_signature(assertion, certs[0], trust, now)
    # Everything below reads the signed copy only.
    if signed.get("Version") != "2.0":
        raise SecurityHeaderError("only SAML 2.0 assertions are accepted",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    issuer = (signed.findtext(f"{{{_SAML}}}Issuer") or "").strip()
    if not issuer:
        raise SecurityHeaderError("the assertion has no Issuer", fault=Fault.INVALID_SECURITY_TOKEN)
    issued, not_after = _check_window(signed, trust, now)
    audiences = _check_audience(signed, trust)
    _check_timestamp_signature(security, signed, certs[0], trust, now)
    attrs = read_attributes(signed, purpose_code_system=PURPOSE_OF_USE_CODE_SYSTEM)
    leaf = certs[0]
    return VerifiedAssertion(
        assertion_id=assertion_id, issuer=issuer,
        name_id=(signed.findtext(f"{{{_SAML}}}Subject/{{{_SAML}}}NameID") or "").strip(),
        subject_id=attrs.subject_id, organization=attrs.organization,
        organization_id=attrs.organization_id, home_community_id=attrs.home_community_id,
        purpose_of_use=attrs.purpose_of_use, role=attrs.role, npi=attrs.npi,
        issue_instant=issued, not_on_or_after=not_after, audiences=audiences,
        signer_subject=leaf.subject.rfc4514_string(),
        signer_certificate_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        signer_certificate=leaf, _seal=_SEAL)
