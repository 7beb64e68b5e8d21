"""Responder side: the only way to obtain a ``VerifiedAssertion`` (SPEC-NOTES §5.5).

Order of checks, each refusal a ``SecurityHeaderError`` with its WSS 1.1 §12 fault code:

1. exactly one saml2:Assertion in the whole envelope, a direct child of wsse:Security, whose ID
   no other element carries (XML signature wrapping needs a second assertion or a second ID);
   the only other assertions allowed are evidence inside it
   (AuthzDecisionStatement/Evidence, NHIN Access Consent Policy), never read;
2. SAML 2.0 schema; exactly one ds:Signature, a direct child of the Assertion;
3. the X.509 certificate in its KeyInfo chains to a trust anchor (``chain.py``);
4. the signature verifies (``xmldsig.py``: a lean exc-c14n/RSA-SHA2 path for the XUA profile,
   signxml for anything else; one reference, allowed algorithms and transforms only);
5. from here on ONLY the element returned as signed (re-parsed from the canonical bytes, so no
   comments or unsigned siblings; signxml's ``signed_xml``) is read, and it must be the
   assertion of step 1 (same tag, same ID, reference URI ``#ID``);
6. Version 2.0, IssueInstant / NotBefore / NotOnOrAfter within the clock skew, our audience in
   every AudienceRestriction (SAML core 2.5.1.4);
7. a header ds:Signature, if present (or required), covers exactly the wsu:Timestamp and was made
   with the key the signed assertion confirms (holder-of-key; SPEC-NOTES §5.1, §5.5 step 3);
8. the required XSPA/NHIN attributes (§5.2).

An assertion that passed every check is remembered (``cache.py``) under the SHA-256 of the exact
bytes that were verified; a repeat of those bytes skips steps 2, 4, 5 and 8 (deterministic on
those bytes) but still runs 1, 3 (validity at ``now``), the window of 6 and all of 7.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import cryptography.exceptions
from cryptography import x509
from lxml import etree

from imx.errors import MalformedMessageError
from imx.security.xua.assertion import parse_instant
from imx.security.xua.attributes import (
    CM_HOLDER_OF_KEY,
    NS,
    PURPOSE_OF_USE_CODE_SYSTEM,
    PurposeOfUse,
    Role,
)
from imx.security.xua.cache import XuaCache
from imx.security.xua.chain import verify_certificate_chain
from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault
from imx.security.xua.saml_attributes import AssertionAttributes, read_attributes
from imx.security.xua.xmldsig import (
    verify_enveloped_signature,
    verify_signature_in_place,
)
from imx.wire.schemas import validate

__all__ = ["TrustConfig", "VerifiedAssertion", "verified_copy", "verify_assertion"]

_SAML = NS["saml2"]
_DS = NS["ds"]
_ASSERTION = f"{{{_SAML}}}Assertion"
_SIGNATURE = f"{{{_DS}}}Signature"
_WSSE_SECURITY = f"{{{NS['wsse']}}}Security"
_WSU = NS["wsu"]
_TIMESTAMP = f"{{{_WSU}}}Timestamp"
_KEY_INFO = f"{{{_DS}}}KeyInfo"
_X509_DATA = f"{{{_DS}}}X509Data"
_X509_CERTIFICATE = f"{{{_DS}}}X509Certificate"
_SIGNED_INFO = f"{{{_DS}}}SignedInfo"
_REFERENCE = f"{{{_DS}}}Reference"
_ISSUER = f"{{{_SAML}}}Issuer"
_SUBJECT = f"{{{_SAML}}}Subject"
_NAME_ID = f"{{{_SAML}}}NameID"
_CONDITIONS = f"{{{_SAML}}}Conditions"
_AUDIENCE_RESTRICTION = f"{{{_SAML}}}AudienceRestriction"
_AUDIENCE = f"{{{_SAML}}}Audience"
_AUTHZ_DECISION = f"{{{_SAML}}}AuthzDecisionStatement"
_EVIDENCE = f"{{{_SAML}}}Evidence"
_TIMESTAMP_ID = f"{{{_WSU}}}Id"
_ALLOWED_TRANSFORMS: Final = frozenset({
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/2006/12/xml-c14n11",
})
_SEAL: Final = object()
# Re-reading bytes we serialised ourselves (no DTD can appear); hardened all the same.
_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True)

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
    # False: every signature goes through signxml (the reference path; differential tests).
    lean_xmldsig: bool = True
    # Verified assertions remembered (cache.py); 0 turns every cache off.
    cache_entries: int = 4096
    # Built here, never passed in: a copy made with dataclasses.replace() (other audiences,
    # anchors or skew) gets a cache of its own, so no answer crosses configurations.
    cache: XuaCache = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size = self.cache_entries
        object.__setattr__(self, "cache", XuaCache(max_assertions=size,
                                                   max_certificates=min(size, 256)))


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


_ID_NAMES: Final = frozenset({"ID", "Id", "id"})


def _id_counts(root: etree._Element, wanted: frozenset[str]) -> dict[str, int]:
    """How many ID-like attributes in the whole message carry each ``wanted`` value (signxml's
    resolver matches any attribute named ID, Id or id, in any namespace, xml:id included).
    One pass in Python, looking at attribute names only on elements holding a wanted value:
    faster than the equivalent XPath, and than counting every ID in the message."""
    counts: dict[str, int] = {}
    for element in root.iter(etree.Element):
        if wanted.isdisjoint(element.values()):
            continue
        for name, value in element.items():
            if value in wanted and name.rpartition("}")[2] in _ID_NAMES:
                counts[value] = counts.get(value, 0) + 1
    return counts


def _evidence(security: etree._Element) -> list[etree._Element]:
    """Assertions carried as evidence of an authorization decision inside the header's
    assertion (Assertion/AuthzDecisionStatement/Evidence/Assertion: SAML core 2.7.4.3, the
    NHIN Access Consent Policy, SPEC-NOTES §5.2). They are content of the signed assertion,
    covered by its signature, and never read: no other place or depth is allowed."""
    return _under(security, _ASSERTION, _AUTHZ_DECISION, _EVIDENCE, _ASSERTION)


def _locate(security: etree._Element) -> tuple[etree._Element, dict[str, int]]:
    root = security.getroottree().getroot()
    assertions = list(root.iter(_ASSERTION))
    if len(assertions) > 1:
        evidence = _evidence(security)
        assertions = [a for a in assertions if a not in evidence]
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
    # The values whose uniqueness later checks need: the assertion's, the Timestamp's.
    timestamp = security.find(_TIMESTAMP)
    timestamp_id = timestamp.get(_TIMESTAMP_ID) if timestamp is not None else None
    ids = _id_counts(root, frozenset(v for v in (assertion_id, timestamp_id) if v))
    if not assertion_id or ids.get(assertion_id) != 1:
        raise SecurityHeaderError("the assertion ID must be present and unique in the message",
                                  fault=Fault.INVALID_SECURITY)
    return assertion, ids


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


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a fully verified assertion said: cached, then re-checked against ``now``."""

    assertion_id: str
    issuer: str
    name_id: str
    issued: dt.datetime
    not_before: dt.datetime | None
    not_after: dt.datetime
    restrictions: tuple[tuple[str, ...], ...]
    attributes: AssertionAttributes
    certificate_texts: tuple[str, ...]
    certificates: tuple[x509.Certificate, ...]
    confirmation_text: str | None
    signer_subject: str
    signer_sha256: str


