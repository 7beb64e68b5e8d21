"""Incremental multipart/related reader and writer (RFC 2046 5.1, RFC 2387).

The reader is push-style (h11-like): ``feed(bytes)`` returns events and never buffers
more than one header block or ``len(delimiter)`` bytes of body, so a part of any size
streams through. It gives the same events when fed whole or one byte at a time, and
ends with an ``End`` event at the close delimiter. Delimiters preceded by a bare LF
(instead of CRLF) are accepted too: some MIME writers emit them.
Used by STOW-RS (PS3.18 10.5) and MTOM/XOP (SOAP answers and requests).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass

from imx.errors import MalformedMessageError

__all__ = [
    "End",
    "Event",
    "MultipartReader",
    "PartData",
    "PartEnd",
    "PartHeaders",
    "content_type_params",
    "encode_close_delimiter",
    "encode_part_head",
    "write_multipart",
]

_MAX_HEADER_BYTES = 16 * 1024
_MAX_PADDING = 1024  # transport padding accepted after a boundary (RFC 2046 5.1.1)


@dataclass(frozen=True, slots=True)
class PartHeaders:
    headers: dict[str, str]  # lower-case names


@dataclass(frozen=True, slots=True)
class PartData:
    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    pass


@dataclass(frozen=True, slots=True)
class End:
    """The close delimiter was read; later bytes are epilogue (RFC 2046 5.1.1)."""


Event = PartHeaders | PartData | PartEnd | End

_PARAM = re.compile(r';\s*([A-Za-z0-9_.+-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def content_type_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type into its lower-cased media type and parameters (RFC 9110 8.3)."""
    media, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for m in _PARAM.finditer(";" + rest):
        raw = m.group(2).strip()
        if raw.startswith('"') and raw.endswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[m.group(1).lower()] = raw
    return media.strip().lower(), params


