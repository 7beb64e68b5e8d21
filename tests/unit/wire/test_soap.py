"""SOAP 1.2 envelope, WS-Addressing headers and faults: build -> serialize -> parse round trips,
and the sloppy requests real clients send (shared/peers/README.md)."""

from __future__ import annotations

import pytest
from lxml import etree

from imx.errors import MalformedMessageError
from imx.wire.addressing import (
    ANONYMOUS,
    NS_WSA,
    UNDERSTOOD_HEADERS,
    AddressingHeaders,
    build_request_headers,
    build_response_headers,
    parse_addressing,
)
from imx.wire.faults import (
    build_fault,
    build_must_understand_envelope,
    build_version_mismatch_envelope,
    parse_fault,
)
from imx.wire.schemas import validate
from imx.wire.soap import (
    NS_SOAP12,
    MustUnderstandError,
    VersionMismatchError,
    build_envelope,
    check_must_understand,
    parse_envelope,
    soap,
)
from imx.wire.xml import parse_xml, serialize

RAD69 = "urn:ihe:rad:2009:RetrieveImagingDocumentSet"

# What dicomtrolley's RAD-69 client sends: trailing space in Action, foreign To, stray text.
DICOMTROLLEY = f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="{NS_SOAP12}" xmlns:a="{NS_WSA}">
  <s:Header>
    <a:Action s:mustUnderstand="1">{RAD69} </a:Action>
    <a:MessageID>urn:uuid:1</a:MessageID>
    <a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo>
    <a:To s:mustUnderstand="1">http://localhost/somewhere/else</a:To>
  </s:Header>
  <s:Body>response<xdsi:RetrieveImagingDocumentSetRequest xmlns:xdsi="urn:ihe:rad:xdsi-b:2009"/>
  </s:Body>
