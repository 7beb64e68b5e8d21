"""``MultipartFileResponse``: the same MTOM bytes as ``mtom_stream`` whether the server offers
ASGI Zero Copy Send or not and whether file sizes come from metadata or from stat; stored files
go by ``http.response.zerocopysend`` only when offered, a body without a file (transcoded) is
always streamed; Content-Length only when every body is a file of known size."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from imx.errors import NotFoundError, StoreError
from imx.http.zerocopy import ZEROCOPY_SEND, MultipartFileResponse, PartBody
from imx.wire.mtom import content_type_header, mtom_framing, mtom_stream, parse_http_body
from tests.unit.wire.test_mtom import DICOM_1, DICOM_2, envelope_with_includes

TRANSCODED = b"\x00" * 128 + b"DICM" + b"re-encoded in another transfer syntax" * 50


class Served:
    """What a minimal ASGI server saw: start headers, body bytes, message types."""

    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.body = bytearray()
        self.types: list[str] = []


async def serve(response: MultipartFileResponse, *, zerocopy: bool,
                on_start: Any = None) -> Served:
    served = Served()
    scope = {"type": "http", "asgi": {"spec_version": "2.4"}, "method": "POST",
             "extensions": {ZEROCOPY_SEND: {}} if zerocopy else {}}

    async def receive() -> dict[str, Any]:
        raise AssertionError("the response does not read the request")

    async def send(message: MutableMapping[str, Any]) -> None:
        served.types.append(message["type"])
        if message["type"] == "http.response.start":
            served.headers = dict(message["headers"])
            if on_start is not None:
                on_start()
        elif message["type"] == "http.response.body":
            served.body += message.get("body", b"")
        else:
            assert message["type"] == ZEROCOPY_SEND
            served.body += os.pread(message["file"].fileno(), message["count"], message["offset"])

    await response(scope, receive, send)
    return served


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def stored(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def streamer(data: bytes) -> Callable[[], AsyncIterator[bytes]]:
    return lambda: chunks_of(data)


def answer(tmp_path: Path, contents: list[tuple[bytes, bool]], *, sized: bool = False
           ) -> tuple[MultipartFileResponse, list[str], bytes]:
    """A response over ``(bytes, is_a_stored_file)`` bodies, its Content-IDs and root;
    ``sized``: every body says its size (a transcoded one its stored size, as the plan does)."""
    cids = [f"{i}.inst@imx" for i in range(len(contents))]
    root = envelope_with_includes(cids)
    framing = mtom_framing(root, [(c, "application/dicom") for c in cids], "bnd_z",
                           root_content_id="r@x")
    bodies = []
    for i, (data, is_file) in enumerate(contents):
        path = stored(tmp_path, f"{i}.dcm", data) if is_file else None
        size = len(data) + (0 if is_file else 999) if sized else None  # transcoding resizes
        bodies.append(PartBody(path=path, stream=streamer(data), size=size))
    media = content_type_header("bnd_z", "r@x")
    return MultipartFileResponse(framing, bodies, media_type=media), cids, root


async def expected(root: bytes, cids: list[str], datas: list[bytes]) -> bytes:
    parts = [(c, "application/dicom", [d]) for c, d in zip(cids, datas, strict=True)]
    return b"".join([x async for x in mtom_stream(root, parts, "bnd_z", root_content_id="r@x")])


MIXES = {
    "all stored": [(DICOM_1, True), (DICOM_2, True), (DICOM_1, True)],
    "one transcoded": [(DICOM_1, True), (TRANSCODED, False), (DICOM_2, True)],
    "empty file": [(b"", True), (DICOM_2, True)],
}


@pytest.mark.parametrize("sized", [True, False], ids=["sizes-known", "stat"])
@pytest.mark.parametrize("zerocopy", [True, False], ids=["zerocopy", "no-extension"])
@pytest.mark.parametrize("mix", MIXES.values(), ids=MIXES.keys())
async def test_same_mtom_bytes_as_the_streamed_writer(
        tmp_path: Path, mix: list[tuple[bytes, bool]], zerocopy: bool, sized: bool) -> None:
    response, cids, root = answer(tmp_path, mix, sized=sized)
    served = await serve(response, zerocopy=zerocopy)
    datas = [d for d, _ in mix]
    assert bytes(served.body) == await expected(root, cids, datas)
    with await parse_http_body(served.headers[b"content-type"].decode(),
                               [bytes(served.body)]) as message:
        assert [message.attachments[c].read() for c in cids] == datas
    files = sum(is_file for _, is_file in mix)
    assert served.types.count(ZEROCOPY_SEND) == (files if zerocopy else 0)
    assert served.types[-1] == "http.response.body"


@pytest.mark.parametrize("sized", [True, False], ids=["sizes-known", "stat"])
@pytest.mark.parametrize("mix", MIXES.values(), ids=MIXES.keys())
async def test_content_length_only_when_every_body_is_a_stored_file(
        tmp_path: Path, mix: list[tuple[bytes, bool]], sized: bool) -> None:
    response, _, _ = answer(tmp_path, mix, sized=sized)
    served = await serve(response, zerocopy=True)
    if all(is_file for _, is_file in mix):
        assert served.headers[b"content-length"] == str(len(served.body)).encode()
    else:
        assert b"content-length" not in served.headers  # the server frames it (chunked)


async def test_a_vanished_file_falls_back_to_its_stream(tmp_path: Path) -> None:
    response, cids, root = answer(tmp_path, [(DICOM_1, True), (DICOM_2, True)])
    (tmp_path / "1.dcm").unlink()  # the stream still has the bytes (a store without files)
    served = await serve(response, zerocopy=True)
    assert bytes(served.body) == await expected(root, cids, [DICOM_1, DICOM_2])
    assert served.types.count(ZEROCOPY_SEND) == 1
    assert b"content-length" not in served.headers


async def test_a_vanished_file_of_known_size_fails_the_answer(tmp_path: Path) -> None:
    response, _, _ = answer(tmp_path, [(DICOM_1, True)], sized=True)
    (tmp_path / "0.dcm").unlink()
    with pytest.raises(NotFoundError):
        await serve(response, zerocopy=True)


@pytest.mark.parametrize("sized", [True, False], ids=["sizes-known", "stat"])
async def test_a_file_that_changes_size_after_the_headers_fails_the_answer(
        tmp_path: Path, sized: bool) -> None:
    response, _, _ = answer(tmp_path, [(DICOM_1, True)], sized=sized)

    def grow() -> None:
        with (tmp_path / "0.dcm").open("ab") as fh:
            fh.write(b"more")

    with pytest.raises(StoreError):
        await serve(response, zerocopy=True, on_start=grow)


def test_framing_and_bodies_must_match() -> None:
    with pytest.raises(ValueError, match="one piece more"):
        MultipartFileResponse([b"a"], [PartBody(path=None, stream=lambda: chunks_of(b""))],
                              media_type="multipart/related")


async def test_stored_files_are_read_ahead_in_send_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sendfile(2) runs on the loop thread: the kernel is asked to read the files ahead
    advised: list[str] = []
    opened: dict[int, str] = {}
    real_open = os.open

    def tracking_open(path: Any, flags: int, *args: Any) -> int:
        fd = real_open(path, flags, *args)
        opened[fd] = Path(path).name
        return fd

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_WILLNEED
        advised.append(opened[fd])

    monkeypatch.setattr("imx.http.zerocopy.os.open", tracking_open)
    monkeypatch.setattr("imx.http.zerocopy.os.posix_fadvise", fadvise)
    response, _, _ = answer(tmp_path, MIXES["one transcoded"])
    await serve(response, zerocopy=True)
    for _ in range(100):  # the advice runs in a worker thread beside the sending
        if len(advised) == 2:
            break
        await asyncio.sleep(0.01)
    assert advised == ["0.dcm", "2.dcm"]
