"""XML-DSig verification of one signature: a lean path for the XUA profile, signxml otherwise.

The XUA profile (SPEC-NOTES §5.4) is narrow: exclusive c14n for SignedInfo, RSA-SHA2, one
``Reference`` to ``#ID`` with the enveloped-signature transform (the assertion) or none (the
``wsu:Timestamp``) followed by exclusive c14n, a SHA-2 digest. For exactly that shape
``_verify_lean`` does what signxml's ``XMLVerifier.verify`` does, in the same order and with the
same outcome, but canonicalises each node once instead of re-parsing the input ~6 times (that
re-parsing was ~60% of the XUA gate's CPU). Anything else (inclusive c14n, SHA-1 when allowed,
KeyValue in KeyInfo, ds:Object, comments inside the Signature, an unknown transform, ...) goes to
signxml unchanged, so hostile or unusual signatures are judged by the reference implementation.

``tests/unit/security/test_xua_lean_xmldsig.py`` runs both paths on the same inputs (valid,
tampered, hostile) and checks they agree on the outcome and on the signed bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass
from typing import Final

import cryptography.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from imx.security.xua.attributes import NS
from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault

__all__ = ["verify_enveloped_signature", "verify_signature", "verify_signature_in_place"]

Fault = WsSecurityFault

_DS = NS["ds"]
_EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_WSSE_STR = f"{{{NS['wsse']}}}SecurityTokenReference"
_SIGNATURE = f"{{{_DS}}}Signature"
_SIGNED_INFO = f"{{{_DS}}}SignedInfo"
_SIGNATURE_VALUE = f"{{{_DS}}}SignatureValue"
_KEY_INFO = f"{{{_DS}}}KeyInfo"
_X509_DATA = f"{{{_DS}}}X509Data"
_X509_CERTIFICATE = f"{{{_DS}}}X509Certificate"
_C14N_METHOD = f"{{{_DS}}}CanonicalizationMethod"
_SIGNATURE_METHOD = f"{{{_DS}}}SignatureMethod"
_REFERENCE = f"{{{_DS}}}Reference"
_TRANSFORMS = f"{{{_DS}}}Transforms"
_TRANSFORM = f"{{{_DS}}}Transform"
_DIGEST_METHOD = f"{{{_DS}}}DigestMethod"
_DIGEST_VALUE = f"{{{_DS}}}DigestValue"
_INCLUSIVE_NAMESPACES = f"{{{_EC}}}InclusiveNamespaces"

# XML-DSig 1.1 §6.4 (RSA PKCS#1 v1.5) and §6.2 (digests); SHA-1 stays on the signxml path.
_LEAN_SIGNATURE_METHODS: Final[dict[str, hashes.HashAlgorithm]] = {
    SignatureMethod.RSA_SHA256.value: hashes.SHA256(),
    SignatureMethod.RSA_SHA384.value: hashes.SHA384(),
    SignatureMethod.RSA_SHA512.value: hashes.SHA512(),
}
_LEAN_DIGESTS: Final[dict[str, str]] = {
    DigestAlgorithm.SHA256.value: "sha256",
    DigestAlgorithm.SHA384.value: "sha384",
    DigestAlgorithm.SHA512.value: "sha512",
}
# signxml's parser for re-reading canonical bytes (c14n output never holds a DTD or entity).
_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class _NotLean(Exception):  # noqa: N818 - internal signal, never leaves this module
    """The signature is outside the lean profile: let signxml judge it."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a (canonical, then signed) SignedInfo asks for, read from the lean shape."""

    signature_hash: hashes.HashAlgorithm
    uri: str
    enveloped: bool
    prefixes: list[str] | None
    digest: str
    digest_value: str | None


def _no_junk(element: etree._Element) -> None:
    """Element-only content: no comment / PI children, no text but whitespace."""
    if (element.text or "").strip():
        raise _NotLean
    for child in element:
        if not isinstance(child.tag, str) or (child.tail or "").strip():
            raise _NotLean


