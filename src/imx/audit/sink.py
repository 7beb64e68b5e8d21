"""The node's ``AuditSink`` when ATNA shipping is on: store + enqueue, in one transaction.

The journal (``imx.storage.sql_audit.SqlAuditSink``) writes the record and the syslog message
together, so a record in the node's trail is never missing from the repository's (and the
other way round). Encoding happens here, before the write; a record that cannot be encoded
(a bug) is still stored, and the failure logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from lxml import etree

from imx.audit.message import AuditSource, build_audit_message
from imx.audit.syslog import build_header
from imx.errors import StoreError
from imx.model.audit import AuditRecord

__all__ = ["AtnaAuditSink", "AuditJournal"]

log = logging.getLogger(__name__)


class AuditJournal(Protocol):
    async def append(self, record: AuditRecord, *, syslog_header: str | None = None,
                     syslog_body: bytes | None = None) -> int:
        """Store the record and queue the message in one transaction; StoreError if not."""
        ...


class AtnaAuditSink:
    """Encode each record as a DICOM audit message and hand both to the journal."""

    def __init__(self, journal: AuditJournal, *, source: AuditSource, hostname: str,
                 app_name: str = "imx", procid: str = "",
                 on_enqueued: Callable[[], None] | None = None) -> None:
        self._journal = journal
        self._source = source
        self._hostname = hostname
        self._app_name = app_name
        self._procid = procid
        self._on_enqueued = on_enqueued

    def encode(self, record: AuditRecord) -> tuple[str, bytes]:
        """(RFC 5424 header, audit XML) for one record; pure apart from the clock-free header."""
        xml = etree.tostring(build_audit_message(record, source=self._source),
                             encoding="UTF-8", xml_declaration=True)
        # RFC 5424 6.2.3: TIMESTAMP is when the message was made; the event time is used so
        # that a message queued while the repository was down keeps its original time.
        header = build_header(timestamp=record.occurred_at, hostname=self._hostname,
                              app_name=self._app_name, procid=self._procid)
        return header, xml

    async def record(self, record: AuditRecord) -> None:
        header: str | None = None
        body: bytes | None = None
        try:
            header, body = self.encode(record)
        except (ValueError, TypeError):
            log.exception("audit record could not be encoded for ATNA",
                          extra={"event": record.event, "transaction": record.transaction})
        try:
            await self._journal.append(record, syslog_header=header, syslog_body=body)
        except StoreError:
            # AuditSink contract: never fail the audited transaction; this is logged loudly.
            log.exception("audit record could not be stored", extra={"event": record.event})
            return
        if body is not None and self._on_enqueued is not None:
            self._on_enqueued()

    def __getattr__(self, name: str) -> object:
        # Reading the trail (list_events, list_entries) is the journal's: the node's audit
        # view, CLI and JSON API see one trail whether or not records are also shipped.
        if name in ("list_events", "list_entries"):
            return getattr(self._journal, name)
        raise AttributeError(name)
