"""Builds the ATNA pipeline (encoding sink + shipper) from settings; used by ``imx.runtime``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import ssl
from dataclasses import dataclass, field
from typing import Protocol

from imx.audit.message import AuditSource
from imx.audit.shipper import AuditOutbox, SyslogShipper
from imx.audit.sink import AtnaAuditSink, AuditJournal
from imx.model.audit import AuditRecord
from imx.settings import Settings

__all__ = ["AtnaPipeline", "AuditStore", "audit_source", "build_atna"]


class AuditStore(AuditJournal, AuditOutbox, Protocol):
    """What the pipeline needs from storage: ``imx.storage.sql_audit.SqlAuditSink``."""


def audit_source(settings: Settings) -> AuditSource:
    node = settings.node
    return AuditSource(source_id=node.name, enterprise_site_id=node.home_community_id,
                       user_id=node.base_url)


@dataclass(kw_only=True)
class AtnaPipeline:
    """The node's AuditSink (store + enqueue) and the one task that empties the outbox."""

    sink: AtnaAuditSink
    shipper: SyslogShipper
    source_id: str
    flush_timeout_s: float = 2.0
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.shipper.run(), name="atna-shipper")
        await self.sink.record(self._activity("application-start"))

    async def stop(self) -> None:
        """Record the stop, give the repository a moment to take what is queued, stop.

        Whatever is not acknowledged by then stays in the outbox for the next start.
        """
        await self.sink.record(self._activity("application-stop"))
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.flush_timeout_s):
                await self.shipper.wait_idle()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def _activity(self, event: str) -> AuditRecord:
        # PS3.15 A.5.3.1 Application Activity (ITI TF-2 3.20.7: node start and stop)
        return AuditRecord(event=event, outcome="success", occurred_at=_now(),
                           source=self.source_id, transaction="")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_atna(settings: Settings, store: AuditStore, ssl_context: ssl.SSLContext,
               ) -> AtnaPipeline:
    """The node's AuditSink (store + enqueue) and the task that empties the outbox."""
    audit = settings.audit
    shipper = SyslogShipper(
        store, host=audit.repository_host, port=audit.repository_port,
        ssl_context=ssl_context, server_hostname=audit.server_name,
        batch_size=audit.batch_size, initial_backoff_s=audit.initial_backoff_s,
        max_backoff_s=audit.max_backoff_s, connect_timeout_s=audit.connect_timeout_s,
        ack_timeout_s=audit.ack_timeout_s, poll_interval_s=audit.poll_interval_s,
        settle_s=audit.settle_s)
    sink = AtnaAuditSink(store, source=audit_source(settings), hostname=socket.gethostname(),
                         app_name=audit.app_name, procid=str(os.getpid()),
                         on_enqueued=shipper.notify)
    return AtnaPipeline(sink=sink, shipper=shipper, source_id=settings.node.name,
                        flush_timeout_s=audit.settle_s + 1.0)