def _children(element: etree._Element, *tags: str, attributes: frozenset[str]
              ) -> list[etree._Element]:
    """The element's children, which must be exactly ``tags`` (in order); attributes allowed."""
    _no_junk(element)
    if not set(element.attrib) <= attributes:
        raise _NotLean
    children = list(element)
    if [c.tag for c in children] != list(tags):
        raise _NotLean
    return children


def _prefix_list(method: etree._Element) -> list[str] | None:
    """exc-c14n InclusiveNamespaces PrefixList (Exclusive C14N §3), read as signxml reads it."""
    _no_junk(method)
    children = list(method)
    if not children:
        return None
    if (len(children) != 1 or children[0].tag != _INCLUSIVE_NAMESPACES or len(children[0])
            or (children[0].text or "").strip() or set(children[0].attrib) != {"PrefixList"}):
        raise _NotLean
    return (children[0].get("PrefixList") or "").split(" ")


def _algorithm(element: etree._Element, known: dict[str, object]) -> str:
    algorithm = element.get("Algorithm") or ""
    if set(element.attrib) != {"Algorithm"} or algorithm not in known:
        raise _NotLean
    return algorithm


def _check_key_info(key_info: etree._Element) -> None:
    """Only the KeyInfo shapes XUA uses: X509Data/X509Certificate, or one wsse STR.

    A KeyValue / DEREncodedKeyValue (which signxml matches against the certificate) or anything
    else sends the signature to signxml.
    """
    _no_junk(key_info)
    children = list(key_info)
    if set(key_info.attrib) - {"Id"} or not children:
        raise _NotLean
    if len(children) == 1 and children[0].tag == _WSSE_STR:
        return
    for data in children:
        if data.tag != _X509_DATA or data.attrib:
            raise _NotLean
        _no_junk(data)
        if not len(data) or any(c.tag != _X509_CERTIFICATE or c.attrib or len(c) for c in data):
            raise _NotLean


def _plan(signed_info: etree._Element, c14n_prefixes: list[str] | None) -> _Plan:
    c14n, method, reference = _children(signed_info, _C14N_METHOD, _SIGNATURE_METHOD, _REFERENCE,
                                        attributes=frozenset({"Id"}))
    # The signed SignedInfo must name the canonicalisation we just applied to it.
    if _algorithm(c14n, {_EC: None}) != _EC or _prefix_list(c14n) != c14n_prefixes:
        raise _NotLean
    signature_hash = _LEAN_SIGNATURE_METHODS[_algorithm(method, _LEAN_SIGNATURE_METHODS)]  # type: ignore[arg-type]
    _no_junk(method)
    if len(method):
        raise _NotLean
    transforms, digest_method, digest_value = _children(
        reference, _TRANSFORMS, _DIGEST_METHOD, _DIGEST_VALUE,
        attributes=frozenset({"URI", "Id", "Type"}))
    uri = reference.get("URI") or ""
    steps = _children(transforms, *([_TRANSFORM] * len(transforms)), attributes=frozenset())
    algorithms = [t.get("Algorithm") for t in steps]
    if algorithms == [_ENVELOPED, _EC]:
        _algorithm(steps[0], {_ENVELOPED: None})
        if len(steps[0]) or (steps[0].text or "").strip():
            raise _NotLean
    elif algorithms != [_EC]:
        raise _NotLean
    _algorithm(steps[-1], {_EC: None})
    digest = _LEAN_DIGESTS[_algorithm(digest_method, _LEAN_DIGESTS)]  # type: ignore[arg-type]
    _no_junk(digest_method)
    if len(digest_method) or len(digest_value) or digest_value.attrib or not uri.startswith("#"):
        raise _NotLean
    return _Plan(signature_hash=signature_hash, uri=uri, enveloped=len(steps) == 2,
                 prefixes=_prefix_list(steps[-1]), digest=digest, digest_value=digest_value.text)


