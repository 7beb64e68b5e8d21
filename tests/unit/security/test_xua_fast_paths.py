"""The responder's shortcuts decide exactly as the long way round (docs/trust-xua.md, "Cost").

- the canonical SignedInfo read without parsing (``xmldsig._plan_from_canonical``) gives the
  plan ``_plan`` reads from the parsed bytes, and declines every other spelling;
- the wsu:Timestamp signature verified in the message itself leaves the message unchanged and
  agrees with signxml on a detached copy;
- the ID-uniqueness count looks only at the values asked for, with signxml's attribute names.
"""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from imx.security.xua import (
    SecurityHeaderError,
    TrustConfig,
    parse_security_header,
    verify,
    verify_assertion,
    xmldsig,
)
from imx.security.xua.attributes import NS, AttributeName
from imx.wire.xml import parse_xml
from tests.support.xua_pki import NOW, OUR_HCID, envelope, pki, security_header

DS = NS["ds"]
SKEW = dt.timedelta(minutes=5)


def _signed_infos() -> list[bytes]:
    root = parse_xml(envelope(security_header()))
    return [xmldsig._c14n(si, None) for si in root.iter(f"{{{DS}}}SignedInfo")]


def _slow(canonical: bytes) -> xmldsig._Plan:
    return xmldsig._plan(etree.fromstring(canonical, parser=xmldsig._PARSER), None)


def _variants(canonical: bytes) -> list[bytes]:
    text = canonical.decode()
    default_ns = text.replace("ds:", "").replace("xmlns:ds=", "xmlns=")
    spaced = text  # whitespace between elements, as xmlsec1 and pretty printers write it
    for tag in (
        "CanonicalizationMethod",
        "SignatureMethod",
        "Reference",
        "Transforms",
        "Transform",
        "DigestMethod",
        "DigestValue",
        "/ds:Reference",
        "/ds:SignedInfo",
    ):
        name = tag if tag.startswith("/") else f"ds:{tag}"
        spaced = spaced.replace(f"<{name} ", f"\n  <{name} ").replace(f"<{name}>", f"\n<{name}>")
    other_prefix = text.replace("ds:", "dsig:").replace("xmlns:ds=", "xmlns:dsig=")
    return [v.encode() for v in (text, default_ns, spaced, other_prefix)]


def test_the_canonical_signed_info_reads_as_parsed() -> None:
    infos = _signed_infos()
    assert len(infos) == 2  # the assertion's (enveloped) and the Timestamp's
    for canonical in infos:
        for variant in _variants(canonical):
            fast = xmldsig._plan_from_canonical(variant)
            assert fast is not None
            assert fast == _slow(variant)
    assert [xmldsig._plan_from_canonical(c).enveloped for c in infos] == [True, False]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "edit",
    [
        (b'<ds:Reference URI="#', b'<ds:Reference Id="r1" URI="#'),  # an attribute _plan allows
        (b'<ds:Reference URI="#', b'<ds:Reference URI="#a&amp;'),  # an escape in the ID
        (b"<ds:CanonicalizationMethod", b"<other:CanonicalizationMethod"),  # a second prefix
        (b"</ds:DigestValue>", b"&#xD;</ds:DigestValue>"),  # a character reference
        (b"</ds:Transforms>", b'<ds:Transform Algorithm="urn:x"></ds:Transform></ds:Transforms>'),
        (b'xmldsig-more#rsa-sha256"', b'xmldsig#rsa-sha1"'),  # outside the lean profile
        (b"<ds:SignedInfo xmlns:ds", b'<ds:SignedInfo Id="s" xmlns:ds'),
        (b"></ds:SignatureMethod>", b">\n</ds:SignatureMethod>"),  # text inside an empty element
    ],
)
def test_any_other_spelling_is_left_to_the_parser(edit: tuple[bytes, bytes]) -> None:
    canonical = _signed_infos()[0]
    assert edit[0] in canonical
    assert xmldsig._plan_from_canonical(canonical.replace(edit[0], edit[1], 1)) is None


def _verify(data: bytes, *, lean: bool) -> tuple[str, object]:
    # etree.fromstring keeps comments (parse_xml drops them): a comment in the Signature puts
    # it outside the lean profile, so the detached copy and signxml decide.
    env = etree.fromstring(data)
    header = parse_security_header(list(env[0]), now=NOW, clock_skew=SKEW)
    trust = TrustConfig(
        trust_anchors=(pki().ca.cert,),
        audiences=frozenset({OUR_HCID}),
        lean_xmldsig=lean,
        cache_entries=0,
    )
    before = etree.tostring(env)
    try:
        return ("ok", verify_assertion(header.element, trust=trust, now=NOW).assertion_id)
    except SecurityHeaderError as exc:
        return ("refused", exc.fault)
    finally:
        assert etree.tostring(env) == before  # nothing in the message was changed


