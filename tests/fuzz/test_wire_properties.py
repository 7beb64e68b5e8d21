"""Hypothesis properties of the wire layer: parsers raise only MalformedMessageError on any
input, and the MTOM reader gives the same result however the body is split."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from imx.errors import MalformedMessageError
from imx.wire.addressing import build_request_headers, parse_addressing
from imx.wire.faults import build_fault, parse_fault
from imx.wire.mtom import mtom_stream, parse_http_body, xop_include
from imx.wire.soap import build_envelope, parse_envelope
from imx.wire.xml import parse_xml, serialize

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def envelope_bytes() -> bytes:
    body = etree.Element("{urn:ihe:iti:xds-b:2007}Document")
    body.append(xop_include("c@x"))
    fault = build_fault("Sender", None, "r")
    return serialize(build_envelope(body, [*build_request_headers("urn:a", "u", "m"), fault]))


ENVELOPE = envelope_bytes()


def parse_everything(data: bytes) -> None:
    root = parse_xml(data)
    message = parse_envelope(root)
    parse_addressing(message.headers, require_action=False)
    for child in [message.body_child, *message.headers]:
        if child.tag.endswith("}Fault"):
            parse_fault(child)


@given(st.binary(max_size=400))
@FAST
def test_random_bytes_raise_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedMessageError):
        parse_everything(data)


@given(st.lists(st.tuples(st.integers(0, len(ENVELOPE) - 1), st.integers(0, 255)), max_size=6))
@FAST
def test_mutated_envelopes_raise_only_malformed(flips: list[tuple[int, int]]) -> None:
    data = bytearray(ENVELOPE)
    for index, value in flips:
        data[index] = value
    with contextlib.suppress(MalformedMessageError):
        parse_everything(bytes(data))


@given(st.text(alphabet="<>/=\"' abcsoap:Envelope Body Header&;!-[]?", max_size=200))
@FAST
def test_markup_soup_raises_only_malformed(text: str) -> None:
    with contextlib.suppress(MalformedMessageError):
        parse_everything(text.encode())


CT = 'multipart/related; type="application/xop+xml"; boundary="bb"; start="<r@x>"'
PAYLOAD = b"\r\n--b\r\n--bb-\r\n--bb \x00" * 3


async def _written() -> bytes:
    parts = [("c@x", "application/dicom", [PAYLOAD])]
    return b"".join([c async for c in mtom_stream(ENVELOPE, parts, "bb", root_content_id="r@x")])


MTOM = asyncio.run(_written())


def read(chunks: list[bytes]) -> tuple[bytes, dict[str, bytes]]:
    async def go() -> tuple[bytes, dict[str, bytes]]:
        with await parse_http_body(CT, chunks) as message:
            return serialize(message.root), {k: a.read() for k, a in message.attachments.items()}

    return asyncio.run(go())


EXPECTED = read([MTOM])


@given(st.lists(st.integers(0, len(MTOM)), max_size=20))
@FAST
def test_mtom_reader_same_result_at_any_split(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [MTOM[a:b] for a, b in zip([0, *points], [*points, len(MTOM)], strict=True)]
    assert read(chunks) == EXPECTED
    assert EXPECTED[1] == {"c@x": PAYLOAD}


@given(st.binary(max_size=300), st.sampled_from([CT, "application/soap+xml", "text/plain"]))
@FAST
def test_http_body_random_bytes_raise_only_gateway_errors(data: bytes, ctype: str) -> None:
    from imx.errors import InvalidRequestError

    with contextlib.suppress(InvalidRequestError):
        read_any(ctype, data)


def read_any(ctype: str, data: bytes) -> None:
    async def go() -> None:
        (await parse_http_body(ctype, [data])).close()

    asyncio.run(go())