def _canonical_signed_info() -> re.Pattern[bytes]:
    """The one canonical SignedInfo that XUA signers produce, as exclusive c14n renders it.

    Canonical XML has a single spelling (attribute order, quoting, empty elements as start/end
    pairs, fixed escapes), so these bytes say exactly what ``_plan`` would read after parsing
    them: one prefix (or the default namespace) for ds, no attributes but ``Algorithm`` and
    ``URI``, no InclusiveNamespaces, an NCName ID, base64 digest, whitespace between elements.
    Anything else (``&`` escapes, other prefixes, ``Id`` attributes, ...) does not match and
    is parsed and checked by ``_plan``.
    """
    ws = rb"[ \t\n]*"
    p = rb"(?(p)(?P=p):)"  # the SignedInfo's prefix, on every element

    def tag(name: bytes, attributes: bytes = b"") -> bytes:
        return ws + rb"<" + p + name + attributes + rb">"

    def end(name: bytes) -> bytes:
        return ws + rb"</" + p + name + rb">"

    def algorithm(name: bytes, uri: bytes) -> bytes:
        return tag(name, rb' Algorithm="' + uri + rb'"') + rb"</" + p + name + rb">"

    def uris(values: Iterable[str]) -> bytes:
        return b"|".join(re.escape(v.encode()) for v in values)

    return re.compile(
        rb'<(?:(?P<p>[A-Za-z_][A-Za-z0-9_.-]*):)?SignedInfo xmlns(?(p):(?P=p))="'
        + re.escape(_DS.encode()) + rb'">'
        + algorithm(b"CanonicalizationMethod", re.escape(_EC.encode()))
        + algorithm(b"SignatureMethod", rb"(?P<method>" + uris(_LEAN_SIGNATURE_METHODS) + rb")")
        + tag(b"Reference", rb' URI="#(?P<id>[A-Za-z_][A-Za-z0-9_.-]*)"') + tag(b"Transforms")
        + rb"(?P<enveloped>" + algorithm(b"Transform", re.escape(_ENVELOPED.encode())) + rb")?"
        + algorithm(b"Transform", re.escape(_EC.encode())) + end(b"Transforms")
        + algorithm(b"DigestMethod", rb"(?P<digest>" + uris(_LEAN_DIGESTS) + rb")")
        + tag(b"DigestValue") + rb"(?P<value>[A-Za-z0-9+/=\t\n ]*)" + rb"</" + p + rb"DigestValue>"
        + end(b"Reference") + end(b"SignedInfo"))


_CANONICAL_SIGNED_INFO: Final = _canonical_signed_info()


def _plan_from_canonical(signed_info_c14n: bytes) -> _Plan | None:
    """``_plan`` for the usual canonical SignedInfo, read without parsing; None otherwise."""
    match = _CANONICAL_SIGNED_INFO.fullmatch(signed_info_c14n)
    if match is None:
        return None
    return _Plan(signature_hash=_LEAN_SIGNATURE_METHODS[match["method"].decode()],
                 uri="#" + match["id"].decode(), enveloped=match["enveloped"] is not None,
                 prefixes=None, digest=_LEAN_DIGESTS[match["digest"].decode()],
                 digest_value=match["value"].decode())


def _c14n(element: etree._Element, prefixes: list[str] | None) -> bytes:
    # Exclusive XML Canonicalization 1.0, without comments; lxml renders the in-scope
    # namespaces of the apex exactly as for a detached copy (what signxml canonicalises).
    canonical: bytes = etree.tostring(element, method="c14n", exclusive=True,
                                      with_comments=False, inclusive_ns_prefixes=prefixes)
    return canonical


def _remove_keeping_tail(signature: etree._Element) -> None:
    # XML-DSig §6.6.4 enveloped-signature transform removes the Signature element only; its
    # tail text belongs to the parent's content (signxml's _remove_sig does the same).
    parent = signature.getparent()
    if parent is None:
        raise _NotLean
    if signature.tail is not None:
        previous = signature.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + signature.tail
        else:
            parent.text = (parent.text or "") + signature.tail
    parent.remove(signature)