class MultipartReader:
    """Push parser for one multipart body with ``boundary``."""

    def __init__(self, boundary: str) -> None:
        if not boundary or len(boundary) > 200:
            raise MalformedMessageError("multipart boundary missing or too long")
        try:
            self._dash_boundary = b"--" + boundary.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedMessageError("multipart boundary is not ASCII") from None
        # RFC 2046 5.1.1: the delimiter is CRLF "--" boundary; we search for LF "--" boundary
        # and drop a preceding CR from the data, so bare-LF writers work too.
        self._delimiter = b"\n" + self._dash_boundary
        self._buf = bytearray()
        self._state = "preamble"
        self._at_start = True  # nothing discarded yet: the body may open with "--boundary"
        self.finished = False

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return the events they complete."""
        if self.finished:
            return []  # epilogue is ignored (RFC 2046 5.1.1)
        self._buf += data
        events: list[Event] = []
        progressed = True
        while progressed and not self.finished:
            progressed = getattr(self, f"_{self._state}")(events)
        return events

    def close(self) -> None:
        """Declare the end of input; raises if the body was cut short."""
        if not self.finished:
            raise MalformedMessageError("multipart body ended before its closing boundary")

    def _preamble(self, events: list[Event]) -> bool:
        # The first boundary may open the body or follow a preamble line.
        if self._at_start and self._buf.startswith(self._dash_boundary):
            del self._buf[:len(self._dash_boundary)]
            self._state = "after_boundary"
            return True
        i = self._buf.find(self._delimiter)
        if i >= 0:
            del self._buf[:i + len(self._delimiter)]
            self._state = "after_boundary"
            return True
        if self._at_start and self._dash_boundary.startswith(self._buf):
            return False  # maybe the opening boundary, still arriving
        self._at_start = False
        keep = len(self._delimiter) - 1
        if len(self._buf) > keep:
            del self._buf[:len(self._buf) - keep]
        return False

    def _after_boundary(self, events: list[Event]) -> bool:
        if len(self._buf) < 2:
            return False
        if self._buf[:2] == b"--":
            self.finished = True
            events.append(End())
            return False
        # transport padding (RFC 2046 5.1.1): spaces/tabs before the CRLF
        i = self._buf.find(b"\n")
        if i < 0:
            if len(self._buf) > 1024:
                raise MalformedMessageError("garbage after multipart boundary")
            return False
        if self._buf[:i].rstrip(b"\r").strip(b" \t"):
            raise MalformedMessageError("garbage after multipart boundary")
        del self._buf[:i + 1]
        self._state = "headers"
        return True

    def _headers(self, events: list[Event]) -> bool:
        if self._buf.startswith(b"\r\n") or self._buf.startswith(b"\n"):
            del self._buf[:2 if self._buf.startswith(b"\r\n") else 1]
            events.append(PartHeaders({}))
            self._state = "body"
            return True
        m = re.search(rb"\r?\n\r?\n", self._buf)
        if m is None:
            if len(self._buf) > _MAX_HEADER_BYTES:
                raise MalformedMessageError("multipart part headers too large")
            return False
        block = bytes(self._buf[:m.start()]).decode("latin-1")
        del self._buf[:m.end()]
        headers: dict[str, str] = {}
        for line in re.split(r"\r?\n(?![ \t])", block):
            name, sep, value = line.partition(":")
            if not sep:
                raise MalformedMessageError("malformed multipart part header")
            headers[name.strip().lower()] = " ".join(value.split())
        events.append(PartHeaders(headers))
        self._state = "body"
        return True

    def _boundary_at(self, i: int) -> bool | None:
        """Is the delimiter found at ``i`` a real boundary? None: need more bytes.

        RFC 2046 5.1.1: a boundary is followed by "--" or by optional whitespace and CRLF;
        anything else means the bytes merely start like the delimiter.
        """
        # Look at a few bytes only (no copy of the rest of the buffer): this runs for every
        # delimiter-like sequence in the data.
        j = i + len(self._delimiter)
        if len(self._buf) - j < 2:
            return None
        if self._buf[j:j + 2] == b"--":
            return True
        k = j
        while k < len(self._buf) and self._buf[k] in (0x20, 0x09):  # transport padding
            k += 1
            if k - j > _MAX_PADDING:
                return False
        if k == len(self._buf):
            return None
        return self._buf[k] in (0x0D, 0x0A)

    def _body(self, events: list[Event]) -> bool:
        start = 0
        while (i := self._buf.find(self._delimiter, start)) >= 0:
            real = self._boundary_at(i)
            if not real and real is not None:
                start = i + 1
                continue
            end = i - 1 if i and self._buf[i - 1] == 0x0D else i  # the CR belongs to the delimiter
            if end:
                events.append(PartData(bytes(self._buf[:end])))
                del self._buf[:end]
            if real is None:
                return False
            events.append(PartEnd())
            del self._buf[:i - end + len(self._delimiter)]
            self._state = "after_boundary"
            return True
        keep = len(self._delimiter)  # a partial CR LF "--" boundary at the end stays buffered
        if len(self._buf) > keep:
            cut = len(self._buf) - keep
            events.append(PartData(bytes(self._buf[:cut])))
            del self._buf[:cut]
        return False


def encode_part_head(headers: dict[str, str], boundary: str, *, first: bool) -> bytes:
    """The bytes before a part's body: delimiter line, header lines, blank line (RFC 2046 5.1.1).

    The first part starts exactly with ``--boundary`` (no preamble, no leading CRLF):
    dicomtrolley requires that (shared/peers/README.md); later parts begin with the CRLF
    that belongs to their delimiter.
    """
    head = (b"" if first else b"\r\n") + f"--{boundary}".encode() + b"\r\n"
    return head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1") + b"\r\n"


def encode_close_delimiter(boundary: str, *, first: bool) -> bytes:
    """The close delimiter ending the body (``first``: no part was written before it)."""
    return (b"" if first else b"\r\n") + f"--{boundary}--".encode() + b"\r\n"


async def write_multipart(parts: AsyncIterable[tuple[dict[str, str], AsyncIterable[bytes]]],
                          boundary: str) -> AsyncIterator[bytes]:
    """Stream a multipart body built from ``encode_part_head`` / ``encode_close_delimiter``."""
    first = True
    # Framing bytes ride with the next data chunk: one write per part instead of three
    # (each write is a message through the ASGI server).
    pending = b""
    async for headers, body in parts:
        pending += encode_part_head(headers, boundary, first=first)
        first = False
        async for chunk in body:
            if chunk:
                yield pending + chunk if pending else chunk
                pending = b""
    yield pending + encode_close_delimiter(boundary, first=first)


def iter_events(reader: MultipartReader, chunks: Iterable[bytes]) -> list[Event]:
    """Feed all ``chunks`` and close (tests and small bodies)."""
    out: list[Event] = []
    for c in chunks:
        out += reader.feed(c)
    reader.close()
    return out
