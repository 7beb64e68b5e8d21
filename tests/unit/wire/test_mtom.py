"""MTOM writer and reader: written output read back by our reader and by Python's ``email``,
every reader test fed whole and one byte at a time; plain SOAP through the same entry point."""

from __future__ import annotations

import base64
import email.parser
import email.policy
from collections.abc import AsyncIterator, Iterable

import pytest
from lxml import etree

from imx.errors import MalformedMessageError, UnsupportedError
from imx.wire.mtom import (
    NS_XOP,
    content_type_header,
    href_content_id,
    mtom_stream,
    new_boundary,
    new_content_id,
    parse_http_body,
    soap_content_type,
    xop_include,
)
from imx.wire.soap import build_envelope, parse_envelope
from imx.wire.xml import serialize

DICOM_1 = b"\x00" * 128 + b"DICM" + bytes(range(256)) * 4
DICOM_2 = b"\x00" * 128 + b"DICM\r\n--not-the-boundary\r\n" + b"\xff" * 1000
CIDS = ["1.inst@imx", "2.inst/odd%@imx"]


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


FEEDS = [whole, bytewise]


def envelope_with_includes(cids: Iterable[str]) -> bytes:
    body = etree.Element("{urn:ihe:iti:xds-b:2007}RetrieveDocumentSetResponse")
    for cid in cids:
        doc = etree.SubElement(
            etree.SubElement(body, "{urn:ihe:iti:xds-b:2007}DocumentResponse"),
            "{urn:ihe:iti:xds-b:2007}Document",
        )
        doc.append(xop_include(cid))
    return serialize(build_envelope(body))


async def chunked(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def written(boundary: str = "MIMEBoundary_test") -> bytes:
    parts = [
        (CIDS[0], "application/dicom", chunked(DICOM_1)),
        (CIDS[1], "application/dicom", [DICOM_2[:10], DICOM_2[10:]]),
    ]
    out = [
        c
        async for c in mtom_stream(
            envelope_with_includes(CIDS), parts, boundary, root_content_id="root@imx"
        )
    ]
    return b"".join(out)


async def test_writer_framing() -> None:
    body = await written()
    assert body.startswith(b"--MIMEBoundary_test\r\n")  # no preamble, no CRLF (dicomtrolley)
    assert body.endswith(b"\r\n--MIMEBoundary_test--\r\n")
    head = body.split(b"\r\n\r\n", 1)[0].decode()
    assert 'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"' in head
    assert "Content-ID: <root@imx>" in head
    assert body.count(b"Content-Transfer-Encoding: binary") == 3
    assert b"Content-ID: <1.inst@imx>" in body


async def test_writer_output_read_by_email_parser() -> None:
    body = await written()
    ctype = content_type_header("MIMEBoundary_test", "root@imx")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + body
    )
    parts = list(msg.iter_parts())
    assert [p["Content-ID"] for p in parts] == ["<root@imx>", f"<{CIDS[0]}>", f"<{CIDS[1]}>"]
    assert parts[1].get_payload(decode=True) == DICOM_1
    assert parts[2].get_payload(decode=True) == DICOM_2
    assert msg.get_param("start") == "<root@imx>" and msg.get_param("type") == "application/xop+xml"


@pytest.mark.parametrize("feed", FEEDS)
async def test_writer_output_read_back(feed) -> None:  # type: ignore[no-untyped-def]
    body = await written()
    ctype = content_type_header("MIMEBoundary_test", "root@imx", action="urn:a")
    with await parse_http_body(ctype, feed(body)) as message:
        assert message.is_mtom
        assert sorted(message.attachments) == sorted(CIDS)
        docs = message.root.findall(".//{urn:ihe:iti:xds-b:2007}Document")
        assert [message.document(d).read() for d in docs] == [DICOM_1, DICOM_2]
        attachment = message.attachments[CIDS[0]]
        assert attachment.content_type == "application/dicom" and attachment.size == len(DICOM_1)
        assert b"".join(attachment.iter_chunks(7)) == DICOM_1
        assert parse_envelope(message.root).body_child.tag.endswith("RetrieveDocumentSetResponse")


