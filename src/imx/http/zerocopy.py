"""Zero-copy answers: the ASGI "Zero Copy Send" extension in our uvicorn protocol, and a
multipart response that sends stored files with it (RAD-69 / RAD-75 / ITI-39 MTOM answers).

ASGI extensions (asgi.readthedocs.io/en/latest/extensions.html, "Zero Copy Send"): a server
that lists ``http.response.zerocopysend`` in ``scope["extensions"]`` accepts
``{"type": "http.response.zerocopysend", "file": f, "offset": o, "count": n, "more_body": b}``
after ``http.response.start`` and sends the file's bytes itself. ``ZeroCopyHttpToolsProtocol``
does it with ``loop.sendfile`` (sendfile(2): page cache to socket, no copy through Python and no
worker-thread hop per file) on plain-HTTP connections only. The kernel cannot encrypt, so TLS
connections never advertise the extension and get the read+write path.

``MultipartFileResponse`` sends framing bytes (MTOM part heads, built by ``imx.wire``) between
the bodies; a body that is a stored file goes out with the extension when the scope lists it,
and is read and streamed like any other body when it does not (TLS, httpx's ASGITransport).
When every body is a stored file the answer carries a Content-Length (no chunked framing).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from imx.errors import NotFoundError, StoreError

__all__ = ["ZEROCOPY_SEND", "MultipartFileResponse", "PartBody", "ZeroCopyHttpToolsProtocol"]

ZEROCOPY_SEND: Final = "http.response.zerocopysend"


class _ZeroCopyCycle(RequestResponseCycle):
    """uvicorn's request/response cycle that also takes ``http.response.zerocopysend``."""

    async def send(self, message: Any) -> None:
        if message["type"] != ZEROCOPY_SEND:
            await super().send(message)
            return
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started or self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{ZEROCOPY_SEND}'")
        file = message["file"]
        offset = message.get("offset")
        offset = file.tell() if offset is None else offset  # the spec: current position
        count = message.get("count")
        if count is None:  # the spec: to the end of the file
            count = os.fstat(file.fileno()).st_size - offset
        if self.scope["method"] != "HEAD" and count > 0:
            if self.chunked_encoding:
                self.transport.write(b"%x\r\n" % count)
            elif count > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            else:
                self.expected_content_length -= count
            await self._sendfile(file, offset, count)
            if self.chunked_encoding and not self.disconnected:
                self.transport.write(b"\r\n")
        if not message.get("more_body", False):
            # uvicorn's own end of body: last chunk, Content-Length check, keep-alive.
            await super().send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _sendfile(self, file: Any, offset: int, count: int) -> None:
        if self.transport.is_closing():
            self.disconnected = True
            return
        try:
            sent = self._sendfile_now(file, offset, count)
            if sent < count:
                # asyncio flushes the transport's buffer, then os.sendfile()s as the socket
                # becomes writable.
                sent += await asyncio.get_running_loop().sendfile(
                    self.transport, file, offset + sent, count - sent)
        except ConnectionError:  # the client went away mid-file: as uvicorn does for writes
            self.disconnected = True
            self.transport.close()
            return
        if sent != count:
            # The file ended early: the framing already promised `count` bytes.
            raise RuntimeError("file shorter than the announced count")

    def _sendfile_now(self, file: Any, offset: int, count: int) -> int:
        """What the socket takes at once, when nothing is queued before it: one syscall per
        instance in the common case, instead of asyncio's sendfile machinery (futures,
        writer callbacks, buffer-empty waiter) at tens of microseconds per call."""
        sock = self.transport.get_extra_info("socket")
        if sock is None or self.transport.get_write_buffer_size():
            return 0
        try:
            return os.sendfile(sock.fileno(), file.fileno(), offset, count)
        except BlockingIOError:
            return 0


class ZeroCopyHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the Zero Copy Send extension on plain HTTP."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # asyncio's own loops implement loop.sendfile natively for plain sockets (uvloop,
        # if someone installs it, does not); TLS transports cannot sendfile at all.
        if (type(cycle) is RequestResponseCycle and cycle.scope is self.scope
                and self.scheme == "http" and isinstance(self.loop, asyncio.BaseEventLoop)):
            # The request's ASGI task is created but has not run yet (it starts on a later
            # turn of the loop, or later still when pipelined), so the app sees both changes.
            cycle.__class__ = _ZeroCopyCycle
            extensions = dict(self.scope.get("extensions") or {})
            extensions[ZEROCOPY_SEND] = {}
            self.scope["extensions"] = extensions


