"""The multipart reader gives the same parts fed whole, one byte at a time, or at random cuts."""

from __future__ import annotations

import email.parser
import email.policy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imx.errors import MalformedMessageError
from imx.wire.multipart import (
    End,
    MultipartReader,
    PartData,
    PartEnd,
    PartHeaders,
    content_type_params,
    iter_events,
    write_multipart,
)


def parts_of(events: list) -> list[tuple[dict[str, str], bytes]]:  # type: ignore[type-arg]
    out: list[tuple[dict[str, str], bytes]] = []
    for e in events:
        if isinstance(e, PartHeaders):
            out.append((e.headers, b""))
        elif isinstance(e, PartData):
            out[-1] = (out[-1][0], out[-1][1] + e.data)
    return out


BODY = (b"preamble to ignore\r\n--XyZ\r\nContent-Type: application/dicom\r\nContent-ID: <a@b>\r\n\r\n"
        b"\x00\x01--XyZ not a boundary\r\n--XyZno\r\n\r\n--XyZ  \r\nContent-Type: text/plain\r\n\r\n"
        b"second\r\n--XyZ--\r\nepilogue")
EXPECTED = [({"content-type": "application/dicom", "content-id": "<a@b>"},
             b"\x00\x01--XyZ not a boundary\r\n--XyZno\r\n"),
            ({"content-type": "text/plain"}, b"second")]


def test_whole_and_bytewise_agree() -> None:
    assert parts_of(iter_events(MultipartReader("XyZ"), [BODY])) == EXPECTED
    assert parts_of(iter_events(MultipartReader("XyZ"), [BODY[i:i + 1] for i in range(len(BODY))])) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=12))
@settings(max_examples=200, deadline=None)
def test_random_split_points(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [BODY[a:b] for a, b in zip([0, *points], [*points, len(BODY)], strict=True)]
    assert parts_of(iter_events(MultipartReader("XyZ"), chunks)) == EXPECTED


def test_missing_close_delimiter_is_an_error() -> None:
    with pytest.raises(MalformedMessageError):
        iter_events(MultipartReader("XyZ"), [BODY.split(b"\r\n--XyZ--")[0]])


def test_header_flood_is_refused() -> None:
    r = MultipartReader("b")
    with pytest.raises(MalformedMessageError):
        r.feed(b"--b\r\n" + b"X-A: " + b"a" * 20000)


def test_memory_stays_bounded_for_a_large_part() -> None:
    r = MultipartReader("bnd")
    r.feed(b"--bnd\r\nContent-Type: application/octet-stream\r\n\r\n")
    block = bytes(random.Random(1).randbytes(1 << 20))
    total = 0
    for _ in range(64):  # 64 MiB streamed
        for e in r.feed(block):
            if isinstance(e, PartData):
                total += len(e.data)
        assert len(r._buf) < 64  # never more than the delimiter is held back
    events = r.feed(b"\r\n--bnd--")
    total += sum(len(e.data) for e in events if isinstance(e, PartData))
    assert total == 64 << 20 and isinstance(events[-2], PartEnd) and isinstance(events[-1], End)


async def test_writer_output_reads_back_with_two_parsers() -> None:
    async def body(data: bytes):  # type: ignore[no-untyped-def]
        yield data[:3]
        yield data[3:]

    async def parts():  # type: ignore[no-untyped-def]
        yield {"Content-Type": "application/dicom"}, body(b"DICM-one")
        yield {"Content-Type": "application/dicom"}, body(b"DICM-two\r\n--")

    out = b"".join([c async for c in write_multipart(parts(), "b0und")])
    assert out.startswith(b"--b0und\r\n")  # no preamble, no leading CRLF (dicomtrolley)
    got = parts_of(iter_events(MultipartReader("b0und"), [out]))
    assert [p[1] for p in got] == [b"DICM-one", b"DICM-two\r\n--"]
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: multipart/related; boundary="b0und"\r\n\r\n' + out)
    assert [p.get_payload(decode=True) for p in msg.iter_parts()] == [b"DICM-one", b"DICM-two\r\n--"]


def test_content_type_params() -> None:
    media, params = content_type_params(
        'Multipart/Related; type="application/xop+xml"; boundary="a;b"; start="<root@x>"; action="None"')
    assert media == "multipart/related"
    assert params == {"type": "application/xop+xml", "boundary": "a;b", "start": "<root@x>", "action": "None"}


LF_BODY = b"--q\nContent-Type: a/b\n\nline1\r\nline2\n--q\n\nsecond\r\n--q--"


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_bare_lf_delimiters_and_end_event(size: int) -> None:
    chunks = [LF_BODY[i : i + size] for i in range(0, len(LF_BODY), size)]
    events = iter_events(MultipartReader("q"), chunks)
    assert parts_of(events) == [({"content-type": "a/b"}, b"line1\r\nline2"), ({}, b"second")]
    assert isinstance(events[-1], End) and sum(isinstance(e, End) for e in events) == 1


def test_crlf_split_across_feeds_is_not_leaked_into_data() -> None:
    r = MultipartReader("q")
    events = r.feed(b"--q\r\n\r\n" + b"x" * 100 + b"\r")
    events += r.feed(b"\n--q--")
    assert parts_of(events) == [({}, b"x" * 100)]


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_boundary_inside_the_preamble_line_is_not_a_boundary(size: int) -> None:
    body = b"pre--q--amble\r\n--q\r\n\r\nbody\r\n--q--"
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    assert parts_of(iter_events(MultipartReader("q"), chunks)) == [({}, b"body")]


def test_long_padding_is_not_a_boundary_and_many_near_misses_stay_linear() -> None:
    data = b"\r\n--q" + b" " * 2000 + b"x" + b"\r\n--q \tz" * 20000
    body = b"--q\r\n\r\n" + data + b"\r\n--q \t\r\n\r\nz\r\n--q--"
    assert parts_of(iter_events(MultipartReader("q"), [body])) == [({}, data), ({}, b"z")]


def test_non_ascii_boundary_is_malformed() -> None:
    with pytest.raises(MalformedMessageError):
        MultipartReader("bö")