SAMPLE_CT = (
    'Multipart/Related; type="application/xop+xml"; start="<root.message@r>"; '
    'start-info="application/soap+xml"; boundary="MIMEBoundary_x"; action="None"'
)


def sample_body(*, root_last: bool = False, crlf: bytes = b"\r\n") -> bytes:
    root = (
        b"--MIMEBoundary_x"
        + crlf
        + b"content-type: application/xop+xml; charset=UTF-8"
        + crlf
        + b"Content-ID:  <root.message@r> "
        + crlf
        + crlf
        + envelope_with_includes(["a%40b"])
    )
    att = (
        b"--MIMEBoundary_x  \t"
        + crlf
        + b"Content-Type: application/dicom"
        + crlf
        + b"Content-ID: <a%40b>"
        + crlf
        + crlf
        + DICOM_1
    )
    first, second = (att, root) if root_last else (root, att)
    return b"preamble text\r\n" + first + b"\r\n" + second + b"\r\n--MIMEBoundary_x--\r\nepilogue"


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("root_last", [False, True])
async def test_reader_tolerates_preamble_padding_case_and_order(feed, root_last: bool) -> None:  # type: ignore[no-untyped-def]
    with await parse_http_body(SAMPLE_CT, feed(sample_body(root_last=root_last))) as message:
        doc = message.root.find(".//{urn:ihe:iti:xds-b:2007}Document")
        assert doc is not None
        # the href is URL-encoded: cid:a%2540b names Content-ID <a%40b>
        assert message.document(doc).read() == DICOM_1


async def test_reader_bare_lf_headers() -> None:
    with await parse_http_body(
        SAMPLE_CT, [sample_body(crlf=b"\n").replace(b"\n--", b"\r\n--")]
    ) as m:
        assert list(m.attachments) == ["a%40b"]


async def test_reader_without_start_takes_first_part_as_root() -> None:
    ctype = "multipart/related; boundary=MIMEBoundary_x"
    with await parse_http_body(ctype, [sample_body()]) as message:
        assert message.root.tag.endswith("Envelope")


@pytest.mark.parametrize("feed", FEEDS)
async def test_plain_soap_with_inline_base64(feed) -> None:  # type: ignore[no-untyped-def]
    body = etree.Element("{urn:ihe:iti:xds-b:2007}Document")
    body.text = "\n".join(base64.encodebytes(DICOM_2).decode().split())
    data = serialize(build_envelope(body))
    for ctype in (
        soap_content_type(),
        'application/soap+xml; charset=utf-8; action="None"',
        None,
        "text/xml",
    ):
        with await parse_http_body(ctype, feed(data)) as message:
            assert not message.is_mtom and not message.attachments
            doc = parse_envelope(message.root).body_child
            assert message.document(doc).read() == DICOM_2
            assert message.attachments  # inline documents are spooled and closed with the message


async def test_inline_garbage_is_malformed() -> None:
    message = await parse_http_body(None, [serialize(build_envelope(etree.Element("D")))])
    doc = parse_envelope(message.root).body_child
    doc.text = "not base64 !!"
    with pytest.raises(MalformedMessageError):
        message.document(doc)


def mtom(root: bytes, *parts: tuple[str, bytes], close: bool = True) -> bytes:
    out = b"--b\r\nContent-Type: application/xop+xml\r\nContent-ID: <r@x>\r\n\r\n" + root
    for cid, data in parts:
        out += f"\r\n--b\r\nContent-ID: <{cid}>\r\n\r\n".encode() + data
    return out + (b"\r\n--b--" if close else b"")


CT = 'multipart/related; type="application/xop+xml"; boundary=b; start="<r@x>"'
ROOT = envelope_with_includes(["c@x"])


