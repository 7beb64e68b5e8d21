"""RFC 5424 message and RFC 5425 framing: what an audit repository parses."""

from __future__ import annotations

import datetime as dt

import pytest

from imx.audit.syslog import (
    BOM,
    FrameTooLargeError,
    OctetCountingDecoder,
    build_header,
    build_message,
    encode_frame,
    parse_message,
)

XML = '<?xml version="1.0" encoding="UTF-8"?><AuditMessage>é</AuditMessage>'.encode()


def _message(seq: int | None = 7) -> bytes:
    header = build_header(timestamp=dt.datetime(2026, 3, 1, 13, 0, 1, 5000,
                                                tzinfo=dt.timezone(dt.timedelta(hours=1))),
                          hostname="gw-1.example.org", app_name="imx", procid="4242")
    return build_message(header, XML, sequence_id=seq)


def test_atna_header_fields() -> None:
    # PRI 85 = authpriv(10)*8 + notice(5); version 1; UTC timestamp; MSGID IHE+RFC-3881
    assert _message().startswith(
        b'<85>1 2026-03-01T12:00:01.005Z gw-1.example.org imx 4242 IHE+RFC-3881 '
        b'[meta sequenceId="7"] ' + BOM + b"<?xml")


def test_round_trip_through_a_parser() -> None:
    parsed = parse_message(_message())
    assert (parsed.pri, parsed.msgid, parsed.app_name, parsed.hostname) == (
        85, "IHE+RFC-3881", "imx", "gw-1.example.org")
    assert parsed.sequence_id == 7
    assert parsed.msg == XML  # BOM removed, UTF-8 kept


def test_header_fields_are_printable_ascii_and_never_empty() -> None:
    header = build_header(timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                          hostname="", app_name="my app\n", procid="")
    assert header == "<85>1 2026-01-01T00:00:00.000Z - my_app_ - IHE+RFC-3881"
    assert parse_message(build_message(header, XML, sequence_id=None)).structured_data == "-"


def test_sequence_id_wraps_within_rfc_range() -> None:
    assert parse_message(_message(2147483647)).sequence_id == 2147483647
    assert parse_message(_message(2147483648)).sequence_id == 1


def test_octet_counting_frames_count_bytes_not_characters() -> None:
    msg = _message()
    assert encode_frame(msg) == str(len(msg)).encode() + b" " + msg
    assert len(msg) != len(msg.decode())  # é and the BOM are multi-byte


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_decoder_whole_and_byte_by_byte(chunk: int | None) -> None:
    messages = [_message(n) for n in range(1, 4)]
    stream = b"".join(encode_frame(m) for m in messages)
    decoder = OctetCountingDecoder()
    out: list[bytes] = []
    step = chunk or len(stream)
    for i in range(0, len(stream), step):
        out += decoder.feed(stream[i:i + step])
    assert out == messages


@pytest.mark.parametrize("bad", [b"abc def", b"0 x", b"123456789012345", b"99999999 x"])
def test_decoder_refuses_bad_or_huge_lengths(bad: bytes) -> None:
    with pytest.raises(FrameTooLargeError):
        OctetCountingDecoder(max_message_bytes=1000).feed(bad)
