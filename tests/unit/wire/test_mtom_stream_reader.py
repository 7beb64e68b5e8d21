"""The initiator's streaming MTOM reader: parts come through in order, byte-exact, without
being held whole, whatever the chunking; framing faults are errors, not silent truncation."""

from __future__ import annotations

import asyncio
import os

import pytest

from imx.errors import MalformedMessageError, UnsupportedError
from imx.wire.mtom import content_type_header, mtom_stream, new_boundary
from imx.wire.mtom_stream import StreamedPart, mtom_parts

ROOT = (b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
        b'<x xmlns:xop="http://www.w3.org/2004/08/xop/include"><xop:Include href="cid:a@x"/>'
        b'</x></env:Body></env:Envelope>')


async def _body(parts: list[tuple[str, bytes]], boundary: str) -> bytes:
    stream = mtom_stream(ROOT, [(cid, "application/dicom", [data]) for cid, data in parts],
                         boundary, root_content_id="root@x")
    return b"".join([c async for c in stream])


async def _read_all(content_type: str, chunks: list[bytes], *, skip: set[str] = frozenset()):
    got: list[object] = []
    async for item in mtom_parts(content_type, chunks):
        if isinstance(item, StreamedPart):
            if item.content_id in skip:
                got.append((item.content_id, None))
                continue
            got.append((item.content_id, b"".join([c async for c in item.chunks])))
        else:
            got.append(item.tag)
    return got


@pytest.mark.parametrize("chunk", [1, 7, 65536, 10**9])
def test_parts_arrive_byte_exact_whatever_the_chunking(chunk: int) -> None:
    boundary = new_boundary()
    a = os.urandom(5000) + b"\r\n--" + boundary.encode()[:-1] + b"x"  # a near-boundary inside
    b = os.urandom(3000)
    body = asyncio.run(_body([("a@x", a), ("b@x", b)], boundary))
    ctype = content_type_header(boundary, "root@x")
    got = asyncio.run(_read_all(ctype, [body[i:i + chunk] for i in range(0, len(body), chunk)]))
    assert got == ["{http://www.w3.org/2003/05/soap-envelope}Envelope", ("a@x", a), ("b@x", b)]


def test_unread_part_is_skipped_and_the_next_one_is_intact() -> None:
    boundary = new_boundary()
    a, b = os.urandom(200_000), os.urandom(1000)
    body = asyncio.run(_body([("a@x", a), ("b@x", b)], boundary))
    got = asyncio.run(_read_all(content_type_header(boundary, "root@x"), [body], skip={"a@x"}))
    assert got[1:] == [("a@x", None), ("b@x", b)]


def test_truncated_body_raises_instead_of_returning_a_short_document() -> None:
    boundary = new_boundary()
    body = asyncio.run(_body([("a@x", os.urandom(10_000))], boundary))
    with pytest.raises(MalformedMessageError):
        asyncio.run(_read_all(content_type_header(boundary, "root@x"), [body[:-3000]]))


def test_plain_soap_yields_only_the_envelope_and_other_types_are_refused() -> None:
    plain = ROOT.replace(b'<xop:Include href="cid:a@x"/>', b"")
    assert asyncio.run(_read_all("application/soap+xml; charset=utf-8", [plain])) == [
        "{http://www.w3.org/2003/05/soap-envelope}Envelope"]
    with pytest.raises(MalformedMessageError):  # an Include with nothing to point at
        asyncio.run(_read_all("application/soap+xml", [ROOT]))
    with pytest.raises(UnsupportedError):
        asyncio.run(_read_all("text/html", [b"<html/>"]))


def test_root_over_the_cap_is_refused() -> None:
    boundary = new_boundary()
    body = asyncio.run(_body([], boundary))

    async def run() -> None:
        async for _ in mtom_parts(content_type_header(boundary, "root@x"), [body],
                                  max_root_bytes=50):
            pass

    with pytest.raises(MalformedMessageError):
        asyncio.run(run())
