"""RFC 5424 syslog messages and RFC 5425 octet-counted framing, pure (no sockets).

ATNA (IHE ITI TF-2 3.20.6.1, SPEC-NOTES §6.3): facility 10 (authpriv), severity 5 (notice),
so PRI 85; MSGID ``IHE+RFC-3881``; the MSG is the UTF-8 audit XML with a BOM (RFC 5424 6.4
MSG-UTF8). The header is built once when a record is enqueued (its TIMESTAMP is when the
message was made); the ``[meta sequenceId]`` element (RFC 5424 7.3.1) is added when it is
sent, from the outbox position, so that a receiver can drop the duplicates at-least-once
delivery may produce.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ATNA_MSGID",
    "BOM",
    "FrameTooLargeError",
    "OctetCountingDecoder",
    "SyslogMessage",
    "build_header",
    "build_message",
    "encode_frame",
    "parse_message",
]

ATNA_MSGID: Final = "IHE+RFC-3881"
AUTHPRIV: Final = 10
NOTICE: Final = 5
BOM: Final = b"\xef\xbb\xbf"
NILVALUE: Final = "-"
_MAX_SEQUENCE: Final = 2147483647  # RFC 5424 7.3.1: 1..2147483647, then wraps to 1
_NON_PRINTABLE = re.compile(r"[^\x21-\x7e]")  # RFC 5424 6: PRINTUSASCII %d33-126


def _field(value: str, max_len: int) -> str:
    cleaned = _NON_PRINTABLE.sub("_", value)[:max_len]
    return cleaned or NILVALUE


def _timestamp(value: dt.datetime) -> str:
    # RFC 5424 6.2.3: full-date "T" full-time with at most 6 fraction digits, Z for UTC
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def build_header(*, timestamp: dt.datetime, hostname: str, app_name: str, procid: str = "",
                 msgid: str = ATNA_MSGID, facility: int = AUTHPRIV, severity: int = NOTICE) -> str:
    """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID`` (RFC 5424 6.2)."""
    pri = facility * 8 + severity
    return " ".join((f"<{pri}>1", _timestamp(timestamp), _field(hostname, 255),
                     _field(app_name, 48), _field(procid, 128), _field(msgid, 32)))


def build_message(header: str, xml: bytes, *, sequence_id: int | None = None) -> bytes:
    """HEADER SP STRUCTURED-DATA SP BOM MSG (RFC 5424 6); XML must be UTF-8."""
    if sequence_id is None:
        sd = NILVALUE
    else:
        sd = f'[meta sequenceId="{(sequence_id - 1) % _MAX_SEQUENCE + 1}"]'
    body = xml if xml.startswith(BOM) else BOM + xml
    return f"{header} {sd} ".encode("ascii") + body


def encode_frame(message: bytes) -> bytes:
    """RFC 5425 4.3 octet-counting: ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(message)).encode("ascii") + b" " + message


class FrameTooLargeError(ValueError):
    """A frame announced more octets than the decoder accepts (RFC 5425 4.3.1)."""


class OctetCountingDecoder:
    """Incremental RFC 5425 frame reader: ``feed`` bytes as they arrive, get whole messages."""

    def __init__(self, *, max_message_bytes: int = 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._max = max_message_bytes

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            space = self._buffer.find(b" ", 0, 12)
            if space < 0:
                if len(self._buffer) >= 12 or (self._buffer and not self._buffer.isdigit()):
                    raise FrameTooLargeError("bad MSG-LEN")
                return out
            digits = bytes(self._buffer[:space])
            if not digits.isdigit() or digits.startswith(b"0"):
                raise FrameTooLargeError("bad MSG-LEN")
            length = int(digits)
            if length > self._max:
                raise FrameTooLargeError(f"frame of {length} octets")
            end = space + 1 + length
            if len(self._buffer) < end:
                return out
            out.append(bytes(self._buffer[space + 1 : end]))
            del self._buffer[:end]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyslogMessage:
    pri: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: str
    msg: bytes  # without the BOM

    @property
    def sequence_id(self) -> int | None:
        found = re.search(r'\[meta [^]]*sequenceId="(\d+)"', self.structured_data)
        return int(found.group(1)) if found else None


_HEADER = re.compile(
    rb"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^]\\]|\\.)*\])+)(?: |$)"
)


def parse_message(data: bytes) -> SyslogMessage:
    """Parse one RFC 5424 message (what a test receiver or an audit repository does)."""
    found = _HEADER.match(data)
    if found is None:
        raise ValueError("not an RFC 5424 message")
    msg = data[found.end():]
    return SyslogMessage(
        pri=int(found.group(1)), timestamp=found.group(2).decode(),
        hostname=found.group(3).decode(), app_name=found.group(4).decode(),
        procid=found.group(5).decode(), msgid=found.group(6).decode(),
        structured_data=found.group(7).decode(), msg=msg.removeprefix(BOM))