def _resolve(root: etree._Element, uri: str, id_attribute: str) -> etree._Element:
    """Same-document reference by ID (XML-DSig §4.4.3.3), resolved as signxml does (the
    elements with any attribute of that local name and value: exactly one), without XPath."""
    value = uri[1:]
    found: list[etree._Element] = []
    for element in root.getroottree().getroot().iter(etree.Element):
        for name, attribute in element.items():
            if attribute == value and name.rpartition("}")[2] == id_attribute:
                found.append(element)
                break
    if len(found) != 1:
        raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK)
    return found[0]


def _lean_plan(root: etree._Element) -> tuple[etree._Element, etree._Element, bytes, _Plan]:
    """Shape checks only (no crypto, no mutation): raise ``_NotLean`` to use signxml."""
    signature = root if root.tag == _SIGNATURE else root.find(_SIGNATURE)
    if signature is None or signature is root:
        raise _NotLean
    _no_junk(signature)
    if set(signature.attrib) - {"Id"}:
        raise _NotLean
    parts = list(signature)
    if [p.tag for p in parts] not in ([_SIGNED_INFO, _SIGNATURE_VALUE],
                                      [_SIGNED_INFO, _SIGNATURE_VALUE, _KEY_INFO]):
        raise _NotLean
    signed_info, value = parts[0], parts[1]
    if len(value) or set(value.attrib) - {"Id"}:
        raise _NotLean
    if len(parts) == 3:
        _check_key_info(parts[2])
    c14n_methods = signed_info.findall(_C14N_METHOD)
    if len(c14n_methods) != 1 or c14n_methods[0].get("Algorithm") != _EC:
        raise _NotLean
    prefixes = _prefix_list(c14n_methods[0])
    signed_info_c14n = _c14n(signed_info, prefixes)
    # Read the plan from the canonical bytes: what the signature value covers, nothing else.
    plan = _plan_from_canonical(signed_info_c14n) if prefixes is None else None
    if plan is None:
        plan = _plan(etree.fromstring(signed_info_c14n, parser=_PARSER), prefixes)
    return signature, value, signed_info_c14n, plan


def _named(target: etree._Element, uri: str, id_attribute: str) -> etree._Element:
    """The reference's target when the caller has already proven that ``target`` is the only
    element of the document carrying an ID-like attribute with this value: it must carry it
    under ``id_attribute`` (as ``_resolve`` would find it), else nothing is found."""
    value = uri[1:]
    for name, attribute in target.items():
        if attribute == value and name.rpartition("}")[2] == id_attribute:
            return target
    raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK)


def _expected_digest(value: etree._Element, signed_info_c14n: bytes, plan: _Plan,
                     cert: x509.Certificate, now: dt.datetime) -> bytes:
    """signxml's order: signature value decoding, certificate validity, signature value check;
    then the DigestValue the reference must match."""
    try:
        raw_signature = base64.b64decode(value.text)  # None: TypeError, as in signxml
    except (ValueError, TypeError) as exc:
        raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK) from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SecurityHeaderError("signing certificate not acceptable",
                                  fault=Fault.FAILED_AUTHENTICATION)
    key = cert.public_key()
    try:
        if not isinstance(key, rsa.RSAPublicKey):
            raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK)
        key.verify(raw_signature, signed_info_c14n, padding.PKCS1v15(), plan.signature_hash)
        return base64.b64decode(plan.digest_value or "")
    except (ValueError, cryptography.exceptions.InvalidSignature) as exc:
        raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK) from exc


def _digested(target: etree._Element, plan: _Plan, expected: bytes) -> bytes:
    payload = _c14n(target, plan.prefixes)
    if hashlib.new(plan.digest, payload).digest() != expected:
        raise SecurityHeaderError("signed content was altered (digest mismatch)",
                                  fault=Fault.FAILED_CHECK)
    return payload


