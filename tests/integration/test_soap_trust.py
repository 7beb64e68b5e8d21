"""Hostile requests against a node that requires XUA assertions (SPEC-NOTES §5.5).

Every request here carries a valid ITI-55 body for a real-looking patient. Each must be refused
with a SOAP 1.2 Sender fault whose subcode is the WSS 1.1 §12 fault, be audited as
``soap-request-refused``, and disclose nothing about the patient (no HL7 answer, no query echo).
Includes XML signature wrapping (XSW) variants adapted to an assertion in wsse:Security.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from lxml import etree
from signxml import CanonicalizationMethod, XMLSigner
from signxml.algorithms import SignatureConstructionMethod

from imx.security.xua import build_assertion, build_security_header, sign_assertion
from imx.security.xua.attributes import AttributeName, PurposeOfUse
from imx.storage.sql_audit import SqlAuditSink
from tests.support.server import NodeThread, running_node
from tests.support.xua_pki import pki, user

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
ITI55 = "urn:hl7-org:v3:PRPA_IN201305UV02:CrossGatewayPatientDiscovery"
GOLDEN = Path(__file__).parents[1] / "golden" / "iti55" / "query_and_feed.request.xml"
# What the query says about the patient: none of it may come back in a refusal.
PATIENT_BITS = (b"Briain", b"19750412", b"E12345", b"Harbor View", b"555-0142",
                b"PRPA_IN201306UV02", b"q-55-001")
TTL = dt.timedelta(minutes=5)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("soaptrust")
    bundle = tmp / "xua-trust.pem"
    bundle.write_bytes(pki().ca.cert_pem)
    with running_node(tmp, trust={"require_assertion": True, "trust_bundle": bundle,
                                  "allowed_purposes_of_use": ["OPERATIONS"],
                                  "rate_limit_per_minute": 3}) as n:
        verifier = n.xua_verifier()  # every request below is verified in the child process
        yield n
        assert verifier.inline_count == 0, "some requests were verified inline"


def message(security: etree._Element | None) -> etree._Element:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": WSA})
    head = etree.SubElement(env, f"{{{SOAP}}}Header")
    action = etree.SubElement(head, f"{{{WSA}}}Action")
    action.set(f"{{{SOAP}}}mustUnderstand", "1")
    action.text = ITI55
    etree.SubElement(head, f"{{{WSA}}}MessageID").text = "urn:uuid:0b9f0a56-7d8e-4a47-9d7b-1"
    if security is not None:
        head.append(security)
    etree.SubElement(env, f"{{{SOAP}}}Body").append(etree.parse(str(GOLDEN)).getroot())
    return env


def header(*, at: dt.datetime | None = None, signer=None, **overrides: object) -> etree._Element:  # type: ignore[no-untyped-def]
    party = signer or pki().signer
    fields = {"organization_id": "urn:oid:1.2.840.114350.1.13.999", **overrides}
    return build_security_header(user(**fields), party.key, [party.cert], at or now(), TTL)


def post(node: NodeThread, data: bytes) -> httpx.Response:
    return httpx.post(f"{node.url}/xcpd", content=data, timeout=30,
                      headers={"Content-Type": "application/soap+xml; charset=UTF-8"})


def refusals(node: NodeThread) -> list:  # type: ignore[type-arg]
    sink = SqlAuditSink(node.services.metadata)  # type: ignore[union-attr, arg-type]
    return node.call(sink.list_events(limit=500, event="soap-request-refused"))


def assert_refused(node: NodeThread, data: bytes, subcode: str | None, *, status: int = 400
                   ) -> None:
    before = len(refusals(node))
    r = post(node, data)
    assert r.status_code == status, r.text
    root = etree.fromstring(r.content)
    body = root.find(f"{{{SOAP}}}Body")
    assert [c.tag for c in body] == [f"{{{SOAP}}}Fault"]
    assert root.findtext(f".//{{{SOAP}}}Code/{{{SOAP}}}Value") == "soap:Sender"
    sub = root.find(f".//{{{SOAP}}}Code/{{{SOAP}}}Subcode/{{{SOAP}}}Value")
    if subcode is None:
        assert sub is None
    else:
        prefix, _, local = sub.text.partition(":")
        assert (sub.nsmap[prefix], local) == (WSSE, subcode.removeprefix("wsse:"))
    for bit in PATIENT_BITS:
        assert bit not in r.content
    events = refusals(node)
    assert len(events) == before + 1
    newest = events[0]
    assert newest.patient_ids == () and newest.outcome == "serious-failure"
    if subcode is not None:
        assert subcode in newest.detail


def raw(env: etree._Element) -> bytes:
    return etree.tostring(env)


def assertion_in(env: etree._Element) -> etree._Element:
    return env.find(f".//{{{WSSE}}}Security/{{{SAML}}}Assertion")


def set_attribute(assertion: etree._Element, name: str, value: str) -> None:
    assertion.find(f".//{{{SAML}}}Attribute[@Name='{name}']/{{{SAML}}}AttributeValue").text = value


def forged(original: etree._Element, *, keep_signature: bool = True) -> etree._Element:
    """The attacker's copy: another organisation; the signature is left as it was."""
    evil = copy.deepcopy(original)
    set_attribute(evil, AttributeName.ORGANIZATION_ID, "urn:oid:6.6.6")
    if not keep_signature:
        evil.remove(evil.find(f"{{{DS}}}Signature"))
    return evil