def _load_certificate(base64_der: str) -> x509.Certificate:
    """Parse a certificate completely now: cryptography decodes fields lazily, and a damaged
    issuer or extension would otherwise raise ValueError in the middle of a later check."""
    cert = x509.load_der_x509_certificate(base64.b64decode("".join(base64_der.split()),
                                                           validate=True))
    _ = (cert.issuer, cert.subject, cert.public_key(), cert.extensions,
         cert.not_valid_before_utc, cert.not_valid_after_utc, cert.subject.rfc4514_string())
    return cert


def _under(element: etree._Element, *tags: str) -> list[etree._Element]:
    """What ``element.findall("t1/t2/...")`` returns for plain child steps (same elements,
    same order: ElementPath also selects step by step), without parsing the path per call."""
    level = [element]
    for tag in tags:
        level = [child for parent in level for child in parent.iterchildren(tag)]
    return level


def _text_under(element: etree._Element, *tags: str) -> str | None:
    """``element.findtext("t1/t2/...")``: the first match's text ("" if none), else None."""
    found = _under(element, *tags)
    return (found[0].text or "") if found else None


def _parse_certificate(text: str, trust: TrustConfig, now: dt.datetime) -> x509.Certificate:
    return trust.cache.certificate(text, _load_certificate, now)