def _timestamp_signature_variants() -> list[bytes]:
    raw = envelope(security_header())
    second = raw.index(b"<ds:SignedInfo>", raw.index(b"<ds:SignedInfo>") + 1)
    head, tail = raw[:second], raw[second:]
    return [
        raw,
        head + b"<!-- c -->" + tail,  # a comment in the Signature: outside the lean profile
        head + tail.replace(b"<ds:SignedInfo>", b"<ds:SignedInfo>\n ", 1),  # signed bytes differ
        head + tail.replace(b"<ds:DigestValue>", b"<ds:DigestValue>A", 1),  # altered digest
        head + tail.replace(b"exc-c14n#", b"exc-c14n#WithComments", 1),  # other c14n
        raw.replace(b"<wsu:Created>", b"<wsu:Created> ", 1),  # Timestamp altered
    ]


def test_the_timestamp_signature_in_place_agrees_with_signxml() -> None:
    outcomes = []
    for variant in _timestamp_signature_variants():
        lean, reference = _verify(variant, lean=True), _verify(variant, lean=False)
        assert lean == reference
        outcomes.append(lean[0])
    assert outcomes == ["ok", "ok", "refused", "refused", "refused", "refused"]
    commented = etree.fromstring(_timestamp_signature_variants()[1])[0][0]
    with pytest.raises(xmldsig._NotLean):  # so the second "ok" came from signxml
        xmldsig._lean_plan(commented)


def test_id_counts_only_the_wanted_values_under_id_names() -> None:
    root = etree.fromstring(
        b'<r xmlns:w="urn:w"><a ID="x"/><b Id="x" ref="y"/><c w:Id="y"/><d xml:id="y"/>'
        b'<e name="x"/><f id="z"/></r>'
    )
    assert verify._id_counts(root, frozenset({"x", "y"})) == {"x": 2, "y": 2}
    assert verify._id_counts(root, frozenset({"q"})) == {}


_CONFIRMATION_PATH = (
    (
        "{S}Subject/{S}SubjectConfirmation[@Method='urn:oasis:names:tc:SAML:2.0:cm:holder-of-key']/"
        "{S}SubjectConfirmationData/{D}KeyInfo/{D}X509Data/{D}X509Certificate"
    )
    .replace("{S}", f"{{{NS['saml2']}}}")
    .replace("{D}", f"{{{DS}}}")
)


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "<s:Subject/>",
        "<s:Subject><s:NameID>a</s:NameID><s:NameID>b</s:NameID></s:Subject>",
        "<s:Subject><s:NameID/></s:Subject><s:Subject><s:NameID>late</s:NameID></s:Subject>",
        '<s:Subject><s:SubjectConfirmation Method="urn:other"><s:SubjectConfirmationData>'
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>OTHER</ds:X509Certificate></ds:X509Data>"
        "</ds:KeyInfo></s:SubjectConfirmationData></s:SubjectConfirmation>"
        '<s:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:holder-of-key">'
        "<s:SubjectConfirmationData><ds:KeyInfo><ds:X509Data/><ds:X509Data>"
        "<ds:X509Certificate/><ds:X509Certificate>SECOND</ds:X509Certificate></ds:X509Data>"
        "</ds:KeyInfo></s:SubjectConfirmationData></s:SubjectConfirmation></s:Subject>",
    ],
)
def test_paths_read_as_elementpath_reads_them(subject: str) -> None:
    signed = etree.fromstring(
        f'<s:Assertion xmlns:s="{NS["saml2"]}" xmlns:ds="{DS}">{subject}</s:Assertion>'.encode()
    )
    saml = f"{{{NS['saml2']}}}"
    assert verify._confirmation_text(signed) == signed.findtext(_CONFIRMATION_PATH)
    for tags in ((f"{saml}Subject", f"{saml}NameID"), (f"{saml}Subject",), (f"{saml}Nope",)):
        assert verify._under(signed, *tags) == signed.findall("/".join(tags))
        assert verify._text_under(signed, *tags) == signed.findtext("/".join(tags))


def test_a_comment_in_the_assertion_is_read_from_the_signed_bytes() -> None:
    # The comment-truncation class (2018 SAML advisories) on a tree that kept its comments
    # (parse_xml drops them; verify_assertion must not rely on that): exc-c14n ignores the
    # comment, so the signature verifies, and the value read must be the whole signed text.
    header = security_header()
    for attribute in header.iter(f"{{{NS['saml2']}}}Attribute"):
        if attribute.get("Name") == AttributeName.ORGANIZATION_ID:
            value = attribute[0]
    value.text = "urn:oid:1.2.840"
    comment = etree.Comment("x")
    comment.tail = ".114350.1.13.999"
    value.append(comment)
    for lean in (True, False):
        env = etree.fromstring(envelope(header))
        security = parse_security_header(list(env[0]), now=NOW, clock_skew=SKEW).element
        trust = TrustConfig(
            trust_anchors=(pki().ca.cert,),
            audiences=frozenset({OUR_HCID}),
            lean_xmldsig=lean,
            cache_entries=0,
        )
        verified = verify_assertion(security, trust=trust, now=NOW)
        assert verified.organization_id == "urn:oid:1.2.840.114350.1.13.999"