def fresh_timestamp(security: etree._Element) -> None:
    old = security.find("{*}Timestamp")
    security.replace(old, header().find("{*}Timestamp"))


# --- the positive control -------------------------------------------------------------------

def test_a_valid_assertion_is_answered_and_the_requester_audited(node: NodeThread) -> None:
    r = post(node, raw(message(header(organization_id="urn:oid:1.2.3.100"))))
    assert r.status_code == 200, r.text
    assert b"PRPA_IN201306UV02" in r.content
    sink = SqlAuditSink(node.services.metadata)  # type: ignore[union-attr, arg-type]
    record = node.call(sink.list_events(limit=1, event="patient-discovery"))[0]
    # ATNA needs who asked and why (SPEC-NOTES §5.5 step 8): from the verified assertion
    assert (record.requester_user_id, record.requester_organization_id, record.purpose_of_use,
            record.requester_role) == ("Dr Jane Smith", "urn:oid:1.2.3.100", "TREATMENT",
                                       "112247003")


def test_a_configured_purpose_is_answered(node: NodeThread) -> None:
    h = header(purpose_of_use=PurposeOfUse.OPERATIONS, organization_id="urn:oid:1.2.3.101")
    assert post(node, raw(message(h))).status_code == 200


# --- basic refusals -------------------------------------------------------------------------

def test_no_security_header(node: NodeThread) -> None:
    assert_refused(node, raw(message(None)), "wsse:InvalidSecurity")


def test_unsigned_assertion(node: NodeThread) -> None:
    env = message(header())
    a = assertion_in(env)
    a.remove(a.find(f"{{{DS}}}Signature"))
    assert_refused(node, raw(env), "wsse:InvalidSecurityToken")


def test_tampered_assertion(node: NodeThread) -> None:
    env = message(header())
    set_attribute(assertion_in(env), AttributeName.SUBJECT_ID, "Dr Someone Else")
    assert_refused(node, raw(env), "wsse:FailedCheck")


def test_untrusted_signer(node: NodeThread) -> None:
    assert_refused(node, raw(message(header(signer=pki().rogue))), "wsse:FailedAuthentication")


def test_expired_assertion(node: NodeThread) -> None:
    security = header(at=now() - dt.timedelta(minutes=30))
    fresh_timestamp(security)
    assert_refused(node, raw(message(security)), "wsse:InvalidSecurityToken")


def test_not_yet_valid_assertion(node: NodeThread) -> None:
    security = header(at=now() + dt.timedelta(minutes=30))
    fresh_timestamp(security)
    assert_refused(node, raw(message(security)), "wsse:InvalidSecurityToken")


def test_stale_timestamp(node: NodeThread) -> None:
    security = header()
    stale = header(at=now() - dt.timedelta(minutes=30)).find("{*}Timestamp")
    security.replace(security.find("{*}Timestamp"), stale)
    assert_refused(node, raw(message(security)), "wsse:MessageExpired")


def test_wrong_audience(node: NodeThread) -> None:
    assert_refused(node, raw(message(header(audience=("urn:oid:9.9.9.9",)))),
                   "wsse:FailedAuthentication")


def test_missing_purpose_of_use(node: NodeThread) -> None:
    unsigned = build_assertion(user(), assertion_id="_nopurpose", now=now(), ttl=TTL)
    for attribute in list(unsigned.iter(f"{{{SAML}}}Attribute")):
        if attribute.get("Name") == AttributeName.PURPOSE_OF_USE:
            attribute.getparent().remove(attribute)
    security = header()
    security.replace(security.find(f"{{{SAML}}}Assertion"),
                     sign_assertion(unsigned, key=pki().signer.key, cert_chain=[pki().signer.cert]))
    assert_refused(node, raw(message(security)), "wsse:InvalidSecurityToken")


