"""parse_xml: well-formed input parses; caps and DTDs are refused with PHI-free details."""

from __future__ import annotations

import pytest
from lxml import etree

from imx.errors import MalformedMessageError
from imx.wire.xml import parse_xml, serialize


def test_parses_and_drops_comments_and_pis() -> None:
    root = parse_xml(b'<?xml version="1.0" encoding="UTF-8"?><a><!-- c --><?pi x?><b>t</b></a>')
    assert root.tag == "a"
    assert [c.tag for c in root] == ["b"]


def test_utf16_with_bom() -> None:
    assert parse_xml("<a>é</a>".encode("utf-16")).text == "é"


def test_round_trip_serialize() -> None:
    root = etree.Element("{urn:x}r", nsmap={"x": "urn:x"})
    etree.SubElement(root, "{urn:x}c").text = "ü & <"
    data = serialize(root)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    again = parse_xml(data)
    assert etree.tostring(again, method="c14n") == etree.tostring(root, method="c14n")
    assert not serialize(root, xml_declaration=False).startswith(b"<?xml")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"<a>", "not well-formed"),
        (b"<a></b>", "not well-formed"),
        (b"<!DOCTYPE a><a/>", "DOCTYPE"),
        (b'<?xml version="1.0" encoding="UTF-7"?><a/>', "encoding"),
        (b"\x00\x00\x00<\x00\x00\x00a", "UTF-32"),
    ],
)
def test_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(MalformedMessageError) as info:
        parse_xml(data)
    assert fragment in info.value.detail


def test_size_cap() -> None:
    with pytest.raises(MalformedMessageError, match="larger than 10"):
        parse_xml(b"<a>" + b"x" * 20 + b"</a>", max_bytes=10)


def test_depth_cap_is_inclusive() -> None:
    ok = b"<a>" * 5 + b"</a>" * 5
    assert parse_xml(ok, max_depth=5).tag == "a"
    with pytest.raises(MalformedMessageError, match="deeper than 4"):
        parse_xml(ok, max_depth=4)


def test_depth_cap_on_deep_wide_and_very_deep_documents() -> None:
    # the deep branch is the last child: the check must walk the whole tree
    wide = b"<a>" + b"<b/>" * 1000 + b"<c>" * 70 + b"</c>" * 70 + b"</a>"
    with pytest.raises(MalformedMessageError, match="deeper than 64"):
        parse_xml(wide)
    # past libxml2's own 256-level stop: the same refusal, not a well-formedness error
    with pytest.raises(MalformedMessageError, match="deeper than 64"):
        parse_xml(b"<a>" * 5000 + b"</a>" * 5000)


def test_detail_carries_no_content() -> None:
    secret = b"DOE^JOHN"
    with pytest.raises(MalformedMessageError) as info:
        parse_xml(b"<a><name>" + secret + b"</nam></a>")
    assert "DOE" not in info.value.detail


def test_rejects_non_bytes() -> None:
    with pytest.raises(MalformedMessageError):
        parse_xml("<a/>")  # type: ignore[arg-type]


def test_large_document_fed_in_pieces() -> None:
    body = b"<r>" + b"<i>0123456789</i>" * 20000 + b"</r>"  # > 64 KiB feed size
    assert len(parse_xml(body)) == 20000