def _reparsed(payload: bytes) -> etree._Element:
    # "See what is signed" (XML-DSig best practices §2.1): hand back only the canonical bytes,
    # re-parsed (no comments, no unsigned siblings), as signxml's signed_xml.
    try:
        return etree.fromstring(payload, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SecurityHeaderError("signature is not valid", fault=Fault.FAILED_CHECK) from exc


def _verify_lean(root: etree._Element, cert: x509.Certificate, *, id_attribute: str,
                 now: dt.datetime, target: etree._Element | None = None,
                 in_place: bool = False) -> etree._Element:
    signature, value, signed_info_c14n, plan = _lean_plan(root)
    if in_place and plan.enveloped:
        raise _NotLean  # the enveloped transform edits the tree: only on a detached copy
    expected = _expected_digest(value, signed_info_c14n, plan, cert, now)
    target = (_resolve(root, plan.uri, id_attribute) if target is None
              else _named(target, plan.uri, id_attribute))
    if plan.enveloped:
        _remove_keeping_tail(signature)
    return _reparsed(_digested(target, plan, expected))


def _faithful(tree: etree._Element) -> bool:
    """Whether reading ``tree`` reads exactly its exclusive c14n (without comments): true when
    it holds no comment, processing instruction or entity reference, the only nodes that
    canonicalisation drops or rewrites. Elements, attributes and text are rendered as they
    are (escaped), so parsing the canonical bytes again would rebuild the same values."""
    return next(tree.iter(etree.Comment, etree.ProcessingInstruction, etree.Entity), None) is None


def _verify_lean_enveloped(element: etree._Element, cert: x509.Certificate, *,
                           id_attribute: str, now: dt.datetime,
                           detach: Callable[[], etree._Element]) -> etree._Element:
    # The shape and SignedInfo are read in the message (c14n renders an element the same in
    # its document as detached); only the enveloped transform needs a copy of ``element``.
    _, value, signed_info_c14n, plan = _lean_plan(element)
    expected = _expected_digest(value, signed_info_c14n, plan, cert, now)
    _named(element, plan.uri, id_attribute)
    if not plan.enveloped:
        return _reparsed(_digested(element, plan, expected))
    # Without an InclusiveNamespaces PrefixList, exclusive c14n renders only the namespaces
    # the copied nodes use, which deepcopy keeps; a PrefixList may name an unused prefix
    # declared above ``element``, which only the serialised copy (all in-scope
    # namespaces, as signxml gets it) still declares.
    copy = deepcopy(element) if plan.prefixes is None else detach()
    copy.tail = None  # deepcopy keeps the tail; it is outside the element (and its c14n)
    signature = copy.find(_SIGNATURE)  # the one _lean_plan read, at the same place
    if signature is None:
        raise _NotLean
    _remove_keeping_tail(signature)
    payload = _digested(copy, plan, expected)
    # The copy is what was digested: unless it holds nodes c14n drops, reading it reads the
    # signed bytes, and parsing those again would only rebuild it.
    return copy if _faithful(copy) else _reparsed(payload)


def _signature_config(*, accept_sha1: bool, now: dt.datetime) -> SignatureConfiguration:
    methods = {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
    digests = {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
    if accept_sha1:
        methods.add(SignatureMethod.RSA_SHA1)
        digests.add(DigestAlgorithm.SHA1)
    # location "./": the ds:Signature must be a direct child of the element we pass in.
    return SignatureConfiguration(location="./", expect_references=1,
                                  signature_methods=frozenset(methods),
                                  digest_algorithms=frozenset(digests),
                                  verification_time=now)


def _verify_signxml(root: etree._Element, cert: x509.Certificate, *, id_attribute: str,
                    accept_sha1: bool, now: dt.datetime, validate_schema: bool) -> etree._Element:
    """signxml with our configuration; every failure becomes a WSS fault."""
    try:
        result = XMLVerifier().verify(root, x509_cert=cert, id_attribute=id_attribute,
                                      validate_schema=validate_schema,
                                      expect_config=_signature_config(accept_sha1=accept_sha1,
                                                                      now=now))
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


def verify_signature(root: etree._Element, cert: x509.Certificate, *, id_attribute: str,
                     accept_sha1: bool, now: dt.datetime, validate_schema: bool,
                     lean: bool = True, target: etree._Element | None = None
                     ) -> etree._Element:
    """Verify the ds:Signature child of ``root`` (a detached copy, which may be modified).

    Args:
        root: the element whose direct child is the ds:Signature (signxml ``location="./"``).
        cert: the key to verify with (already trusted by the caller).
        id_attribute: the attribute the Reference URI names (``ID`` or ``Id``).
        accept_sha1: SPEC-NOTES §5.4 legacy peers.
        now: certificate validity time.
        validate_schema: signxml's XML-DSig schema pass (the lean path only accepts a shape
            that is schema-valid by construction).
        lean: False forces signxml (the reference implementation; used by differential tests).
        target: the element the caller has proven to be the only one in ``root``'s document
            carrying the referenced ID (the lean path then skips searching for it).

    Returns:
        The signed element, re-parsed from its canonical bytes.

    Raises:
        SecurityHeaderError: FailedCheck / FailedAuthentication / UnsupportedAlgorithm.
    """
    if lean:
        try:
            return _verify_lean(root, cert, id_attribute=id_attribute, now=now, target=target)
        except _NotLean:
            pass  # not mutated: _lean_plan raises before the tree is touched
    return _verify_signxml(root, cert, id_attribute=id_attribute, accept_sha1=accept_sha1,
                           now=now, validate_schema=validate_schema)


def verify_enveloped_signature(element: etree._Element, cert: x509.Certificate, *,
                               id_attribute: str, accept_sha1: bool, now: dt.datetime,
                               lean: bool, detach: Callable[[], etree._Element]
                               ) -> etree._Element:
    """``verify_signature`` for ``element``'s own ds:Signature child (the SAML assertion's),
    without changing the message ``element`` is in.

    The caller must have proven that ``element`` is the only element of the whole document
    carrying the referenced ID. The lean path reads the signature in the message and applies
    the enveloped-signature transform to a copy; the result is the signed element (the copy,
    or its canonical bytes parsed again when it holds comments or processing instructions).
    Anything outside the lean profile is verified by signxml on ``detach()``, a detached copy
    with every in-scope namespace, without its XML-DSig schema pass (the caller validated).
    """
    if lean:
        try:
            return _verify_lean_enveloped(element, cert, id_attribute=id_attribute, now=now,
                                          detach=detach)
        except _NotLean:
            pass  # the message was not touched
    return _verify_signxml(detach(), cert, id_attribute=id_attribute, accept_sha1=accept_sha1,
                           now=now, validate_schema=False)


def verify_signature_in_place(root: etree._Element, target: etree._Element,
                              cert: x509.Certificate, *, id_attribute: str, accept_sha1: bool,
                              now: dt.datetime, lean: bool,
                              detach: Callable[[], etree._Element]) -> etree._Element:
    """``verify_signature`` on ``root`` inside its message, without copying or changing it.

    For a signature whose Reference has no enveloped-signature transform (the wsu:Timestamp):
    exclusive c14n of an element renders the same bytes in its document as in a detached copy
    (its in-scope namespaces are rendered either way, siblings never), so the lean path needs
    no copy. The caller must have proven that ``target`` is the only element of the whole
    document carrying the referenced ID. Anything else (outside the lean profile, enveloped,
    ``lean=False``) is verified by ``verify_signature(detach(), ...)`` with the schema pass.
    """
    if lean:
        try:
            return _verify_lean(root, cert, id_attribute=id_attribute, now=now, target=target,
                                in_place=True)
        except _NotLean:
            pass  # the tree was not touched
    return verify_signature(detach(), cert, id_attribute=id_attribute, accept_sha1=accept_sha1,
                            now=now, validate_schema=True, lean=lean)
