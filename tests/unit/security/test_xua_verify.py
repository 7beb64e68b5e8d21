"""verify_assertion and the wsse:Security header: what a responder accepts and refuses."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from lxml import etree

from imx.security.xua import (
    SecurityHeaderError,
    SigningQuirks,
    TrustConfig,
    VerifiedAssertion,
    WsSecurityFault,
    build_security_header,
    parse_security_header,
    verify_assertion,
)
from imx.security.xua.attributes import AttributeName, PurposeOfUse
from imx.security.xua.chain import load_trust_anchors
from imx.wire.xml import parse_xml
from tests.support.xua_pki import NOW, OUR_HCID, envelope, pki, security_header, user

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SKEW = dt.timedelta(minutes=5)
F = WsSecurityFault


def trust(**overrides: object) -> TrustConfig:
    fields: dict[str, object] = {"trust_anchors": (pki().ca.cert,),
                                 "audiences": frozenset({OUR_HCID})}
    fields.update(overrides)
    return TrustConfig(**fields)  # type: ignore[arg-type]


def verify(data: bytes, *, now: dt.datetime = NOW, config: TrustConfig | None = None
           ) -> VerifiedAssertion:
    env = parse_xml(data)
    header = parse_security_header(list(env[0]), now=now, clock_skew=SKEW)
    return verify_assertion(header.element, trust=config or trust(), now=now)


def refused(data: bytes, **kwargs: object) -> WsSecurityFault:
    with pytest.raises(SecurityHeaderError) as info:
        verify(data, **kwargs)  # type: ignore[arg-type]
    return info.value.fault


def assertion_of(security: etree._Element) -> etree._Element:
    return security.find(f"{{{SAML}}}Assertion")


def attribute_value(security: etree._Element, name: str) -> etree._Element:
    return assertion_of(security).find(
        f".//{{{SAML}}}Attribute[@Name='{name}']/{{{SAML}}}AttributeValue")


def test_a_valid_assertion_yields_its_attributes() -> None:
    v = verify(envelope(security_header()))
    assert (v.subject_id, v.organization, v.organization_id) == (
        "Dr Jane Smith", "Lakeside Health", "urn:oid:1.2.840.114350.1.13.999")
    assert v.home_community_id == "urn:oid:1.2.840.114350.1.13.999.2.7"
    assert v.purpose_of_use is PurposeOfUse.TREATMENT and v.role.code == "112247003"
    assert v.npi == "1234567893" and v.audiences == (OUR_HCID,)
    assert v.not_on_or_after == NOW + dt.timedelta(minutes=5)
    assert "gateway.lakeside.example" in v.signer_subject


def test_only_verify_assertion_makes_a_verified_assertion() -> None:
    v = verify(envelope(security_header()))
    fields = {f: getattr(v, f) for f in v.__dataclass_fields__ if f != "_seal"}
    with pytest.raises(TypeError):
        VerifiedAssertion(**fields)


def test_pinned_signer_certificate_is_trusted_without_its_ca() -> None:
    assert verify(envelope(security_header()), config=trust(trust_anchors=(pki().signer.cert,)))


def test_trust_bundle_pem_loads() -> None:
    assert load_trust_anchors(pki().ca.cert_pem + pki().rogue_ca.cert_pem) == (
        pki().ca.cert, pki().rogue_ca.cert)


def test_untrusted_signer_is_failed_authentication() -> None:
    assert refused(envelope(security_header(signer=pki().rogue))) is F.FAILED_AUTHENTICATION


def test_tampered_attribute_is_failed_check() -> None:
    h = security_header()
    attribute_value(h, AttributeName.ORGANIZATION_ID).text = "urn:oid:9.9.9"
    assert refused(envelope(h)) is F.FAILED_CHECK


def test_unsigned_assertion_is_invalid_token() -> None:
    h = security_header()
    a = assertion_of(h)
    a.remove(a.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    assert refused(envelope(h)) is F.INVALID_SECURITY_TOKEN


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=-11), dt.timedelta(minutes=6)],
                         ids=["expired", "not-yet-valid"])
def test_assertion_outside_its_window_is_refused(offset: dt.timedelta) -> None:
    h = security_header(now=NOW + offset)
    ts = h.find("{*}Timestamp")
    ts.getparent().remove(ts)  # keep the Timestamp fresh so the assertion window is what fails
    fresh = build_security_header(user(), pki().signer.key, [pki().signer.cert], NOW, SKEW)
    h.insert(0, fresh.find("{*}Timestamp"))
    assert refused(envelope(h)) is F.INVALID_SECURITY_TOKEN


def test_clock_skew_is_tolerated() -> None:
    assert verify(envelope(security_header(now=NOW + dt.timedelta(minutes=4))))
    assert verify(envelope(security_header(now=NOW - dt.timedelta(minutes=9))))  # expires +5


def test_wrong_audience_is_failed_authentication() -> None:
    assert refused(envelope(security_header(audience=("urn:oid:9.9.9",)))) is (
        F.FAILED_AUTHENTICATION)


def test_any_configured_audience_is_accepted() -> None:
    url = "https://imx.example/xcpd"
    assert verify(envelope(security_header(audience=(url,))),
                  config=trust(audiences=frozenset({OUR_HCID, url})))


def test_missing_purpose_of_use_is_invalid_token() -> None:
    h = build_unsigned_then_sign(drop=AttributeName.PURPOSE_OF_USE)
    with pytest.raises(SecurityHeaderError, match="purposeofuse") as info:
        verify(envelope(h))
    assert info.value.fault is F.INVALID_SECURITY_TOKEN


def build_unsigned_then_sign(*, drop: str) -> etree._Element:
    """A correctly signed assertion that lacks one attribute (as a careless peer sends it)."""
    from imx.security.xua import build_assertion, sign_assertion

    unsigned = build_assertion(user(), assertion_id="_drop", now=NOW, ttl=SKEW)
    for attribute in unsigned.iter(f"{{{SAML}}}Attribute"):
        if attribute.get("Name") == drop:
            attribute.getparent().remove(attribute)
    signed = sign_assertion(unsigned, key=pki().signer.key, cert_chain=[pki().signer.cert])
    h = security_header()
    h.replace(assertion_of(h), signed)
    return h


def test_comment_inside_a_signed_value_does_not_truncate_it() -> None:
    # The 2018 SAML comment-truncation class: exc-c14n ignores comments, so the signature
    # still verifies; the value we read must be the whole signed text.
    h = security_header()
    value = attribute_value(h, AttributeName.ORGANIZATION_ID)
    value.text = "urn:oid:1.2.840"
    comment = etree.Comment("x")
    comment.tail = ".114350.1.13.999"
    value.append(comment)
    assert verify(envelope(h)).organization_id == "urn:oid:1.2.840.114350.1.13.999"


def test_sha1_is_refused_by_default_and_accepted_as_a_quirk() -> None:
    h = build_security_header(user(), pki().signer.key, [pki().signer.cert], NOW, SKEW,
                              quirks=SigningQuirks(sha1=True))
    assert refused(envelope(h)) is F.UNSUPPORTED_ALGORITHM
    assert verify(envelope(copy.deepcopy(h)), config=trust(accept_sha1=True))


def test_missing_security_header_is_invalid_security() -> None:
    env = parse_xml(envelope(None))
    with pytest.raises(SecurityHeaderError) as info:
        parse_security_header(list(env[0]), now=NOW, clock_skew=SKEW)
    assert info.value.fault is F.INVALID_SECURITY


def test_stale_or_future_timestamp_is_message_expired() -> None:
    for now in (NOW + dt.timedelta(minutes=11), NOW - dt.timedelta(minutes=6)):
        env = parse_xml(envelope(security_header()))
        with pytest.raises(SecurityHeaderError) as info:
            parse_security_header(list(env[0]), now=now, clock_skew=SKEW)
        assert info.value.fault is F.MESSAGE_EXPIRED


def test_missing_timestamp_is_invalid_security() -> None:
    h = security_header()
    h.remove(h.find("{*}Timestamp"))
    with pytest.raises(SecurityHeaderError) as info:
        parse_security_header(list(parse_xml(envelope(h))[0]), now=NOW, clock_skew=SKEW)
    assert info.value.fault is F.INVALID_SECURITY


def test_security_header_for_another_role_is_not_ours() -> None:
    h = security_header()
    h.set("{http://www.w3.org/2003/05/soap-envelope}role", "urn:example:intermediary")
    with pytest.raises(SecurityHeaderError, match="required"):
        parse_security_header(list(parse_xml(envelope(h))[0]), now=NOW, clock_skew=SKEW)


def test_expired_signing_certificate_is_refused() -> None:
    later = NOW + dt.timedelta(days=3700)
    assert refused(envelope(security_header(now=later)), now=later) is F.FAILED_AUTHENTICATION


# --- the header signature over wsu:Timestamp (holder-of-key proof, SPEC-NOTES §5.1) --------

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DSIG = "http://www.w3.org/2000/09/xmldsig#"


def test_our_header_signs_the_timestamp_with_the_confirmed_key() -> None:
    h = security_header()
    signature = h[-1]
    assert signature.tag == f"{{{DSIG}}}Signature"
    reference = signature.find(f".//{{{DSIG}}}Reference")
    assert reference.get("URI") == "#" + h.find(f"{{{WSU}}}Timestamp").get(f"{{{WSU}}}Id")
    assert signature.findtext(".//{*}KeyIdentifier") == assertion_of(h).get("ID")
    assert verify(envelope(h), config=trust(require_timestamp_signature=True))


def test_altered_timestamp_is_failed_check() -> None:
    h = security_header()
    h.find(f"{{{WSU}}}Timestamp/{{{WSU}}}Expires").text = "2026-03-01T09:34:00.000Z"
    assert refused(envelope(h)) is F.FAILED_CHECK


def test_timestamp_signed_by_another_key_is_failed_check() -> None:
    from imx.security.xua.sign import sign_timestamp

    h = security_header()
    h.remove(h[-1])
    h.append(sign_timestamp(h, key=pki().rogue.key, assertion_id=assertion_of(h).get("ID")))
    assert refused(envelope(h)) is F.FAILED_CHECK


def test_unsigned_timestamp_only_when_allowed() -> None:
    h = security_header()
    h.remove(h[-1])
    assert verify(envelope(h))
    assert refused(envelope(h), config=trust(require_timestamp_signature=True)) is (
        F.INVALID_SECURITY)


def test_header_signature_over_something_else_is_failed_check() -> None:
    h = security_header()
    h[-1].find(f".//{{{DSIG}}}Reference").set("URI", "#" + assertion_of(h).get("ID"))
    assert refused(envelope(h)) is F.FAILED_CHECK


# --- NHIN Access Consent Policy: an assertion as evidence inside the assertion -------------

def with_evidence(*, place: str = "inside") -> bytes:
    """A signed assertion carrying AuthzDecisionStatement/Evidence/Assertion (SAML core 2.7.4,
    NHIN ACP, SPEC-NOTES §5.2); ``place`` moves the evidence assertion elsewhere."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from imx.security.xua import build_assertion, sign_assertion
    from imx.security.xua.wssecurity import wrap_signed_assertion

    der = pki().signer.cert.public_bytes(Encoding.DER)
    outer = build_assertion(user(), assertion_id="_outer", now=NOW, ttl=SKEW,
                            confirmation_certificate_der=der)
    evidence_assertion = build_assertion(user(subject_id="Consent Registry"),
                                         assertion_id="_consent", now=NOW, ttl=SKEW)
    statement = etree.SubElement(outer, f"{{{SAML}}}AuthzDecisionStatement",
                                 Resource="urn:oid:1.2.3.4", Decision="Permit")
    etree.SubElement(statement, f"{{{SAML}}}Action",
                     Namespace="urn:oasis:names:tc:SAML:1.0:action:rwedc").text = "Execute"
    evidence = etree.SubElement(statement, f"{{{SAML}}}Evidence")
    if place == "inside":
        evidence.append(evidence_assertion)
    signed = sign_assertion(outer, key=pki().signer.key, cert_chain=[pki().signer.cert])
    header = wrap_signed_assertion(signed, signing_key=pki().signer.key, now=NOW, ttl=SKEW)
    if place == "added-after-signing":
        header.find(f".//{{{SAML}}}Evidence").append(evidence_assertion)
    elif place == "beside":  # a second assertion in wsse:Security, not evidence
        header.append(evidence_assertion)
    elif place == "evidence-of-evidence":
        inner = header.find(f".//{{{SAML}}}Evidence")
        inner.append(evidence_assertion)
        deeper = copy.deepcopy(statement)
        deeper.find(f"{{{SAML}}}Evidence").append(
            build_assertion(user(), assertion_id="_deeper", now=NOW, ttl=SKEW))
        evidence_assertion.append(deeper)
    return envelope(header)


