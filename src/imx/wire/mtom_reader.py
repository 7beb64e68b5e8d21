"""MTOM/XOP reader: an HTTP SOAP body, MTOM or plain, into a parsed root and spooled parts.

``parse_http_body`` takes the HTTP Content-Type and a chunk stream (whole or one byte at a time),
accepts MTOM and plain SOAP alike (zeep and dicomtrolley send plain SOAP), keeps the root XML under
a size cap and spools each attachment to a ``SpooledTemporaryFile`` within a shared RAM budget
(RFC 2387, XOP 1.0 §3). The Content-Type ``action`` parameter is ignored (zeep sends
``action="None"``): dispatch is on wsa:Action only.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Final

from lxml import etree

from imx.errors import MalformedMessageError, UnsupportedError
from imx.wire.multipart import (
    Event,
    MultipartReader,
    PartData,
    PartEnd,
    PartHeaders,
    content_type_params,
)
from imx.wire.xml import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, parse_xml
from imx.wire.xop import NS_XOP, aiter_chunks, href_content_id, normalise_content_id

__all__ = ["Attachment", "InboundMessage", "parse_http_body"]

_PLAIN_TYPES: Final = frozenset({"application/soap+xml", "text/xml", "application/xml", ""})
_COPY_BYTES: Final = 64 * 1024
_IDENTITY_ENCODINGS: Final = frozenset({"binary", "8bit", "7bit"})

Element = etree._Element


@dataclass(slots=True, kw_only=True)
class Attachment:
    """One received attachment, spooled (in RAM up to a limit, then on disk).

    Attributes:
        content_id: without angle brackets.
        content_type: the part's media type as sent.
        size: bytes received.
        file: the spool; use ``iter_chunks``/``read``; closed by ``InboundMessage.close``.
    """

    content_id: str
    content_type: str
    file: IO[bytes]
    size: int = 0

    def iter_chunks(self, chunk_bytes: int = _COPY_BYTES) -> Iterator[bytes]:
        """Yield the content from the start in chunks of at most ``chunk_bytes``."""
        self.file.seek(0)
        while chunk := self.file.read(chunk_bytes):
            yield chunk

    def read(self) -> bytes:
        """The whole content (for small parts only)."""
        self.file.seek(0)
        return self.file.read()


@dataclass(slots=True, kw_only=True)
class InboundMessage:
    """A received SOAP message: the parsed root XML and its attachments by Content-ID.

    Use as a context manager (or call ``close``) to release the spooled attachments.
    """

    root: Element
    attachments: dict[str, Attachment] = field(default_factory=dict)
    is_mtom: bool = False

    def close(self) -> None:
        """Close every attachment spool."""
        for attachment in self.attachments.values():
            attachment.file.close()

    def __enter__(self) -> InboundMessage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def document(self, element: Element, *, spool_bytes: int = 1 << 20) -> Attachment:
        """The bytes of a base64Binary element (e.g. ``xds:Document``), MTOM or inline.

        An ``xop:Include`` child resolves to its attachment; otherwise the element's text is
        decoded as base64 into a new spool (XOP 1.0 §3: both forms mean the same infoset).

        Raises:
            MalformedMessageError: unknown cid, or text that is not base64.
        """
        include = element.find(f"{{{NS_XOP}}}Include")
        if include is not None:
            content_id = href_content_id(include.get("href") or "")
            if content_id not in self.attachments:
                raise MalformedMessageError("xop:Include refers to a missing MIME part")
            return self.attachments[content_id]
        spool = tempfile.SpooledTemporaryFile(max_size=spool_bytes)  # noqa: SIM115 - owned by caller
        try:
            data = base64.b64decode("".join((element.text or "").split()), validate=True)
        except (binascii.Error, ValueError):
            spool.close()
            raise MalformedMessageError("document is neither xop:Include nor base64") from None
        spool.write(data)
        key = f"inline-{len(self.attachments)}"
        attachment = Attachment(content_id=key, content_type="", file=spool, size=len(data))
        self.attachments[key] = attachment
        return attachment


@dataclass(slots=True, kw_only=True)
class _Limits:
    max_root_bytes: int
    max_depth: int
    max_total_bytes: int
    max_parts: int
    spool_bytes: int
    ram_budget_bytes: int


class _MtomCollector:
    """Turns multipart events into the root bytes and spooled attachments."""

    def __init__(self, start_cid: str | None, limits: _Limits) -> None:
        self.start_cid = start_cid
        self.limits = limits
        self.root: bytearray | None = None
        self.attachments: dict[str, Attachment] = {}
        self._current: bytearray | Attachment | None = None
        self._ram_used = 0
        self._parts = 0

    def handle(self, event: Event) -> None:
        if isinstance(event, PartHeaders):
            self._open(event.headers)
        elif isinstance(event, PartData):
            self._write(event.data)
        elif isinstance(event, PartEnd) and isinstance(self._current, Attachment):
            # an attachment no bigger than its spool limit stayed in RAM: count it
            self._ram_used += self._current.size * (self._current.size <= self.limits.spool_bytes)

    def _open(self, headers: dict[str, str]) -> None:
        self._parts += 1
        if self._parts > self.limits.max_parts:
            raise MalformedMessageError(f"MTOM message has more than {self.limits.max_parts} parts")
        # MTOM (SOAP MTOM §3) sends parts binary; we do not decode base64/quoted-printable parts
        # and refuse them rather than hand on the wrong bytes.
        encoding = headers.get("content-transfer-encoding", "binary").strip().lower()
        if encoding not in _IDENTITY_ENCODINGS:
            raise MalformedMessageError("MIME part Content-Transfer-Encoding not supported")
        content_id = normalise_content_id(headers.get("content-id", ""))
        is_root = content_id == self.start_cid if self.start_cid else self.root is None
        if is_root and self.root is None:
            self.root = self._current = bytearray()
            return
        key = content_id or f"part-{self._parts}"
        if key in self.attachments or (content_id and content_id == self.start_cid):
            raise MalformedMessageError("duplicate MIME Content-ID")
        in_ram = self.limits.spool_bytes if self._ram_used < self.limits.ram_budget_bytes else 0
        spool: IO[bytes] = (
            tempfile.SpooledTemporaryFile(max_size=in_ram) if in_ram else tempfile.TemporaryFile()  # noqa: SIM115
        )
        content_type = headers.get("content-type", "application/octet-stream")
        attachment = Attachment(content_id=key, content_type=content_type, file=spool)
        self.attachments[key] = self._current = attachment

    def _write(self, data: bytes) -> None:
        if isinstance(self._current, bytearray):
            if len(self._current) + len(data) > self.limits.max_root_bytes:
                raise MalformedMessageError("SOAP root part too large")
            self._current += data
        elif self._current is not None:
            self._current.file.write(data)
            self._current.size += len(data)

    def close(self) -> None:
        for attachment in self.attachments.values():
            attachment.file.close()


async def parse_http_body(
    content_type: str | None,
    chunks: AsyncIterable[bytes] | Iterable[bytes],
    *,
    max_root_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_total_bytes: int = 4 << 30,
    max_parts: int = 20_000,
    spool_bytes: int = 1 << 20,
    ram_budget_bytes: int = 16 << 20,
) -> InboundMessage:
    """Read an HTTP SOAP body, MTOM or plain, into a parsed root and spooled attachments.

    Args:
        content_type: the HTTP Content-Type (``action`` parameters are ignored).
        chunks: the body, in chunks of any size (one byte at a time works).
        max_root_bytes: cap on the SOAP XML (root part or plain body).
        max_depth: XML nesting cap, passed to ``parse_xml``.
        max_total_bytes: cap on the whole body.
        max_parts: cap on the number of MIME parts.
        spool_bytes: per attachment, bytes kept in RAM before spilling to disk.
        ram_budget_bytes: once attachments held in RAM reach this, later ones go to disk.

    Returns:
        The message; every ``xop:Include`` in it names a received part.

    Raises:
        MalformedMessageError: bad multipart framing, caps exceeded, bad XML, dangling cid.
        UnsupportedError: a Content-Type that is neither SOAP nor multipart/related.
    """
    media, params = content_type_params(content_type or "")
    limits = _Limits(
        max_root_bytes=max_root_bytes,
        max_depth=max_depth,
        max_total_bytes=max_total_bytes,
        max_parts=max_parts,
        spool_bytes=spool_bytes,
        ram_budget_bytes=ram_budget_bytes,
    )
    if media in _PLAIN_TYPES:
        return await _read_plain(chunks, limits)
    if media != "multipart/related":
        raise UnsupportedError("Content-Type is neither SOAP nor multipart/related")
    boundary = params.get("boundary")
    if not boundary:
        raise MalformedMessageError("multipart/related without boundary")
    start = normalise_content_id(params["start"]) if params.get("start") else None
    collector = _MtomCollector(start, limits)
    try:
        reader = MultipartReader(boundary)
        total = 0
        async for chunk in aiter_chunks(chunks):
            total += len(chunk)
            if total > max_total_bytes:
                raise MalformedMessageError("message body too large")
            for event in reader.feed(chunk):
                collector.handle(event)
        reader.close()
        if collector.root is None:
            raise MalformedMessageError("MTOM message has no root part")
        root = parse_xml(bytes(collector.root), max_bytes=max_root_bytes, max_depth=max_depth)
        message = InboundMessage(root=root, attachments=collector.attachments, is_mtom=True)
        _check_includes(message)
    except BaseException:
        collector.close()
        raise
    return message


async def _read_plain(
    chunks: AsyncIterable[bytes] | Iterable[bytes], limits: _Limits
) -> InboundMessage:
    body = bytearray()
    async for chunk in aiter_chunks(chunks):
        body += chunk
        if len(body) > limits.max_root_bytes:
            raise MalformedMessageError("SOAP message too large")
    root = parse_xml(bytes(body), max_bytes=limits.max_root_bytes, max_depth=limits.max_depth)
    message = InboundMessage(root=root)
    if root.find(f".//{{{NS_XOP}}}Include") is not None:
        raise MalformedMessageError("xop:Include in a message that is not MTOM")
    return message


def _check_includes(message: InboundMessage) -> None:
    for include in message.root.iter(f"{{{NS_XOP}}}Include"):
        if href_content_id(include.get("href") or "") not in message.attachments:
            raise MalformedMessageError("xop:Include refers to a missing MIME part")