@dataclass(frozen=True, slots=True, kw_only=True)
class PartBody:
    """One multipart body: its stored file when it is one, and how to stream it otherwise."""

    path: Path | None  # a local file sent as is; None: only ``stream`` can produce the bytes
    stream: Callable[[], AsyncIterator[bytes]]  # the same bytes, read in chunks
    size: int | None = None  # the size of the file at ``path`` if known (metadata): no stat


def _file_sizes(bodies: Sequence[PartBody]) -> list[int | None]:
    """Each body's file size: known, or stat'ed; None without a file (or a vanished one,
    which ``stream`` then reports the usual way: NotFoundError)."""
    sizes: list[int | None] = []
    for body in bodies:
        if body.path is None or body.size is not None:
            sizes.append(None if body.path is None else body.size)
            continue
        try:
            sizes.append(body.path.stat().st_size)
        except OSError:
            sizes.append(None)
    return sizes


class MultipartFileResponse(StreamingResponse):
    """``framing[0] + body[0] + framing[1] + ... + body[n-1] + framing[n]``, streamed.

    ``framing`` comes from ``imx.wire.mtom.mtom_framing``. Memory stays bounded by one body
    chunk (at most one instance for the streamed path), whatever the number of parts.
    """

    def __init__(self, framing: Sequence[bytes], bodies: Sequence[PartBody], *,
                 media_type: str) -> None:
        if len(framing) != len(bodies) + 1:
            raise ValueError("framing needs one piece more than bodies")
        self._framing = tuple(framing)
        self._bodies = tuple(bodies)
        self._zerocopy = False
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._zerocopy = ZEROCOPY_SEND in (scope.get("extensions") or {})
        await super().__call__(scope, receive, send)

    async def stream_response(self, send: Send) -> None:
        if any(b.path is not None and b.size is None for b in self._bodies):
            # One worker-thread hop for every stat (a series is hundreds of files).
            sizes = await anyio.to_thread.run_sync(_file_sizes, self._bodies)
        else:
            sizes = _file_sizes(self._bodies)
        headers = list(self.raw_headers)
        known = [s for s in sizes if s is not None]
        if len(known) == len(sizes):
            length = sum(map(len, self._framing)) + sum(known)
            headers.append((b"content-length", str(length).encode("latin-1")))
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": headers})
        if self._zerocopy:
            # sendfile(2) reads the page cache on the loop thread: ask the kernel to read the
            # files ahead, in send order, from a worker thread, so a study on a cold disk
            # does not stall the loop (and every other request) once per file.
            paths = [b.path for b in self._bodies if b.path is not None]
            asyncio.get_running_loop().run_in_executor(None, _read_ahead, paths)
        for piece, body, size in zip(self._framing, self._bodies, sizes, strict=False):
            if self._zerocopy and body.path is not None and size is not None:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                await _send_file(send, body.path, size)
                continue
            pending = piece  # the framing rides with the first chunk: one message, not two
            async for chunk in body.stream():
                if chunk:
                    await send({"type": "http.response.body",
                                "body": pending + chunk if pending else chunk, "more_body": True})
                    pending = b""
            if pending:
                await send({"type": "http.response.body", "body": pending, "more_body": True})
        await send({"type": "http.response.body", "body": self._framing[-1], "more_body": False})


def _read_ahead(paths: Sequence[Path]) -> None:
    """POSIX_FADV_WILLNEED on each file in turn: the kernel starts reading it into the page
    cache without waiting (posix_fadvise(2)); errors are the sender's to report."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


async def _send_file(send: Send, path: Path, size: int) -> None:
    # open(2) on the loop thread: microseconds for a local file, cheaper than the
    # worker-thread hop per file that the streamed path pays.
    try:
        fh = path.open("rb", buffering=0)
    except FileNotFoundError as exc:  # the framing is out: too late for a RegistryError
        raise NotFoundError("blob not found") from exc
    with fh:
        if os.fstat(fh.fileno()).st_size != size:  # stored blobs are immutable
            raise StoreError("stored file size differs from the announced size")
        await send({"type": ZEROCOPY_SEND, "file": fh, "offset": 0, "count": size,
                    "more_body": True})
