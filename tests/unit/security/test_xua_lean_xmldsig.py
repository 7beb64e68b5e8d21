"""The lean XML-DSig path agrees with signxml: same accept / refuse, same fault, same signed bytes.

``xmldsig._verify_lean`` replaces signxml for the XUA profile only (exc-c14n, RSA-SHA2, one
``#ID`` reference); these tests run both on the same inputs: our signatures, InclusiveNamespaces
prefix lists (declared on an ancestor too), xmlsec1-shaped whitespace, and a few hundred
deterministic random damages of a signed header. Anything outside the profile must be handed
to signxml, never judged by the lean path.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import random
import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pytest
from lxml import etree

from imx.errors import MalformedMessageError
from imx.security.xua import (
    SecurityHeaderError,
    TrustConfig,
    VerifiedAssertion,
    WsSecurityFault,
    build_assertion,
    parse_security_header,
    verify_assertion,
    xmldsig,
)
from imx.security.xua.attributes import NS
from imx.wire.xml import parse_xml
from tests.support.xua_pki import NOW, OUR_HCID, envelope, pki, security_header, user

SAML = NS["saml2"]
DS = NS["ds"]
SKEW = dt.timedelta(minutes=5)
Outcome = tuple[object, ...]


def _trust(*, lean: bool) -> TrustConfig:
    # cache off: every call verifies the signature itself
    return TrustConfig(trust_anchors=(pki().ca.cert,), audiences=frozenset({OUR_HCID}),
                       lean_xmldsig=lean, cache_entries=0)


def _meaning(v: VerifiedAssertion) -> Outcome:
    return ("ok", v.assertion_id, v.issuer, v.name_id, v.subject_id, v.organization,
            v.organization_id, v.home_community_id, v.purpose_of_use, v.role, v.npi,
            v.issue_instant, v.not_on_or_after, v.audiences, v.signer_certificate_sha256)


def _outcome(data: bytes, *, lean: bool) -> Outcome:
    try:
        env = parse_xml(data)
        header = parse_security_header(list(env[0]) if len(env) else [], now=NOW,
                                       clock_skew=SKEW)
        return _meaning(verify_assertion(header.element, trust=_trust(lean=lean), now=NOW))
    except MalformedMessageError:
        return ("malformed",)
    except SecurityHeaderError as exc:
        return ("refused", exc.fault)


def _agree(data: bytes) -> Outcome:
    lean, reference = _outcome(data, lean=True), _outcome(data, lean=False)
    assert lean == reference
    return lean


@lru_cache(maxsize=1)
def _original() -> bytes:
    return envelope(security_header())


def test_our_signatures_take_the_lean_path() -> None:
    header = parse_xml(_original())[0][0]
    assertion = header.find(f"{{{SAML}}}Assertion")
    root = etree.fromstring(etree.tostring(assertion, with_tail=False))
    xmldsig._lean_plan(root)  # raises _NotLean when signxml would have to judge it
    assert _agree(_original())[0] == "ok"


def test_signed_bytes_are_those_signxml_returns() -> None:
    assertion = parse_xml(_original())[0][0].find(f"{{{SAML}}}Assertion")
    args = {"id_attribute": "ID", "accept_sha1": False, "now": NOW, "validate_schema": False}
    lean = xmldsig.verify_signature(copy.deepcopy(assertion), pki().signer.cert, lean=True,
                                    **args)  # type: ignore[arg-type]
    reference = xmldsig.verify_signature(copy.deepcopy(assertion), pki().signer.cert,
                                         lean=False, **args)  # type: ignore[arg-type]
    assert etree.tostring(lean, method="c14n") == etree.tostring(reference, method="c14n")


XMLSEC = shutil.which("xmlsec1")
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _signed_with_prefix_list(prefixes: str, *, ancestor_xs: bool, work: Path,
                             key_info: bool = False) -> bytes:
    """An assertion signed by xmlsec1 (an independent implementation) with an
    InclusiveNamespaces PrefixList on both canonicalisations (Exc-C14N §3)."""
    assertion = build_assertion(user(), assertion_id="_prefixes", now=NOW,
                                ttl=dt.timedelta(minutes=5))
    def e(parent: etree._Element, tag: str, ns: str = DS, **a: str) -> etree._Element:
        return etree.SubElement(parent, f"{{{ns}}}{tag}", a)

    sig = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    info = e(sig, "SignedInfo")
    e(e(info, "CanonicalizationMethod", Algorithm=EC), "InclusiveNamespaces", EC,
      PrefixList=prefixes)
    e(info, "SignatureMethod", Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    ref = e(info, "Reference", URI="#_prefixes")
    transforms = e(ref, "Transforms")
    e(transforms, "Transform", Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    e(e(transforms, "Transform", Algorithm=EC), "InclusiveNamespaces", EC, PrefixList=prefixes)
    e(ref, "DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    e(ref, "DigestValue")
    e(sig, "SignatureValue")
    if key_info:  # the signer's certificate, as XUA senders include it (SPEC-NOTES §5.4)
        from cryptography.hazmat.primitives.serialization import Encoding

        der = pki().signer.cert.public_bytes(Encoding.DER)
        e(e(e(sig, "KeyInfo"), "X509Data"), "X509Certificate").text = (
            base64.b64encode(der).decode())
    assertion.find(f"{{{SAML}}}Issuer").addnext(sig)
    template, out = work / "template.xml", work / "signed.xml"
    key = work / "key.pem"
    template.write_bytes(etree.tostring(assertion))
    key.write_bytes(pki().signer.key_pem)
    done = subprocess.run([XMLSEC, "--sign", "--id-attr:ID", f"{SAML}:Assertion",  # type: ignore[list-item]
                           "--privkey-pem", str(key), "--output", str(out), str(template)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    header = security_header()
    if ancestor_xs:  # a prefix in the list declared above the assertion, on wsse:Security
        nsmap = {**header.nsmap, "xs": "http://www.w3.org/2001/XMLSchema"}
        fresh = etree.Element(header.tag, nsmap=nsmap, attrib=dict(header.attrib))
        fresh.extend(list(header))
        header = fresh
    header.replace(header.find(f"{{{SAML}}}Assertion"), etree.fromstring(out.read_bytes()))
    return envelope(header)


@pytest.mark.skipif(XMLSEC is None, reason="xmlsec1 not installed (scripts/system-deps)")
@pytest.mark.parametrize("ancestor_xs", [False, True])
def test_inclusive_namespace_prefix_lists_agree(ancestor_xs: bool, tmp_path: Path) -> None:
    # The two XML-DSig paths directly, on the assertion in its header (the whole gate below).
    data = _signed_with_prefix_list("xs xsi", ancestor_xs=ancestor_xs, work=tmp_path)
    header = parse_xml(data)[0][0]
    assertion = header.find(f"{{{SAML}}}Assertion")
    args = {"id_attribute": "ID", "accept_sha1": False, "now": NOW, "validate_schema": False}
    detached = etree.tostring(assertion, with_tail=False)
    xmldsig._lean_plan(etree.fromstring(detached))  # in the lean profile
    lean = xmldsig.verify_signature(etree.fromstring(detached), pki().signer.cert, lean=True,
                                    **args)  # type: ignore[arg-type]
    reference = xmldsig.verify_signature(etree.fromstring(detached), pki().signer.cert,
                                         lean=False, **args)  # type: ignore[arg-type]
    assert etree.tostring(lean) == etree.tostring(reference)
    # in the message itself (the responder's path): the PrefixList names xs, declared above
    # the assertion when ancestor_xs, so the transform must work on the serialised copy
    in_message = xmldsig.verify_enveloped_signature(
        assertion, pki().signer.cert, id_attribute="ID", accept_sha1=False, now=NOW, lean=True,
        detach=lambda: etree.fromstring(detached))
    prefixes = ["xs", "xsi"]
    assert xmldsig._c14n(in_message, prefixes) == xmldsig._c14n(reference, prefixes)
    assert etree.tostring(parse_xml(data)) == etree.tostring(header.getroottree().getroot())
    # and a tampered copy fails both ways with the same fault
    tampered = detached.replace(b"Lakeside Health", b"Mallory Health")
    faults = []
    for lean_path in (True, False):
        with pytest.raises(SecurityHeaderError) as caught:
            xmldsig.verify_signature(etree.fromstring(tampered), pki().signer.cert,
                                     lean=lean_path, **args)  # type: ignore[arg-type]
        faults.append(caught.value.fault)
    assert faults[0] == faults[1]


def test_whitespace_and_comments_in_the_signature_agree() -> None:
    text = _original()
    spaced = text.replace(b"<ds:SignedInfo>", b"<ds:SignedInfo>\n  ", 1)
    commented = text.replace(b"<ds:SignedInfo>", b"<ds:SignedInfo><!-- x -->", 1)
    in_value = text.replace(b"<ds:SignatureValue>", b"<ds:SignatureValue><!-- x -->", 1)
    for variant in (spaced, commented, in_value):
        assert variant != text
        _agree(variant)


def _inclusive_c14n(signature: etree._Element) -> None:
    signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}CanonicalizationMethod").set(
        "Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315")


def _sha1(signature: etree._Element) -> None:
    signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod").set(
        "Algorithm", "http://www.w3.org/2000/09/xmldsig#rsa-sha1")


def _key_value(signature: etree._Element) -> None:
    etree.SubElement(signature.find(f"{{{DS}}}KeyInfo"), f"{{{DS}}}KeyValue")


def _object(signature: etree._Element) -> None:
    etree.SubElement(signature, f"{{{DS}}}Object")


@pytest.mark.parametrize("mutate", [_inclusive_c14n, _sha1, _key_value, _object])
def test_outside_the_profile_goes_to_signxml(mutate: Callable[[etree._Element], None]) -> None:
    assertion = parse_xml(_original())[0][0].find(f"{{{SAML}}}Assertion")
    root = etree.fromstring(etree.tostring(assertion, with_tail=False))
    mutate(root.find(f"{{{DS}}}Signature"))
    with pytest.raises(xmldsig._NotLean):
        xmldsig._lean_plan(root)


def _damaged(rng: random.Random, raw: bytes) -> bytes:
    start = raw.index(b"<wsse:Security")
    end = raw.index(b"</wsse:Security>")
    at = rng.randrange(start, end)
    kind = rng.randrange(4)
    if kind == 0:  # flip one printable character
        return raw[:at] + bytes([rng.choice(b"0123456789abcdefAZ=/+ <>\"'#_-")]) + raw[at + 1:]
    if kind == 1:
        return raw[:at] + raw[at + 1:]
    if kind == 2:
        length = rng.randrange(1, 40)
        return raw[:at] + raw[at:at + length] + raw[at:]
    # move a text-sized slice elsewhere in the header
    length = rng.randrange(1, 60)
    piece, rest = raw[at:at + length], raw[:at] + raw[at + length:]
    to = rng.randrange(start, min(end, len(rest)))
    return rest[:to] + piece + rest[to:]


def test_random_damage_gets_the_same_verdict_from_both_paths() -> None:
    rng = random.Random(20261128)  # deterministic: a failure is reproducible
    raw = _original()
    verdicts: dict[object, int] = {}
    for _ in range(400):
        outcome = _agree(_damaged(rng, raw))
        verdicts[outcome[0] if outcome[0] != "refused" else outcome[1]] = (
            verdicts.get(outcome[0] if outcome[0] != "refused" else outcome[1], 0) + 1)
    # the sample really exercised the signature checks, not only the parser
    assert sum(v for k, v in verdicts.items() if k not in {"ok", "malformed"}) > 100, verdicts


@pytest.mark.skipif(XMLSEC is None, reason="xmlsec1 not installed (scripts/system-deps)")
@pytest.mark.parametrize("prefixes", ["xs", "xs xsi", "#default xs"])
def test_an_assertion_signed_with_a_prefix_list_passes_the_whole_gate(
        prefixes: str, tmp_path: Path) -> None:
    # OpenSAML / WSS4J sign with <ec:InclusiveNamespaces PrefixList="xs"/>: schema, chain,
    # signature and attributes must all accept it (it was refused as schema-invalid).
    data = _signed_with_prefix_list(prefixes, ancestor_xs=True, work=tmp_path, key_info=True)
    config = TrustConfig(trust_anchors=(pki().ca.cert,),
                         audiences=frozenset({OUR_HCID}))
    headers = list(parse_xml(data)[0])
    security = parse_security_header(headers, now=NOW, clock_skew=dt.timedelta(minutes=5))
    verified = verify_assertion(security.element, trust=config, now=NOW)
    assert verified.assertion_id == "_prefixes"
    assert verified.organization == "Lakeside Health"
    tampered = data.replace(b"Lakeside Health", b"Mallory Health")
    headers = list(parse_xml(tampered)[0])
    security = parse_security_header(headers, now=NOW, clock_skew=dt.timedelta(minutes=5))
    with pytest.raises(SecurityHeaderError) as caught:
        verify_assertion(security.element, trust=config, now=NOW)
    assert caught.value.fault is WsSecurityFault.FAILED_CHECK
