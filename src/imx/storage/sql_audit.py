"""``AuditSink`` that keeps audit records in the node's database (queried by CLI/API)."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from imx.errors import StoreError
from imx.model.audit import AuditRecord
from imx.storage import schema
from imx.storage.codec import audit_from_json, audit_to_json
from imx.storage.sql_store import SqlMetadataStore

__all__ = ["SqlAuditSink"]

log = logging.getLogger(__name__)
A = schema.audit_events


class SqlAuditSink:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._engine = store.engine
        self._store = store

    async def record(self, record: AuditRecord) -> None:
        stmt = A.insert().values(
            occurred_at=record.occurred_at,
            event=record.event,
            outcome=record.outcome,
            source=record.source[:200],
            transaction=record.transaction[:40],
            payload=audit_to_json(record),
        )
        try:
            await self._store.write(lambda conn: conn.execute(stmt))
        except StoreError:
            # An audit write failure must not fail the transaction being audited; it is
            # logged loudly (the trust issue adds a buffered, retried syslog sink).
            log.exception("audit record could not be stored", extra={"event": record.event})

    async def list_events(
        self, *, limit: int = 100, offset: int = 0, event: str | None = None
    ) -> list[AuditRecord]:
        stmt = sa.select(A.c.payload).order_by(A.c.pk.desc()).limit(limit).offset(offset)
        if event is not None:
            stmt = stmt.where(A.c.event == event)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).scalars().all()
        return [audit_from_json(r) for r in rows]
