"""MLLP listener (HL7 v2.5 Appendix C / MLLP release 2): <VT> message <FS><CR>, one ACK each."""

from __future__ import annotations

import asyncio
import logging

from imx.errors import GatewayError, MissingParameterError
from imx.services.patient_feed import PatientFeedService
from imx.transactions.iti8_patient_identity_feed.message import build_ack, parse_adt
from imx.ports import Clock

__all__ = ["MllpServer"]

log = logging.getLogger(__name__)
START, END = b"\x0b", b"\x1c\x0d"
MAX_MESSAGE_BYTES = 1 << 20


class MllpServer:
    def __init__(self, feed: PatientFeedService, clock: Clock, *, host: str, port: int,
                 encoding: str = "utf-8") -> None:
        self._feed = feed
        self._clock = clock
        self._host, self._port = host, port
        self._encoding = encoding
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, self._host, self._port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = f"mllp:{peer[0]}" if peer else "mllp"
        try:
            while True:
                try:
                    await reader.readuntil(START)
                    frame = await reader.readuntil(END)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                if len(frame) > MAX_MESSAGE_BYTES:
                    return
                text = frame[: -len(END)].decode(self._encoding, errors="replace")
                writer.write(START + (await self._handle(text, source)).encode(self._encoding) + END)
                await writer.drain()
        finally:
            writer.close()

    async def _handle(self, text: str, source: str) -> str:
        now = self._clock.now()
        try:
            event = parse_adt(text)
            await self._feed.apply(event, source=source)
            return build_ack(text, code="AA", now=now)
        except MissingParameterError as exc:
            return build_ack(text, code="AE", text=exc.detail, now=now)  # HL7 v2.5 2.9.2
        except GatewayError as exc:
            return build_ack(text, code="AR", text=exc.detail, now=now)
        except Exception:  # noqa: BLE001 - the edge answers every message
            log.exception("ADT message failed")
            return build_ack(text, code="AE", text="internal error", now=now)
