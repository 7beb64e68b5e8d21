"""Ships the ATNA outbox to the audit repository: RFC 5425 syslog over mutual TLS.

One background task (``run``). Messages leave in outbox order, in batches on one kept-open
connection. A batch counts as delivered in two steps: the repository's TCP stack has
acknowledged every byte (Linux ``SIOCOUTQ`` reaches 0 on a connection still open; elsewhere,
the TLS buffer is flushed), and then the connection survived ``settle_s`` without a reset or
was closed cleanly (FIN: the repository read everything). Syslog has no application-level
acknowledgement; a peer that dies with our bytes unread in its socket buffer answers with a
reset, and that reset within the settle window sends everything unsettled again. Failures
(refused connection, TLS failure, reset) leave messages pending; the next attempt waits with
exponential back-off. Delivery is at-least-once: resent copies carry the same
``[meta sequenceId]`` (RFC 5424 7.3.1), which a repository can use to drop them
(docs/audit.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import sys
from collections.abc import Sequence
from typing import Protocol

from imx.audit.syslog import build_message, encode_frame
from imx.errors import StoreError

__all__ = ["AuditOutbox", "DeliveryError", "SyslogShipper"]

log = logging.getLogger(__name__)


class AuditOutbox(Protocol):
    async def pending(self, *, limit: int, after: int = 0) -> list[tuple[int, str, bytes]]:
        """Oldest unsent first, sequence > ``after``: (sequence, RFC 5424 header, audit XML)."""
        ...

    async def mark_sent(self, sequences: Sequence[int]) -> None: ...

    async def note_failure(self, sequences: Sequence[int], error: str) -> None: ...


class DeliveryError(Exception):
    """The repository did not acknowledge a batch (connection lost, closed or timed out)."""


# Linux TCP states (include/net/tcp_states.h): the peer may have acknowledged our bytes in
# ESTABLISHED, or in CLOSE_WAIT (it sent FIN after reading); a reset leaves CLOSE (7).
_TCP_ACKED_STATES = frozenset({1, 8})


def _delivery_state(writer: asyncio.StreamWriter) -> str:
    """``acked`` | ``pending`` | ``broken`` | ``unknown`` (not Linux: drain is all we know).

    SIOCOUTQ counts bytes not yet acknowledged by the peer's TCP; a reset empties that queue
    too, so the connection state (TCP_INFO) tells an acknowledgement from a reset.
    """
    sock = writer.get_extra_info("socket")
    if sock is None or not sys.platform.startswith("linux"):
        return "unknown"
    import fcntl  # POSIX only: imported where it is used, on Linux
    import termios

    fd = sock.fileno()
    if fd < 0:
        return "broken"
    try:
        unacked = struct.unpack("i", fcntl.ioctl(fd, termios.TIOCOUTQ, struct.pack("i", 0)))[0]
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return "broken"
    if state not in _TCP_ACKED_STATES:
        return "broken"
    return "acked" if unacked == 0 else "pending"


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.closed_cleanly = False  # the repository read everything and closed (EOF)
        # A syslog receiver never writes; reading only tells us when it closes or resets.
        self._watch = asyncio.create_task(self._watch_eof())

    async def _watch_eof(self) -> None:
        try:
            while await self.reader.read(4096):
                pass
        except (OSError, ssl.SSLError):
            return  # reset: whatever is not settled was maybe never read
        self.closed_cleanly = True

    @property
    def is_open(self) -> bool:
        return not self._watch.done() and not self.writer.is_closing()

    async def close(self) -> None:
        self._watch.cancel()
        self.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()


class SyslogShipper:
    """Send pending audit messages to ``host:port`` until cancelled."""

    def __init__(self, outbox: AuditOutbox, *, host: str, port: int,
                 ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                 batch_size: int = 100, initial_backoff_s: float = 1.0,
                 max_backoff_s: float = 300.0, connect_timeout_s: float = 10.0,
                 ack_timeout_s: float = 30.0, poll_interval_s: float = 5.0,
                 settle_s: float = 1.0) -> None:
        self._outbox = outbox
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._server_hostname = server_hostname or host
        self._batch = max(1, batch_size)
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._connect_timeout_s = connect_timeout_s
        self._ack_timeout_s = ack_timeout_s
        self._poll_interval_s = poll_interval_s
        self._settle_s = settle_s
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._conn: _Connection | None = None
        self._cursor = 0  # the last sequence written on the current connection
        self._unsettled: list[tuple[int, float]] = []  # (sequence, loop time acknowledged)
        self.sent = 0  # messages settled since start (for status and tests)

    def notify(self) -> None:
        """A message was enqueued: ship it without waiting for the poll interval."""
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once every queued message was seen settled after the last ``notify``."""
        await self._idle.wait()

    async def run(self) -> None:
        failures = 0
        try:
            while True:
                try:
                    await self._settle()
                    shipped = await self._ship_once()
                except (OSError, TimeoutError, DeliveryError, StoreError) as exc:
                    failures += 1
                    delay = min(self._max_backoff_s, self._initial_backoff_s * 2 ** (failures - 1))
                    log.warning("audit repository unreachable; retrying",
                                extra={"host": self._host, "port": self._port,
                                       "error": type(exc).__name__, "retry_in_s": delay})
                    await self._restart_from_oldest()
                    await self._sleep_or_wake(delay, wakeable=False)
                    continue
                if failures:
                    log.info("audit repository reachable again", extra={"host": self._host})
                failures = 0
                if shipped:
                    continue
                if self._unsettled:
                    due = self._unsettled[0][1] + self._settle_s - _loop_time()
                    await self._sleep_or_wake(max(0.0, min(due, self._poll_interval_s)),
                                              wakeable=True)
                else:
                    self._idle.set()
                    await self._sleep_or_wake(self._poll_interval_s, wakeable=True)
        finally:
            await self._drop_connection()

    async def _sleep_or_wake(self, delay: float, *, wakeable: bool) -> None:
        if not wakeable:
            await asyncio.sleep(delay)
            return
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the event is set (the node stopping right after a last record).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
        self._wake.clear()

    async def _restart_from_oldest(self) -> None:
        # Nothing unsettled counts as delivered: the next attempt starts at the oldest unsent.
        await self._drop_connection()
        self._unsettled.clear()
        self._cursor = 0

    async def _settle(self) -> None:
        """Mark sent what survived the settle window; raise if the connection was reset."""
        if not self._unsettled:
            return
        conn = self._conn
        if conn is None or (not conn.is_open and not conn.closed_cleanly):
            raise DeliveryError("connection reset with messages unsettled")
        if conn.closed_cleanly:
            ready = len(self._unsettled)
        else:
            limit = _loop_time() - self._settle_s
            ready = sum(1 for _, at in self._unsettled if at <= limit)
        if ready:
            await self._outbox.mark_sent([seq for seq, _ in self._unsettled[:ready]])
            del self._unsettled[:ready]
            self.sent += ready

    async def _ship_once(self) -> int:
        """Write one batch and wait for its TCP acknowledgement; 0 when nothing is pending."""
        batch = await self._outbox.pending(limit=self._batch, after=self._cursor)
        if not batch:
            return 0
        sequences = [seq for seq, _, _ in batch]
        data = b"".join(encode_frame(build_message(header, body, sequence_id=seq))
                        for seq, header, body in batch)
        try:
            await self._deliver(data)
        except (OSError, TimeoutError, DeliveryError) as exc:
            with contextlib.suppress(StoreError):
                await self._outbox.note_failure(sequences, type(exc).__name__)
            raise
        self._cursor = sequences[-1]
        acknowledged_at = _loop_time()
        self._unsettled.extend((seq, acknowledged_at) for seq in sequences)
        return len(batch)

    async def _connect(self) -> _Connection:
        if self._conn is not None and self._conn.is_open:
            return self._conn
        if self._unsettled:  # closed by the peer before they settled: send them again
            raise DeliveryError("connection closed with messages unsettled")
        await self._drop_connection()
        async with asyncio.timeout(self._connect_timeout_s):
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._ssl, server_hostname=self._server_hostname)
        self._conn = _Connection(reader, writer)
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def _deliver(self, data: bytes) -> None:
        conn = await self._connect()
        conn.writer.write(data)
        async with asyncio.timeout(self._ack_timeout_s):
            await conn.writer.drain()
            await self._acknowledged(conn)

    async def _acknowledged(self, conn: _Connection) -> None:
        delay = 0.001
        while True:
            await asyncio.sleep(delay)
            state = _delivery_state(conn.writer)
            if state == "broken" or not conn.is_open:
                raise DeliveryError("connection lost before acknowledgement")
            if state != "pending":
                return
            delay = min(0.05, delay * 2)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
