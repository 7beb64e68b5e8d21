"""The XUA gate in a process of its own: verification off the event loop and off its GIL.

A new signed assertion costs the responder ~0.4 ms of CPU in the gate (two RSA signatures,
four exclusive c14n, the SAML XSD, the structural XSW checks; docs/trust-xua.md, Cost), run
under the GIL that every other request of the process also needs. A worker thread does not
help (the GIL hand-over cost more than the work, measured); a process does: the node's
process hands the envelope's bytes to its verifier child and awaits the verdict while it
answers other requests. The child runs exactly ``parse_xml`` + ``parse_security_header`` +
``verify_assertion``: the same hardened parser on the same bytes, the same checks in the same
order, so its verdicts are the in-process verdicts (tested side by side). Its verified-
assertion cache lives in the child.

Wire between the two (pipes, one request after another, answers in order of completion):

- parent -> child, once: a pickled ``_Spec`` (anchors as DER, audiences, skew, quirks);
- parent -> child: ``!QdI`` (request id, ``now`` as a POSIX timestamp, length) + envelope bytes;
- child -> parent: ``!QI`` (request id, length) + pickled verdict: ``("ok", fields, signer
  DER)``, ``("refused", detail, fault code)`` or ``("error", exception type)``; an error is
  not a verdict, and the parent then verifies that request inline.

The parent keeps a ``TrustConfig`` of its own: while the child starts, after it died (it is
started again), when its pipe breaks, when it has not answered within ``timeout_s`` (it is
killed and started again) or answered with an error, requests are verified inline, so no
request is refused or lost because of the child. The child exits when its stdin closes
(the parent is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import pickle
import struct
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, BinaryIO, Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault
from imx.security.xua.verify import TrustConfig, VerifiedAssertion, verified_copy, verify_assertion
from imx.security.xua.wssecurity import parse_security_header
from imx.wire.soap import header_blocks

__all__ = ["VerifierProcess", "verifier_spec"]

log = logging.getLogger(__name__)

_REQUEST: Final = struct.Struct("!QdI")
_ANSWER: Final = struct.Struct("!QI")
_READY: Final = 0  # the answer id the child sends once it can verify
_MODULE: Final = "imx.security.xua.verifier_process"
_RESTART_AFTER_S: Final = 5.0  # at most one start per this many seconds (a child that dies)
_FIELDS: Final = tuple(f.name for f in fields(VerifiedAssertion)
                       if f.name not in ("signer_certificate", "_seal"))


@dataclass(frozen=True, slots=True)
class _Spec:
    """What the child needs to build the parent's ``TrustConfig`` (picklable)."""

    anchors_der: tuple[bytes, ...]
    audiences: frozenset[str]
    clock_skew_s: float
    accept_sha1: bool
    require_timestamp_signature: bool
    lean_xmldsig: bool
    cache_entries: int

    def config(self) -> TrustConfig:
        return TrustConfig(
            trust_anchors=tuple(x509.load_der_x509_certificate(d) for d in self.anchors_der),
            audiences=self.audiences, clock_skew=dt.timedelta(seconds=self.clock_skew_s),
            accept_sha1=self.accept_sha1,
            require_timestamp_signature=self.require_timestamp_signature,
            lean_xmldsig=self.lean_xmldsig, cache_entries=self.cache_entries)


def verifier_spec(config: TrustConfig) -> _Spec:
    return _Spec(anchors_der=tuple(c.public_bytes(Encoding.DER) for c in config.trust_anchors),
                 audiences=config.audiences, clock_skew_s=config.clock_skew.total_seconds(),
                 accept_sha1=config.accept_sha1,
                 require_timestamp_signature=config.require_timestamp_signature,
                 lean_xmldsig=config.lean_xmldsig, cache_entries=config.cache_entries)


def verify_headers(headers: Sequence[etree._Element], *, trust: TrustConfig,
                   now: dt.datetime) -> VerifiedAssertion:
    """The gate on a SOAP envelope's header blocks (what ``SoapTrust`` runs inline)."""
    security = parse_security_header(headers, now=now, clock_skew=trust.clock_skew)
    return verify_assertion(security.element, trust=trust, now=now)


# -- child -------------------------------------------------------------------------------------


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _verdict(trust: TrustConfig, now: dt.datetime, payload: bytes) -> tuple[Any, ...]:
    from imx.wire.xml import parse_xml

    try:
        verified = verify_headers(header_blocks(parse_xml(payload)), trust=trust, now=now)
    except SecurityHeaderError as exc:
        return ("refused", exc.detail, exc.fault.value)
    except Exception as exc:  # noqa: BLE001 - the parent decides inline; the child keeps serving
        return ("error", type(exc).__name__)
    return ("ok", {name: getattr(verified, name) for name in _FIELDS},
            verified.signer_certificate.public_bytes(Encoding.DER))


