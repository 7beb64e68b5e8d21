"""``mtom_framing`` + the bodies is byte for byte what ``mtom_stream`` writes (the zero-copy
answer interleaves the framing with files it sends itself)."""

from __future__ import annotations

import pytest

from imx.wire.mtom import content_type_header, mtom_framing, mtom_stream, parse_http_body
from tests.unit.wire.test_mtom import DICOM_1, DICOM_2, envelope_with_includes

BODIES = {
    "none": [],
    "one": [DICOM_1],
    "three, one empty": [DICOM_1, b"", DICOM_2],
}


async def streamed(root: bytes, cids: list[str], bodies: list[bytes]) -> bytes:
    parts = [(cid, "application/dicom", [body]) for cid, body in zip(cids, bodies, strict=True)]
    return b"".join([c async for c in mtom_stream(root, parts, "bnd_f", root_content_id="r@x")])


@pytest.mark.parametrize("bodies", BODIES.values(), ids=BODIES.keys())
async def test_framing_interleaved_with_bodies_equals_the_stream(bodies: list[bytes]) -> None:
    cids = [f"{i}.inst@imx" for i in range(len(bodies))]
    root = envelope_with_includes(cids)
    framing = mtom_framing(root, [(c, "application/dicom") for c in cids], "bnd_f",
                           root_content_id="r@x")
    assert len(framing) == len(bodies) + 1
    joined = framing[0] + b"".join(b + f for b, f in zip(bodies, framing[1:], strict=True))
    assert joined == await streamed(root, cids, bodies)
    with await parse_http_body(content_type_header("bnd_f", "r@x"), [joined]) as message:
        assert [message.attachments[c].read() for c in cids] == bodies


def test_framing_refuses_what_the_stream_refuses() -> None:
    with pytest.raises(ValueError, match="one line"):
        mtom_framing(b"<x/>", [("a@x", "application/dicom\r\nX-Evil: 1")], "bnd")
    with pytest.raises(ValueError, match="bchars"):
        mtom_framing(b"<x/>", [], "bad boundary ")