@pytest.mark.parametrize(
    ("ctype", "body", "error"),
    [
        (CT, mtom(ROOT, ("c@x", b"data"), close=False), MalformedMessageError),  # no close
        (CT, mtom(ROOT), MalformedMessageError),  # dangling xop:Include
        (CT, mtom(ROOT, ("c@x", b"1"), ("c@x", b"2")), MalformedMessageError),  # duplicate cid
        (CT, mtom(ROOT, ("r@x", b"1")), MalformedMessageError),  # second root
        (
            'multipart/related; start="<zz>"; boundary=b',
            mtom(ROOT, ("c@x", b"")),
            MalformedMessageError,
        ),
        ("multipart/related", mtom(ROOT, ("c@x", b"")), MalformedMessageError),  # no boundary
        ("image/png", b"x", UnsupportedError),
        ("application/soap+xml", mtom(b"<a>", ("c@x", b"")), MalformedMessageError),
        ("application/soap+xml", ROOT, MalformedMessageError),  # xop:Include without MTOM
    ],
)
async def test_reader_errors(ctype: str, body: bytes, error: type[Exception]) -> None:
    for feed in FEEDS:
        with pytest.raises(error):
            await parse_http_body(ctype, feed(body))


async def test_reader_caps() -> None:
    big_root = mtom(ROOT + b" " * 2000, ("c@x", b""))
    with pytest.raises(MalformedMessageError, match="root part too large"):
        await parse_http_body(CT, [big_root], max_root_bytes=1000)
    with pytest.raises(MalformedMessageError, match="too large"):
        await parse_http_body(CT, [mtom(ROOT, ("c@x", b"x" * 5000))], max_total_bytes=4000)
    with pytest.raises(MalformedMessageError, match="parts"):
        await parse_http_body(CT, [mtom(ROOT, ("c@x", b""), ("d@x", b""))], max_parts=2)
    with pytest.raises(MalformedMessageError, match="too large"):
        await parse_http_body(None, [b"<a>" + b" " * 100 + b"</a>"], max_root_bytes=50)


async def test_ram_budget_sends_later_attachments_to_disk() -> None:
    parts = [(f"{i}@x", b"y" * 300) for i in range(5)]
    root = envelope_with_includes([cid for cid, _ in parts])
    message = await parse_http_body(
        CT, [mtom(root, *parts)], spool_bytes=1000, ram_budget_bytes=600
    )
    kinds = [type(a.file).__name__ for a in message.attachments.values()]
    assert kinds[:2] == ["SpooledTemporaryFile", "SpooledTemporaryFile"]
    assert all(k != "SpooledTemporaryFile" for k in kinds[2:])
    assert all(a.read() == b"y" * 300 for a in message.attachments.values())
    message.close()


def test_identifiers_and_hrefs() -> None:
    boundary, cid = new_boundary(), new_content_id()
    assert boundary != new_boundary() and cid.endswith("@imx")
    include = xop_include("a+b%/c@x")
    assert include.tag == f"{{{NS_XOP}}}Include"
    assert include.get("href") == "cid:a+b%25%2Fc@x"
    assert href_content_id(include.get("href", "")) == "a+b%/c@x"
    with pytest.raises(MalformedMessageError):
        href_content_id("http://evil/x")
    for bad in ("<a@b>", "a\r\nX-Injected: 1", "", "a b@c"):
        with pytest.raises(ValueError):
            xop_include(bad)
    with pytest.raises(ValueError):
        content_type_header("bad boundary ", "r@x")
    assert soap_content_type() == "application/soap+xml; charset=UTF-8"


async def test_writer_rejects_header_injection() -> None:
    parts = [("c@x", "application/dicom\r\nX-Evil: 1", [b""])]
    with pytest.raises(ValueError):
        async for _ in mtom_stream(b"<r/>", parts, "b"):
            pass


async def test_encoded_parts_are_refused_not_misread() -> None:
    body = mtom(ROOT, ("c@x", b"AAAA")).replace(
        b"Content-ID: <c@x>", b"Content-ID: <c@x>\r\nContent-Transfer-Encoding: base64")
    with pytest.raises(MalformedMessageError, match="Transfer-Encoding"):
        await parse_http_body(CT, [body])
