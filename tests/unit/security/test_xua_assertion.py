"""The assertion we build: XUA content (SPEC-NOTES §5.2) and valid against the SAML 2.0 XSD."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from imx.errors import MalformedMessageError
from imx.security.xua import build_assertion
from imx.security.xua.assertion import format_instant, parse_instant
from imx.security.xua.attributes import AttributeName, PurposeOfUse
from imx.wire.schemas import validate
from tests.support.xua_pki import NOW, OUR_HCID, pki, security_header, user

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
HL7 = "urn:hl7-org:v3"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _attribute(assertion: etree._Element, name: str) -> etree._Element:
    found = assertion.findall(f".//{{{SAML}}}Attribute[@Name='{name}']/{{{SAML}}}AttributeValue")
    assert len(found) == 1
    return found[0]


def test_unsigned_assertion_carries_the_xua_attributes_and_validates() -> None:
    a = build_assertion(user(purpose_of_use=PurposeOfUse.PAYMENT), assertion_id="_a1", now=NOW,
                        ttl=dt.timedelta(minutes=20))
    validate(a, "xua-assertion")
    assert a.get("Version") == "2.0" and a.get("ID") == "_a1"
    assert a.get("IssueInstant") == "2026-03-01T09:30:00.000Z"
    conditions = a.find(f"{{{SAML}}}Conditions")
    assert conditions.get("NotOnOrAfter") == "2026-03-01T09:50:00.000Z"
    assert [e.text for e in conditions.iter(f"{{{SAML}}}Audience")] == [OUR_HCID]
    assert _attribute(a, AttributeName.SUBJECT_ID).text == "Dr Jane Smith"
    assert _attribute(a, AttributeName.ORGANIZATION_ID).text == "urn:oid:1.2.840.114350.1.13.999"
    assert _attribute(a, AttributeName.NPI).text == "1234567893"
    purpose = _attribute(a, AttributeName.PURPOSE_OF_USE)[0]
    assert purpose.tag == f"{{{HL7}}}PurposeOfUse"
    assert (purpose.get("code"), purpose.get("codeSystem"), purpose.get("codeSystemName")) == (
        "PAYMENT", "2.16.840.1.113883.3.18.7.1", "nhin-purpose")
    role = _attribute(a, AttributeName.ROLE)[0]
    assert (role.get("code"), role.get("codeSystem")) == ("112247003", "2.16.840.1.113883.6.96")
    assert a.find(f"{{{SAML}}}AuthnStatement/{{{SAML}}}AuthnContext/{{{SAML}}}AuthnContextClassRef"
                  ).text == "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"


def test_signed_assertion_validates_with_signature_right_after_issuer() -> None:
    header = security_header()
    assertion = header.find(f"{{{SAML}}}Assertion")
    validate(assertion, "xua-assertion")
    assert [etree.QName(c).localname for c in assertion][:3] == ["Issuer", "Signature", "Subject"]
    sig = assertion.find(f"{{{DS}}}Signature")
    assert sig.find(f".//{{{DS}}}SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    assert sig.find(f".//{{{DS}}}CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#")
    assert sig.find(f".//{{{DS}}}X509Certificate") is not None
    # holder-of-key: the signing certificate is the confirmation key (SPEC-NOTES §5.2)
    confirmation = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation")
    assert confirmation.get("Method") == "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"


def test_schema_catches_a_broken_assertion() -> None:
    a = build_assertion(user(), assertion_id="_a2", now=NOW, ttl=dt.timedelta(minutes=5))
    a.remove(a.find(f"{{{SAML}}}Issuer"))
    with pytest.raises(MalformedMessageError):
        validate(a, "xua-assertion")


def test_bad_inputs_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="xs:ID"):
        build_assertion(user(), assertion_id="1abc", now=NOW, ttl=dt.timedelta(minutes=5))
    with pytest.raises(ValueError, match="audience"):
        build_assertion(user(audience=()), assertion_id="_x", now=NOW, ttl=dt.timedelta(minutes=5))
    with pytest.raises(ValueError, match="timezone"):
        format_instant(dt.datetime(2026, 1, 1))


def test_instants_round_trip_and_accept_long_fractions() -> None:
    assert parse_instant(format_instant(NOW)) == NOW
    assert parse_instant("2026-03-01T09:30:00.1234567Z") == NOW.replace(microsecond=123456)
    assert parse_instant("2026-03-01T10:30:00+01:00") == NOW
    for bad in ("", "2026-03-01T09:30:00", "yesterday"):
        with pytest.raises(ValueError):
            parse_instant(bad)


def test_pki_fixture_is_rsa_2048() -> None:
    assert pki().signer.key.key_size == 2048