def test_an_evidence_assertion_inside_the_signed_assertion_is_accepted() -> None:
    verified = verify(with_evidence())
    assert verified.assertion_id == "_outer"
    assert verified.subject_id == user().subject_id  # the evidence is never read


@pytest.mark.parametrize(("place", "fault"), [
    ("beside", F.INVALID_SECURITY),  # two assertions in the header: wrapping
    ("added-after-signing", F.FAILED_CHECK),  # not covered by the signature
    ("evidence-of-evidence", F.INVALID_SECURITY),  # only one level is evidence
])
def test_evidence_anywhere_else_is_refused(place: str, fault: WsSecurityFault) -> None:
    assert refused(with_evidence(place=place)) is fault


# --- HL7 v3 PurposeOfUse codes (IHE XUA, newer eHealth Exchange / TEFCA profiles) ----------

def signed_with_purpose(code: str, code_system: str) -> bytes:
    from imx.security.xua import build_assertion, sign_assertion

    unsigned = build_assertion(user(), assertion_id="_hl7pou", now=NOW, ttl=SKEW)
    for attribute in unsigned.iter(f"{{{SAML}}}Attribute"):
        if attribute.get("Name") == AttributeName.PURPOSE_OF_USE:
            ce = attribute[0][0]
            ce.set("code", code)
            ce.set("codeSystem", code_system)
            ce.set("codeSystemName", "PurposeOfUse")
    signed = sign_assertion(unsigned, key=pki().signer.key, cert_chain=[pki().signer.cert])
    h = security_header()
    h.replace(assertion_of(h), signed)
    return envelope(h)


@pytest.mark.parametrize(("code", "expected"), [
    ("TREAT", PurposeOfUse.TREATMENT), ("ETREAT", PurposeOfUse.EMERGENCY),
    ("HPAYMT", PurposeOfUse.PAYMENT), ("PUBHLTH", PurposeOfUse.PUBLICHEALTH)])
def test_hl7_purpose_of_use_codes_read_as_their_nhin_equals(code: str,
                                                             expected: PurposeOfUse) -> None:
    assert verify(signed_with_purpose(code, "2.16.840.1.113883.5.8")).purpose_of_use is expected


@pytest.mark.parametrize(("code", "system"), [
    ("FAMRQT", "2.16.840.1.113883.5.8"),  # HL7 code without an NHIN equal
    ("TREATMENT", "2.16.840.1.113883.5.8"),  # an NHIN code under the HL7 system
    ("TREAT", "2.16.840.1.113883.3.18.7.1"),  # an HL7 code under the NHIN system
    ("TREATMENT", "1.2.3.4"),  # another code system
])
def test_purpose_codes_from_the_wrong_system_are_refused(code: str, system: str) -> None:
    assert refused(signed_with_purpose(code, system)) is F.INVALID_SECURITY_TOKEN
