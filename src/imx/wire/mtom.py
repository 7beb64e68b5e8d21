"""MTOM/XOP writer (W3C XOP 1.0, SOAP MTOM, RFC 2387), and the one import point for MTOM.

``mtom_stream`` yields the body chunk by chunk straight from the attachment sources; it starts
exactly with ``--boundary`` (dicomtrolley needs that, shared/peers/README.md). The reader lives in
``wire.mtom_reader`` and the XOP helpers in ``wire.xop``; both are re-exported here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import Final

from imx.wire.mtom_reader import Attachment, InboundMessage, parse_http_body
from imx.wire.multipart import encode_close_delimiter, encode_part_head, write_multipart
from imx.wire.xop import (
    NS_XOP,
    ChunkSource,
    aiter_chunks,
    check_content_id,
    href_content_id,
    new_content_id,
    xop_include,
)

__all__ = [
    "NS_XOP",
    "Attachment",
    "InboundMessage",
    "content_type_header",
    "href_content_id",
    "mtom_framing",
    "mtom_stream",
    "new_boundary",
    "new_content_id",
    "parse_http_body",
    "soap_content_type",
    "xop_include",
]

_ROOT_TYPE: Final = 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'
_BCHARS = re.compile(r"^[0-9A-Za-z'()+_,./:=?-]{1,70}$")  # RFC 2046 5.1.1 (no trailing space)

Part = tuple[str, str, ChunkSource]


def new_boundary() -> str:
    """A random MIME boundary (its bytes cannot plausibly occur inside a part)."""
    return f"MIMEBoundary_{uuid.uuid4().hex}"


def content_type_header(boundary: str, start_cid: str, action: str | None = None) -> str:
    """The HTTP Content-Type of an MTOM message (SOAP MTOM §3; SPEC-NOTES 1.4).

    Args:
        boundary: the multipart boundary used by ``mtom_stream``.
        start_cid: the root part's Content-ID (without angle brackets).
        action: optional SOAP 1.2 action parameter (RFC 3902); never relied upon.

    Returns:
        ``multipart/related; type="application/xop+xml"; boundary=...; start=...;
        start-info="application/soap+xml"`` (+ ``action``).
    """
    value = (
        f'multipart/related; type="application/xop+xml"; boundary="{_check_boundary(boundary)}"; '
        f'start="<{check_content_id(start_cid)}>"; start-info="application/soap+xml"'
    )
    if action:
        value += f'; action="{check_content_id(action)}"'
    return value


def soap_content_type() -> str:
    """The Content-Type of a plain (non-MTOM) SOAP 1.2 message."""
    return "application/soap+xml; charset=UTF-8"


def _check_boundary(boundary: str) -> str:
    if not _BCHARS.match(boundary):
        raise ValueError("boundary must be 1-70 RFC 2046 bchars")
    return boundary


def _root_headers(root_content_id: str) -> dict[str, str]:
    return {
        "Content-Type": _ROOT_TYPE,
        "Content-Transfer-Encoding": "binary",
        "Content-ID": f"<{check_content_id(root_content_id)}>",
    }


def _part_headers(content_id: str, content_type: str) -> dict[str, str]:
    if "\r" in content_type or "\n" in content_type:
        raise ValueError("Content-Type must be one line")
    return {
        "Content-Type": content_type,
        "Content-Transfer-Encoding": "binary",
        "Content-ID": f"<{check_content_id(content_id)}>",
    }


def mtom_framing(
    root_xml: bytes,
    parts: Sequence[tuple[str, str]],
    boundary: str,
    *,
    root_content_id: str = "root.message@imx",
) -> tuple[bytes, ...]:
    """The bytes of an MTOM message around its attachment bodies, for a writer that sends
    the bodies itself (zero-copy from files); byte for byte what ``mtom_stream`` writes.

    Args:
        root_xml: the serialized SOAP envelope holding ``xop:Include`` elements.
        parts: ``(content_id, content_type)`` per attachment, in body order.
        boundary: from ``new_boundary()``.
        root_content_id: the root's Content-ID (the ``start`` parameter).

    Returns:
        ``len(parts) + 1`` pieces: the message is ``pieces[0] + body[0] + pieces[1] + ...
        + body[n - 1] + pieces[n]``. ``pieces[0]`` holds the root part and the first
        attachment's headers; the last piece is the close delimiter.
    """
    _check_boundary(boundary)
    pieces = [encode_part_head(_root_headers(root_content_id), boundary, first=True) + root_xml]
    for content_id, content_type in parts:
        pieces.append(encode_part_head(_part_headers(content_id, content_type), boundary,
                                       first=False))
    pieces.append(encode_close_delimiter(boundary, first=False))
    # the root part travels with what follows it (the first attachment's head, or the end)
    return (pieces[0] + pieces[1], *pieces[2:])


async def mtom_stream(
    root_xml: bytes,
    parts: AsyncIterable[Part] | Iterable[Part],
    boundary: str,
    *,
    root_content_id: str = "root.message@imx",
) -> AsyncIterator[bytes]:
    """Stream an MTOM message: the SOAP root part, then each attachment as binary.

    Args:
        root_xml: the serialized SOAP envelope holding ``xop:Include`` elements.
        parts: ``(content_id, content_type, chunks)`` per attachment, in body order; chunks are
            pulled lazily, so a part is never held whole.
        boundary: from ``new_boundary()``; also passed to ``content_type_header``.
        root_content_id: the root's Content-ID (the ``start`` parameter).

    Yields:
        Body bytes; the first chunk begins with ``--boundary\\r\\n`` (no preamble).
    """
    _check_boundary(boundary)

    async def one(data: bytes) -> AsyncIterator[bytes]:
        yield data

    async def headed() -> AsyncIterator[tuple[dict[str, str], AsyncIterable[bytes]]]:
        yield _root_headers(root_content_id), one(root_xml)
        async for content_id, content_type, chunks in _aiter_parts(parts):
            yield _part_headers(content_id, content_type), aiter_chunks(chunks)

    async for chunk in write_multipart(headed(), boundary):
        yield chunk


async def _aiter_parts(parts: AsyncIterable[Part] | Iterable[Part]) -> AsyncIterator[Part]:
    if isinstance(parts, AsyncIterable):
        async for part in parts:
            yield part
    else:
        for part in parts:
            yield part