def _certificates(signature: etree._Element, trust: TrustConfig, now: dt.datetime
                  ) -> tuple[tuple[str, ...], tuple[x509.Certificate, ...]]:
    elements = _under(signature, _KEY_INFO, _X509_DATA, _X509_CERTIFICATE)
    texts = tuple(e.text or "" for e in elements)
    try:
        certs = tuple(_parse_certificate(t, trust, now) for t in texts)
    except (ValueError, binascii.Error, cryptography.exceptions.UnsupportedAlgorithm) as exc:
        raise SecurityHeaderError("the signature's X.509 certificate cannot be read",
                                  fault=Fault.INVALID_SECURITY_TOKEN) from exc
    if not certs:
        raise SecurityHeaderError("the signature carries no X.509 certificate",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    return texts, certs


def _check_chain(texts: tuple[str, ...], certs: Sequence[x509.Certificate], trust: TrustConfig,
                 now: dt.datetime) -> None:
    """SPEC-NOTES §5.5 #3, remembered per exact chain until a certificate on it expires."""
    validity = trust.cache.paths.get(texts, now)
    if validity is not None and validity.covers(now):
        return
    validity = verify_certificate_chain(certs[0], certs[1:], trust.trust_anchors, now=now)
    trust.cache.paths.put(texts, validity, expires=validity.not_after, now=now)


def _check_references(signature: etree._Element, target_id: str, *, what: str) -> None:
    references = _under(signature, _SIGNED_INFO, _REFERENCE)
    if len(references) != 1 or references[0].get("URI") != f"#{target_id}":
        raise SecurityHeaderError(f"the signature must reference {what} itself",
                                  fault=Fault.FAILED_CHECK)
    for transform in references[0].iter(f"{{{_DS}}}Transform"):
        if transform.get("Algorithm") not in _ALLOWED_TRANSFORMS:
            raise SecurityHeaderError("signature transform not supported",
                                      fault=Fault.UNSUPPORTED_ALGORITHM)


def _detached(element: etree._Element) -> etree._Element:
    # A detached copy (no tail, in-scope namespaces kept): the verifier sees this subtree only.
    return etree.fromstring(etree.tostring(element, with_tail=False), parser=_PARSER)


def _verify_signature(assertion: etree._Element, verified_bytes: bytes, leaf: x509.Certificate,
                      trust: TrustConfig, now: dt.datetime) -> etree._Element:
    assertion_id = assertion.get("ID") or ""
    # The assertion ID is unique in the whole message (_locate): resolving the reference can
    # only find the assertion. signxml, for shapes outside the lean path, gets the parsed
    # verified bytes (validate_schema off: step 2 already validated ds:Signature strictly,
    # the SAML XSD imports xmldsig-core; signxml's second pass costs ~1 ms per request).
    signed = verify_enveloped_signature(
        assertion, leaf, id_attribute="ID", accept_sha1=trust.accept_sha1, now=now,
        lean=trust.lean_xmldsig, detach=lambda: etree.fromstring(verified_bytes, parser=_PARSER))
    if signed.tag != _ASSERTION or signed.get("ID") != assertion_id:
        raise SecurityHeaderError("the signature does not cover the assertion in the header",
                                  fault=Fault.FAILED_CHECK)
    return signed


def _confirmation_text(signed: etree._Element) -> str | None:
    """findtext of Subject/SubjectConfirmation[@Method=holder-of-key]/SubjectConfirmationData/
    KeyInfo/X509Data/X509Certificate: the certificate the assertion confirms, if any."""
    holders = [c for c in _under(signed, _SUBJECT, f"{{{_SAML}}}SubjectConfirmation")
               if c.get("Method") == CM_HOLDER_OF_KEY]
    found = [c for holder in holders for c in _under(
        holder, f"{{{_SAML}}}SubjectConfirmationData", _KEY_INFO, _X509_DATA, _X509_CERTIFICATE)]
    return (found[0].text or "") if found else None


def _confirmation_certificate(text: str | None, leaf: x509.Certificate, trust: TrustConfig,
                              now: dt.datetime) -> x509.Certificate:
    """The holder-of-key certificate the (signed) assertion confirms, else its signer's."""
    if not text:
        return leaf
    try:
        cert = _parse_certificate(text, trust, now)
    except (ValueError, binascii.Error, cryptography.exceptions.UnsupportedAlgorithm) as exc:
        raise SecurityHeaderError("the confirmation certificate cannot be read",
                                  fault=Fault.INVALID_SECURITY_TOKEN) from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SecurityHeaderError("the confirmation certificate is outside its validity",
                                  fault=Fault.FAILED_AUTHENTICATION)
    return cert


def _check_timestamp_signature(security: etree._Element, ids: dict[str, int],
                               confirmation_text: str | None, leaf: x509.Certificate,
                               trust: TrustConfig, now: dt.datetime) -> None:
    """SPEC-NOTES §5.1: the header's own ds:Signature over wsu:Timestamp, by the confirmed key."""
    signatures = [child for child in security if child.tag == _SIGNATURE]
    if not signatures:
        if trust.require_timestamp_signature:
            raise SecurityHeaderError("the wsu:Timestamp must be signed",
                                      fault=Fault.INVALID_SECURITY)
        return
    timestamp = security.find(_TIMESTAMP)
    timestamp_id = timestamp.get(_TIMESTAMP_ID) if timestamp is not None else None
    if (timestamp is None or len(signatures) > 1 or not timestamp_id
            or ids.get(timestamp_id) != 1):
        raise SecurityHeaderError("one signature over one identified wsu:Timestamp expected",
                                  fault=Fault.INVALID_SECURITY)
    _check_references(signatures[0], timestamp_id, what="the wsu:Timestamp")
    cert = _confirmation_certificate(confirmation_text, leaf, trust, now)

    def detach() -> etree._Element:
        # For signxml: only the Timestamp and the Signature (exc-c14n output does not depend
        # on siblings), so it copies and searches 2 KB instead of the whole header.
        minimal = etree.Element(security.tag)
        minimal.extend([copy.deepcopy(timestamp), copy.deepcopy(signatures[0])])
        return _detached(minimal)

    # The lean path verifies in the message itself: timestamp_id is unique in it (checked
    # above), and this reference has no enveloped transform, so nothing is copied or changed.
    signed_timestamp = verify_signature_in_place(security, timestamp, cert, id_attribute="Id",
                                                 accept_sha1=trust.accept_sha1, now=now,
                                                 lean=trust.lean_xmldsig, detach=detach)
    if signed_timestamp.tag != _TIMESTAMP or signed_timestamp.get(_TIMESTAMP_ID) != timestamp_id:
        raise SecurityHeaderError("the header signature does not cover the wsu:Timestamp",
                                  fault=Fault.FAILED_CHECK)


def _instant(text: str | None, what: str) -> dt.datetime:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise SecurityHeaderError(f"assertion {what} is not a UTC dateTime",
                                  fault=Fault.INVALID_SECURITY_TOKEN) from exc


def _read_window(signed: etree._Element
                 ) -> tuple[dt.datetime, dt.datetime | None, dt.datetime]:
    issued = _instant(signed.get("IssueInstant"), "IssueInstant")
    conditions = _under(signed, _CONDITIONS)
    if len(conditions) != 1:
        raise SecurityHeaderError("the assertion must carry one Conditions element",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    not_after = _instant(conditions[0].get("NotOnOrAfter"), "NotOnOrAfter")
    not_before = conditions[0].get("NotBefore")
    return issued, (_instant(not_before, "NotBefore") if not_before else None), not_after


def _check_window(issued: dt.datetime, not_before: dt.datetime | None, not_after: dt.datetime,
                  trust: TrustConfig, now: dt.datetime) -> None:
    skew = trust.clock_skew
    if issued > now + skew or (not_before is not None and not_before > now + skew):
        raise SecurityHeaderError("the assertion is not yet valid",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    if now - skew >= not_after:  # SAML core 2.5.1.2: NotOnOrAfter is exclusive
        raise SecurityHeaderError("the assertion has expired", fault=Fault.INVALID_SECURITY_TOKEN)


def _read_audiences(signed: etree._Element) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple((a.text or "").strip() for a in _under(restriction, _AUDIENCE))
                 for restriction in _under(signed, _CONDITIONS, _AUDIENCE_RESTRICTION))


def _check_audience(restrictions: tuple[tuple[str, ...], ...], trust: TrustConfig) -> None:
    if not restrictions:
        raise SecurityHeaderError("the assertion names no audience",
                                  fault=Fault.FAILED_AUTHENTICATION)
    for values in restrictions:
        # SAML core 2.5.1.4: every AudienceRestriction must name this relying party.
        if not any(v in trust.audiences for v in values):
            raise SecurityHeaderError("the assertion is meant for another audience",
                                      fault=Fault.FAILED_AUTHENTICATION)


def _verify_afresh(security: etree._Element, assertion: etree._Element, ids: dict[str, int],
                   verified_bytes: bytes, trust: TrustConfig, now: dt.datetime) -> _Facts:
    """Steps 2-8 on an assertion not seen (byte for byte) before."""
    signature = _signature(assertion)
    texts, certs = _certificates(signature, trust, now)
    _check_chain(texts, certs, trust, now)
    assertion_id = assertion.get("ID") or ""
    _check_references(signature, assertion_id, what="the assertion")
    signed = _verify_signature(assertion, verified_bytes, certs[0], trust, now)
    # Everything below reads the signed copy only.
    if signed.get("Version") != "2.0":
        raise SecurityHeaderError("only SAML 2.0 assertions are accepted",
                                  fault=Fault.INVALID_SECURITY_TOKEN)
    issuer = (_text_under(signed, _ISSUER) or "").strip()
    if not issuer:
        raise SecurityHeaderError("the assertion has no Issuer", fault=Fault.INVALID_SECURITY_TOKEN)
    issued, not_before, not_after = _read_window(signed)
    _check_window(issued, not_before, not_after, trust, now)
    restrictions = _read_audiences(signed)
    _check_audience(restrictions, trust)
    confirmation_text = _confirmation_text(signed)
    _check_timestamp_signature(security, ids, confirmation_text, certs[0], trust, now)
    attrs = read_attributes(signed, purpose_code_system=PURPOSE_OF_USE_CODE_SYSTEM)
    signer_subject, signer_sha256 = trust.cache.names(texts[0], certs[0], now)
    return _Facts(
        assertion_id=assertion_id, issuer=issuer,
        name_id=(_text_under(signed, _SUBJECT, _NAME_ID) or "").strip(),
        issued=issued, not_before=not_before, not_after=not_after, restrictions=restrictions,
        attributes=attrs, certificate_texts=texts, certificates=certs,
        confirmation_text=confirmation_text, signer_subject=signer_subject,
        signer_sha256=signer_sha256)


def _verify_again(security: etree._Element, ids: dict[str, int], facts: _Facts,
                  trust: TrustConfig, now: dt.datetime) -> None:
    """A byte-identical assertion already passed steps 2-8: redo what depends on ``now`` or on
    the rest of this message, in the same order as ``_verify_afresh``."""
    _check_chain(facts.certificate_texts, facts.certificates, trust, now)
    _check_window(facts.issued, facts.not_before, facts.not_after, trust, now)
    _check_audience(facts.restrictions, trust)  # same config, so same answer: defence in depth
    _check_timestamp_signature(security, ids, facts.confirmation_text, facts.certificates[0],
                               trust, now)


def verify_assertion(security: etree._Element, *, trust: TrustConfig,
                     now: dt.datetime) -> VerifiedAssertion:
    """Verify the SAML assertion of a wsse:Security header element.

    Args:
        security: the wsse:Security header block (still attached to its envelope, so the
            whole message can be searched for duplicate assertions and IDs).
        trust: anchors, audiences, clock skew, algorithm quirks, and the verification cache.
        now: the current time (timezone-aware, from the Clock port).

    Raises:
        SecurityHeaderError: with the WSS fault code of the first failed check.
    """
    assertion, ids = _locate(security)
    # The exact input of the signature check (subtree + in-scope namespaces): the cache key.
    verified_bytes = etree.tostring(assertion, with_tail=False)
    key = XuaCache.assertion_key(verified_bytes)
    facts = trust.cache.assertions.get(key, now)
    if isinstance(facts, _Facts):
        _verify_again(security, ids, facts, trust, now)
    else:
        facts = _verify_afresh(security, assertion, ids, verified_bytes, trust, now)
        # SAML core 2.5.1.2: useless after NotOnOrAfter (+ skew), when the window refuses it.
        trust.cache.assertions.put(key, facts, expires=facts.not_after + trust.clock_skew,
                                   now=now)
    attrs = facts.attributes
    return VerifiedAssertion(
        assertion_id=facts.assertion_id, issuer=facts.issuer, name_id=facts.name_id,
        subject_id=attrs.subject_id, organization=attrs.organization,
        organization_id=attrs.organization_id, home_community_id=attrs.home_community_id,
        purpose_of_use=attrs.purpose_of_use, role=attrs.role, npi=attrs.npi,
        issue_instant=facts.issued, not_on_or_after=facts.not_after,
        audiences=tuple(a for values in facts.restrictions for a in values),
        signer_subject=facts.signer_subject,
        signer_certificate_sha256=facts.signer_sha256,
        signer_certificate=facts.certificates[0], _seal=_SEAL)


def verified_copy(values: dict[str, object], signer_certificate: x509.Certificate
                  ) -> VerifiedAssertion:
    """The ``VerifiedAssertion`` that ``verify_assertion`` returned in imx's own verifier
    process (``verifier_process.py``), rebuilt in the node's process from its fields."""
    return VerifiedAssertion(**values, signer_certificate=signer_certificate,  # type: ignore[arg-type]
                             _seal=_SEAL)