def test_purpose_not_allowed(node: NodeThread) -> None:
    assert_refused(node, raw(message(header(purpose_of_use=PurposeOfUse.MARKETING))),
                   "wsse:FailedAuthentication")


def test_rate_limit_per_initiator(node: NodeThread) -> None:
    org = {"organization_id": "urn:oid:1.2.3.200"}
    for _ in range(3):
        assert post(node, raw(message(header(**org)))).status_code == 200
    before = len(refusals(node))
    r = post(node, raw(message(header(**org))))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert all(bit not in r.content for bit in PATIENT_BITS)
    newest = refusals(node)[0]
    assert len(refusals(node)) == before + 1
    # the refusal names who was throttled (verified attributes), and nothing about the patient
    assert newest.requester_organization_id == "urn:oid:1.2.3.200" and newest.patient_ids == ()
    other = post(node, raw(message(header(organization_id="urn:oid:1.2.3.201"))))
    assert other.status_code == 200


# --- XML signature wrapping -----------------------------------------------------------------

def xsw1_signed_copy_inside_signature_object(env: etree._Element) -> None:
    original = assertion_in(env)
    evil = forged(original)
    obj = etree.SubElement(evil.find(f"{{{DS}}}Signature"), f"{{{DS}}}Object")
    original.getparent().replace(original, evil)
    obj.append(original)


def xsw2_forged_duplicate_before_signed(env: etree._Element) -> None:
    original = assertion_in(env)
    original.addprevious(forged(original, keep_signature=False))


def xsw3_signed_moved_to_another_header(env: etree._Element) -> None:
    original = assertion_in(env)
    evil = forged(original)
    original.getparent().replace(original, evil)
    wrapper = etree.SubElement(env.find(f"{{{SOAP}}}Header"), "{urn:example:x}Wrapper")
    wrapper.append(original)


def xsw4_signed_inside_forged_advice(env: etree._Element) -> None:
    original = assertion_in(env)
    evil = forged(original)
    advice = etree.Element(f"{{{SAML}}}Advice")
    evil.find(f"{{{SAML}}}Conditions").addnext(advice)
    original.getparent().replace(original, evil)
    advice.append(original)