</s:Envelope>""".encode()


def roundtrip(element: etree._Element) -> etree._Element:
    return parse_xml(serialize(element))


def test_dicomtrolley_request_is_accepted() -> None:
    message = parse_envelope(parse_xml(DICOMTROLLEY))
    assert message.body_child.tag == "{urn:ihe:rad:xdsi-b:2009}RetrieveImagingDocumentSetRequest"
    assert not message.is_fault
    wsa = parse_addressing(message.headers)
    assert wsa == AddressingHeaders(
        action=RAD69,
        message_id="urn:uuid:1",
        to="http://localhost/somewhere/else",
        reply_to=ANONYMOUS,
        relates_to=None,
    )
    check_must_understand(message, UNDERSTOOD_HEADERS)  # Action and To are ours


def test_request_headers_round_trip_and_validate() -> None:
    body = etree.Element("{urn:x}Req")
    headers = build_request_headers("urn:a", "https://peer/x", "urn:uuid:42")
    envelope = roundtrip(build_envelope(body, headers))
    validate(envelope, "soap-envelope")
    message = parse_envelope(envelope)
    assert [etree.QName(h).localname for h in message.headers] == [
        "Action",
        "MessageID",
        "ReplyTo",
        "To",
    ]
    assert message.header(f"{{{NS_WSA}}}Action") is not None
    assert message.headers[0].get(soap("mustUnderstand")) == "1"
    assert message.headers[3].get(soap("mustUnderstand")) == "1"
    assert message.headers[1].get(soap("mustUnderstand")) is None
    assert parse_addressing(message.headers) == AddressingHeaders(
        action="urn:a", message_id="urn:uuid:42", to="https://peer/x", reply_to=ANONYMOUS
    )


def test_response_headers_round_trip() -> None:
    envelope = roundtrip(
        build_envelope(
            etree.Element("R"), build_response_headers("urn:r", "urn:uuid:1", "urn:uuid:2")
        )
    )
    wsa = parse_addressing(parse_envelope(envelope).headers)
    assert (wsa.action, wsa.relates_to, wsa.message_id, wsa.to) == (
        "urn:r",
        "urn:uuid:1",
        "urn:uuid:2",
        None,
    )
    no_relates = build_response_headers("urn:r", None, "urn:uuid:2")
    assert [etree.QName(h).localname for h in no_relates] == ["Action", "MessageID"]


def test_envelope_without_headers() -> None:
    envelope = build_envelope(etree.Element("B"))
    assert [c.tag for c in envelope] == [soap("Body")]
    message = parse_envelope(roundtrip(envelope))
    assert message.headers == () and message.body_child.tag == "B"
    with pytest.raises(MalformedMessageError, match="Action"):
        parse_addressing(message.headers)
    assert parse_addressing(message.headers, require_action=False).action == ""


def test_soap11_is_a_version_mismatch() -> None:
    doc = b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><x/></e:Body></e:Envelope>'
    with pytest.raises(VersionMismatchError):
        parse_envelope(parse_xml(doc))
    reply = roundtrip(build_version_mismatch_envelope())
    validate(reply, "soap-envelope")
    message = parse_envelope(reply)
    fault = parse_fault(message.body_child)
    assert message.is_fault and fault.code == "VersionMismatch"
    upgrade = message.header(soap("Upgrade"))
    assert upgrade is not None
    supported = upgrade[0]
    prefix, _, local = supported.get("qname", "").partition(":")
    assert (supported.nsmap[prefix], local) == (NS_SOAP12, "Envelope")


@pytest.mark.parametrize(
    "doc",
    [
        b"<notsoap/>",
        f'<s:Envelope xmlns:s="{NS_SOAP12}"/>'.encode(),
        f'<s:Envelope xmlns:s="{NS_SOAP12}"><s:Body> text only </s:Body></s:Envelope>'.encode(),
        f'<s:Envelope xmlns:s="{NS_SOAP12}"><s:Body><a/></s:Body><s:Body/></s:Envelope>'.encode(),
        f'<s:Envelope xmlns:s="{NS_SOAP12}"><s:Header/></s:Envelope>'.encode(),
    ],
)
def test_malformed_envelopes(doc: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        parse_envelope(parse_xml(doc))


def test_must_understand_rules() -> None:
    sec = "{urn:sec}Security"
    doc = f"""<s:Envelope xmlns:s="{NS_SOAP12}" xmlns:k="urn:sec"><s:Header>
      <k:Security s:mustUnderstand="true"/>
      <k:Other s:mustUnderstand="1" s:role="http://example.org/someone-else"/>
      <k:Optional s:mustUnderstand="false"/>
    </s:Header><s:Body><a/></s:Body></s:Envelope>""".encode()
    message = parse_envelope(parse_xml(doc))
    with pytest.raises(MustUnderstandError) as info:
        check_must_understand(message, UNDERSTOOD_HEADERS)
    assert info.value.not_understood == (sec,)
    check_must_understand(message, {sec})
    reply = parse_envelope(roundtrip(build_must_understand_envelope([sec])))
    validate(reply.envelope, "soap-envelope")
    assert parse_fault(reply.body_child).code == "MustUnderstand"
    block = reply.headers[0]
    prefix, _, local = block.get("qname", "").partition(":")
    assert (block.nsmap[prefix], local) == ("urn:sec", "Security")


def test_conflicting_duplicate_action_is_refused_identical_tolerated() -> None:
    a1 = build_request_headers("urn:a", "u", "m")[0]
    a2 = build_request_headers("urn:a", "u", "m")[0]
    assert parse_addressing([a1, a2]).action == "urn:a"
    b = build_request_headers("urn:b", "u", "m")[0]
    with pytest.raises(MalformedMessageError, match="conflicting"):
        parse_addressing([a1, b])


def test_member_submission_namespace_tolerated() -> None:
    old = etree.Element("{http://schemas.xmlsoap.org/ws/2004/08/addressing}Action")
    old.text = "\n urn:x \t"
    assert parse_addressing([old]).action == "urn:x"


@pytest.mark.parametrize("code", ["Sender", "Receiver", "VersionMismatch", "MustUnderstand"])
def test_fault_round_trip(code: str) -> None:
    fault = build_fault(code, None, "Something went wrong")  # type: ignore[arg-type]
    envelope = roundtrip(build_envelope(fault))
    validate(envelope, "soap-envelope")
    text = envelope.find(f".//{soap('Text')}")
    assert text is not None and text.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    parsed = parse_fault(parse_envelope(envelope).body_child)
    assert (parsed.code, parsed.subcodes, parsed.reason) == (code, (), "Something went wrong")


def test_fault_subcodes_and_detail() -> None:
    detail = etree.Element("{urn:d}Info")
    fault = build_fault(
        "Sender",
        "{urn:wsse}InvalidSecurity",
        "bad token",
        nsmap={"wsse": "urn:wsse"},
        detail=detail,
    )
    parsed = parse_fault(roundtrip(build_envelope(fault)).find(f".//{soap('Fault')}"))  # type: ignore[arg-type]
    assert parsed.subcodes == ("{urn:wsse}InvalidSecurity",)
    assert parsed.detail is not None and parsed.detail[0].tag == "{urn:d}Info"
    prefixed = parse_fault(
        roundtrip(build_fault("Receiver", "x:Busy", "later", nsmap={"x": "urn:x"}))
    )
    assert prefixed.subcodes == ("{urn:x}Busy",)
    with pytest.raises(ValueError):
        build_fault("Sender", "{urn:undeclared}X", "r")
    with pytest.raises(ValueError):
        build_fault("Client", None, "r")  # type: ignore[arg-type]


def test_parse_fault_rejects_non_faults() -> None:
    with pytest.raises(MalformedMessageError):
        parse_fault(etree.Element("x"))
    with pytest.raises(MalformedMessageError):
        parse_fault(etree.Element(soap("Fault")))