def child_main(stdin: BinaryIO, stdout: BinaryIO) -> int:
    size = _read_exactly(stdin, 4)
    if size is None:
        return 0
    spec_bytes = _read_exactly(stdin, struct.unpack("!I", size)[0])
    if spec_bytes is None:
        return 0
    spec: _Spec = pickle.loads(spec_bytes)  # noqa: S301 - written by our own parent process
    sys.stdout = sys.stderr  # stdout carries answers only: a stray print must not break them
    trust = spec.config()
    stdout.write(_ANSWER.pack(_READY, 0))  # imports done, configuration read
    stdout.flush()
    while True:
        head = _read_exactly(stdin, _REQUEST.size)
        if head is None:
            return 0
        request_id, timestamp, length = _REQUEST.unpack(head)
        payload = _read_exactly(stdin, length)
        if payload is None:
            return 0
        now = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        answer = pickle.dumps(_verdict(trust, now, payload), protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(_ANSWER.pack(request_id, len(answer)) + answer)
        stdout.flush()


# -- parent ------------------------------------------------------------------------------------


def _reap(popen: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin (it exits on EOF), then wait; kill it if it does not go."""
    for stream in (popen.stdin, popen.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        popen.wait(5)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


class _Child:
    """The pipes to one verifier child, driven by the event loop (no threads, no tasks)."""

    def __init__(self, spec: bytes, loop: asyncio.AbstractEventLoop,
                 on_answer: Callable[[int, bytes], None], on_gone: Callable[[_Child], None]
                 ) -> None:
        self.loop = loop
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", _MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self._in = self.popen.stdin.fileno()
        self._out = self.popen.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self._on_answer = on_answer
        self._on_gone = on_gone
        self._unsent = bytearray()
        self._received = bytearray()
        self.ready = False
        self.closed = False
        # Reaped even if nobody calls close() (a test's event loop simply ending).
        self._finalizer = weakref.finalize(self, _reap, self.popen)
        loop.add_reader(self._out, self._readable)
        self.send(struct.pack("!I", len(spec)) + spec)

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the child; ConnectionError if its stdin is closed."""
        if self.closed:
            raise ConnectionError("verifier child closed")
        if self._unsent:
            self._unsent += data
            return
        try:
            written = os.write(self._in, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:  # BrokenPipeError: the child is gone
            self._gone()
            raise ConnectionError("verifier child gone") from exc
        if written < len(data):
            self._unsent += data[written:]
            self.loop.add_writer(self._in, self._writable)

    def _writable(self) -> None:
        try:
            written = os.write(self._in, self._unsent)
        except BlockingIOError:
            return
        except OSError:
            self._gone()
            return
        del self._unsent[:written]
        if not self._unsent:
            self.loop.remove_writer(self._in)

    def _readable(self) -> None:
        try:
            data = os.read(self._out, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._gone()
            return
        buf = self._received
        buf += data
        while len(buf) >= _ANSWER.size:
            answer_id, length = _ANSWER.unpack_from(buf)
            if len(buf) < _ANSWER.size + length:
                break
            payload = bytes(buf[_ANSWER.size:_ANSWER.size + length])
            del buf[:_ANSWER.size + length]
            if answer_id == _READY:
                self.ready = True
            else:
                self._on_answer(answer_id, payload)

    def _detach(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self._out)
            self.loop.remove_writer(self._in)

    def _gone(self) -> None:
        if not self.closed:
            self._detach()
            self._on_gone(self)

    def close(self) -> None:
        """Stop the child: stdin closed (it exits), waited for, killed after 5 s."""
        self._detach()
        self._finalizer()

    def kill(self) -> None:
        """Stop a child that no longer answers, at once (no waiting on the event loop)."""
        self._detach()
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        self._finalizer()


class VerifierProcess:
    """One verifier child of this process; ``verify`` falls back to inline when it is not up."""

    def __init__(self, trust: TrustConfig) -> None:
        self._trust = trust  # the inline fallback, and the child's configuration
        self._spec = pickle.dumps(verifier_spec(trust), protocol=pickle.HIGHEST_PROTOCOL)
        self._child: _Child | None = None
        self._started_at = -_RESTART_AFTER_S
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._next_id = _READY
        self._certificates: dict[bytes, x509.Certificate] = {}
        self.inline_count = 0  # requests verified in this process (start-up, child gone)
        self.timeout_s = 10.0  # a child silent this long is replaced

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before it started or after it ended)."""
        child = self._child
        return child.popen.pid if child is not None and not child.closed else None

    @property
    def ready(self) -> bool:
        child = self._child
        return child is not None and child.ready and not child.closed

    def start(self) -> None:
        """Start the child now (the node's lifespan); needs a running event loop."""
        self._ensure_started(asyncio.get_running_loop())

    def _ensure_started(self, loop: asyncio.AbstractEventLoop) -> None:
        child = self._child
        if child is not None and not child.closed and child.loop is loop:
            return
        now = time.monotonic()
        if now - self._started_at < _RESTART_AFTER_S:
            return  # a child that keeps dying is not restarted in a tight loop
        if child is not None:
            child.close()
        self._started_at = now
        try:
            self._child = _Child(self._spec, loop, self._on_answer, self._on_gone)
        except OSError:
            log.exception("XUA verifier process could not start; verifying inline")
            self._child = None
            return
        log.info("XUA verifier process started", extra={"pid": self._child.popen.pid})

    async def verify(self, headers: Sequence[etree._Element], now: dt.datetime
                     ) -> VerifiedAssertion:
        """``verify_headers`` on the header blocks of a parsed envelope, in the child.

        Raises:
            SecurityHeaderError: as ``verify_headers`` (the same check refused it).
        """
        loop = asyncio.get_running_loop()
        child = self._child
        if (not headers or child is None or not child.ready or child.closed
                or child.loop is not loop):
            if headers:
                self._ensure_started(loop)
            return self._inline(headers, now)
        # The whole envelope: the XSW checks look for duplicate assertions and IDs in it.
        payload = etree.tostring(headers[0].getroottree().getroot())
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[bytes] = loop.create_future()
        self._pending[request_id] = future
        try:
            child.send(_REQUEST.pack(request_id, now.timestamp(), len(payload)) + payload)
            answer = await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            # A child that stopped answering is replaced; its requests are verified here.
            log.warning("XUA verifier process did not answer: restarting it")
            self._pending.pop(request_id, None)
            self._on_gone(child)
            return self._inline(headers, now)
        except (ConnectionError, _ChildGoneError):
            self._pending.pop(request_id, None)
            return self._inline(headers, now)
        verdict = pickle.loads(answer)  # noqa: S301 - written by our own child process
        if verdict[0] == "error":
            # Not a verdict on the assertion (e.g. the child's parser limits): decide here,
            # on the tree this process parsed, so the outcome is always the inline one.
            log.warning("XUA verifier process failed on a request: verified inline",
                        extra={"error": verdict[1]})
            return self._inline(headers, now)
        return self._answer(verdict)

    def _inline(self, headers: Sequence[etree._Element], now: dt.datetime) -> VerifiedAssertion:
        self.inline_count += 1
        return verify_headers(headers, trust=self._trust, now=now)

    def _answer(self, verdict: tuple[Any, ...]) -> VerifiedAssertion:
        if verdict[0] == "ok":
            _, values, der = verdict
            cert = self._certificates.get(der)
            if cert is None:
                if len(self._certificates) >= 256:
                    self._certificates.clear()
                cert = self._certificates[der] = x509.load_der_x509_certificate(der)
            return verified_copy(values, cert)
        raise SecurityHeaderError(verdict[1], fault=WsSecurityFault(verdict[2]))  # "refused"

    def _on_answer(self, request_id: int, payload: bytes) -> None:
        future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(payload)

    def _on_gone(self, child: _Child) -> None:
        """The child ended or stopped answering: drop it (killed, so nothing waits on the
        loop) and send what it held back to be verified inline."""
        if self._child is child:
            self._child = None
            log.warning("XUA verifier process ended; verifying inline until it is back")
        child.kill()
        self._fail_pending()

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(_ChildGoneError())

    async def aclose(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            self._fail_pending()  # requests in flight are verified inline, not left waiting
            await asyncio.to_thread(child.close)


class _ChildGoneError(Exception):
    """The verifier child ended with this request in flight: verify it inline instead."""


if __name__ == "__main__":
    try:
        sys.exit(child_main(sys.stdin.buffer, sys.stdout.buffer))
    except (BrokenPipeError, KeyboardInterrupt):  # the parent went away first
        sys.exit(0)