def xsw5_signed_moved_into_body_extensions(env: etree._Element) -> None:
    original = assertion_in(env)
    evil = forged(original)
    original.getparent().replace(original, evil)
    extensions = etree.SubElement(env.find(f"{{{SOAP}}}Body"),
                                  "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    extensions.append(original)


def xsw6_id_collision_with_a_non_assertion(env: etree._Element) -> None:
    original = assertion_in(env)
    holder = etree.SubElement(env.find(f"{{{SOAP}}}Header"), "{urn:example:x}Holder")
    holder.set("ID", original.get("ID"))
    holder.extend(copy.deepcopy(list(original)))
    original.getparent().replace(original, forged(original))


def xsw7_reference_to_a_missing_id(env: etree._Element) -> None:
    original = assertion_in(env)
    evil = forged(original)
    evil.set("ID", "_evil")
    original.getparent().replace(original, evil)


def xsw8_reference_to_an_id_kept_elsewhere(env: etree._Element) -> None:
    original = assertion_in(env)
    evil = forged(original)
    evil.set("ID", "_evil")
    holder = etree.SubElement(env.find(f"{{{SOAP}}}Header"), "{urn:example:x}Holder")
    holder.set("ID", original.get("ID"))
    original.getparent().replace(original, evil)


def signature_over_a_sibling(env: etree._Element) -> None:
    """A genuine trusted signature over the wsu:Timestamp, moved into a forged assertion."""
    security = env.find(f".//{{{WSSE}}}Security")
    timestamp = security.find("{*}Timestamp")
    signer = XMLSigner(method=SignatureConstructionMethod.detached,
                       c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    detached = signer.sign(copy.deepcopy(timestamp), key=pki().signer.key,
                           cert=[pki().signer.cert],
                           reference_uri=f"#{timestamp.get(next(iter(timestamp.attrib)))}")
    original = assertion_in(env)
    evil = forged(original, keep_signature=False)
    evil.find(f"{{{SAML}}}Issuer").addnext(detached)
    original.getparent().replace(original, evil)


def second_signature_in_the_assertion(env: etree._Element) -> None:
    original = assertion_in(env)
    original.find(f"{{{DS}}}Signature").addnext(
        copy.deepcopy(original.find(f"{{{DS}}}Signature")))


def two_security_headers(env: etree._Element) -> None:
    original = assertion_in(env)
    other = copy.deepcopy(original.getparent())
    other.set(f"{{{SOAP}}}role", "urn:example:intermediary")
    original.getparent().replace(original, forged(original, keep_signature=False))
    env.find(f"{{{SOAP}}}Header").append(other)


def namespace_lookalike(env: etree._Element) -> None:
    original = assertion_in(env)
    text = etree.tostring(original).replace(SAML.encode(), SAML.encode() + b":")
    original.getparent().replace(original, etree.fromstring(text))


def comment_split_and_altered_value(env: etree._Element) -> None:
    value = assertion_in(env).find(
        f".//{{{SAML}}}Attribute[@Name='{AttributeName.ORGANIZATION_ID}']/{{{SAML}}}AttributeValue")
    value.text = "urn:oid:6.6.6"
    comment = etree.Comment(" .114350.1.13.999 ")
    value.append(comment)


XSW = {
    "xsw1-signed-copy-in-signature-object": (xsw1_signed_copy_inside_signature_object,
                                             "wsse:InvalidSecurity"),
    "xsw2-forged-duplicate-before-signed": (xsw2_forged_duplicate_before_signed,
                                            "wsse:InvalidSecurity"),
    "xsw3-signed-moved-to-other-header": (xsw3_signed_moved_to_another_header,
                                          "wsse:InvalidSecurity"),
    "xsw4-signed-inside-forged-advice": (xsw4_signed_inside_forged_advice, "wsse:InvalidSecurity"),
    "xsw5-signed-in-body-extensions": (xsw5_signed_moved_into_body_extensions,
                                       "wsse:InvalidSecurity"),
    "xsw6-id-collision": (xsw6_id_collision_with_a_non_assertion, "wsse:InvalidSecurity"),
    "xsw7-reference-to-missing-id": (xsw7_reference_to_a_missing_id, "wsse:FailedCheck"),
    "xsw8-reference-to-id-elsewhere": (xsw8_reference_to_an_id_kept_elsewhere, "wsse:FailedCheck"),
    "signature-over-sibling": (signature_over_a_sibling, "wsse:FailedCheck"),
    # the SAML schema allows one ds:Signature: refused as a malformed token before any crypto
    "second-signature": (second_signature_in_the_assertion, "wsse:InvalidSecurityToken"),
    "two-security-headers": (two_security_headers, "wsse:InvalidSecurity"),
    "namespace-lookalike": (namespace_lookalike, "wsse:SecurityTokenUnavailable"),
    "comment-split-altered-value": (comment_split_and_altered_value, "wsse:FailedCheck"),
}


@pytest.mark.parametrize("name", list(XSW))
def test_signature_wrapping_is_refused(node: NodeThread, name: str) -> None:
    mutate, subcode = XSW[name]
    env = message(header())
    mutate(env)
    assert_refused(node, raw(env), subcode)


# --- entity tricks inside the security header ------------------------------------------------

def _with_doctype(doctype: str, placeholder: str) -> bytes:
    env = message(header())
    set_attribute(assertion_in(env), AttributeName.SUBJECT_ID, "PLACEHOLDER")
    data = raw(env).replace(b"PLACEHOLDER", placeholder.encode())
    return b'<?xml version="1.0"?>' + doctype.encode() + data


XML_TRICKS: dict[str, Callable[[], bytes]] = {
    "xxe-in-security-header": lambda: _with_doctype(
        '<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
    "entity-expansion-in-security-header": lambda: _with_doctype(
        '<!DOCTYPE s:Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>', "&c;"),
}


@pytest.mark.parametrize("name", list(XML_TRICKS))
def test_entities_in_the_security_header_are_refused(node: NodeThread, name: str) -> None:
    # The hardened parser refuses any DTD before the header is looked at: a plain Sender fault.
    data = XML_TRICKS[name]()
    assert b"<!ENTITY" in data
    assert_refused(node, data, None)
    assert b"root:" not in post(node, data).content


# --- SPEC-NOTES §5.5 step 6: the asserted community must be on the network -------------------

def test_the_asserted_community_must_be_an_active_directory_entry(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("known-community")
    bundle = tmp / "xua-trust.pem"
    bundle.write_bytes(pki().ca.cert_pem)
    listed = user().home_community_id
    with running_node(tmp, trust={"require_assertion": True, "trust_bundle": bundle,
                                  "require_known_community": True},
                      communities=[{"home_community_id": listed, "name": "Lakeside"}]) as n:
        assert post(n, raw(message(header()))).status_code == 200
        stranger = header(home_community_id="urn:oid:1.2.3.4.5.6.7")
        assert_refused(n, raw(message(stranger)), "wsse:FailedAuthentication")
