"""Streaming MTOM reader for answers the initiator receives (XOP 1.0 §3; RFC 2387).

``mtom_parts`` yields the parsed SOAP root first, then each attachment as a ``StreamedPart``
whose ``chunks`` are read straight off the response body: a retrieved study passes through in
64 KiB pieces and is never held whole, in RAM or in a spool file. MTOM puts the root part
first (SOAP MTOM §3.2 / XOP 1.0 §3), so the DocumentResponse metadata is known before any
document bytes arrive. A part whose chunks the caller does not read is skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Final

from lxml import etree

from imx.errors import MalformedMessageError, UnsupportedError
from imx.wire.multipart import (
    End,
    MultipartReader,
    PartData,
    PartEnd,
    PartHeaders,
    content_type_params,
)
from imx.wire.xml import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, parse_xml
from imx.wire.xop import NS_XOP, aiter_chunks, normalise_content_id

__all__ = ["StreamedPart", "mtom_parts"]

_PLAIN_TYPES: Final = frozenset({"application/soap+xml", "text/xml", "application/xml", ""})
_IDENTITY_ENCODINGS: Final = frozenset({"binary", "8bit", "7bit"})

Element = etree._Element


@dataclass(slots=True)
class StreamedPart:
    """One MIME part after the root: read ``chunks`` once, before asking for the next part."""

    content_id: str
    content_type: str
    chunks: AsyncIterator[bytes]


async def mtom_parts(
    content_type: str | None,
    body: AsyncIterable[bytes] | Iterable[bytes],
    *,
    max_root_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_parts: int = 100_000,
) -> AsyncIterator[Element | StreamedPart]:
    """Yield the SOAP envelope (parsed with ``parse_xml``), then each attachment part.

    A plain SOAP body (text/xml, application/soap+xml) yields only the envelope.

    Raises:
        MalformedMessageError: framing errors, a root over ``max_root_bytes``, bad XML,
            base64/quoted-printable parts, a body cut short.
        UnsupportedError: a Content-Type that is neither SOAP nor multipart/related.
    """
    media, params = content_type_params(content_type or "")
    if media in _PLAIN_TYPES:
        data = bytearray()
        async for chunk in aiter_chunks(body):
            data += chunk
            if len(data) > max_root_bytes:
                raise MalformedMessageError("SOAP message too large")
        root = parse_xml(bytes(data), max_bytes=max_root_bytes, max_depth=max_depth)
        if root.find(f".//{{{NS_XOP}}}Include") is not None:
            raise MalformedMessageError("xop:Include in a message that is not MTOM")
        yield root
        return
    if media != "multipart/related":
        raise UnsupportedError("Content-Type is neither SOAP nor multipart/related")
    boundary = params.get("boundary")
    if not boundary:
        raise MalformedMessageError("multipart/related without boundary")
    events = _events(MultipartReader(boundary), body)
    # Root part: the first one (MTOM requires the root first; a ``start`` naming a later part
    # is not supported by a streaming reader and is refused rather than buffered).
    start = normalise_content_id(params["start"]) if params.get("start") else None
    headers = await _next_headers(events)
    if headers is None:
        raise MalformedMessageError("MTOM message has no root part")
    _check_encoding(headers)
    if start and normalise_content_id(headers.get("content-id", "")) != start:
        raise MalformedMessageError("MTOM root part is not the first part")
    root_bytes = bytearray()
    async for data in _part_data(events):
        root_bytes += data
        if len(root_bytes) > max_root_bytes:
            raise MalformedMessageError("SOAP root part too large")
    yield parse_xml(bytes(root_bytes), max_bytes=max_root_bytes, max_depth=max_depth)
    count = 1
    while (headers := await _next_headers(events)) is not None:
        count += 1
        if count > max_parts:
            raise MalformedMessageError(f"MTOM message has more than {max_parts} parts")
        _check_encoding(headers)
        chunks = _part_data(events)
        yield StreamedPart(
            content_id=normalise_content_id(headers.get("content-id", "")),
            content_type=headers.get("content-type", "application/octet-stream"),
            chunks=chunks,
        )
        async for _ in chunks:  # whatever the caller left unread
            pass


def _check_encoding(headers: dict[str, str]) -> None:
    encoding = headers.get("content-transfer-encoding", "binary").strip().lower()
    if encoding not in _IDENTITY_ENCODINGS:
        raise MalformedMessageError("MIME part Content-Transfer-Encoding not supported")


class _Events:
    """The multipart event stream, with one event of look-back."""

    def __init__(self, gen: AsyncIterator[object]) -> None:
        self._gen = gen
        self.pending: object | None = None

    async def next(self) -> object | None:
        if self.pending is not None:
            event, self.pending = self.pending, None
            return event
        try:
            return await anext(self._gen)
        except StopAsyncIteration:
            return None


def _events(reader: MultipartReader, body: AsyncIterable[bytes] | Iterable[bytes]) -> _Events:
    async def gen() -> AsyncIterator[object]:
        async for chunk in aiter_chunks(body):
            for event in reader.feed(chunk):
                yield event
        reader.close()

    return _Events(gen())


async def _next_headers(events: _Events) -> dict[str, str] | None:
    while (event := await events.next()) is not None:
        if isinstance(event, PartHeaders):
            return event.headers
        if isinstance(event, End):
            return None
        if isinstance(event, PartData):
            continue  # the unread tail of a part the caller skipped
    raise MalformedMessageError("multipart body ended before its closing boundary")


async def _part_data(events: _Events) -> AsyncIterator[bytes]:
    while (event := await events.next()) is not None:
        if isinstance(event, PartData):
            yield event.data
        elif isinstance(event, PartEnd):
            return
        else:
            events.pending = event
            return
    raise MalformedMessageError("multipart body ended inside a part")
