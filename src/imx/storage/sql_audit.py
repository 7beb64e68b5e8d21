"""Audit records in the node's database, and the ATNA outbox beside them.

``append`` writes the record, its patient index rows and (when audit shipping is on) the
syslog message in ONE transaction: a record that is stored is also queued for the audit
repository, and the shipper (``imx.audit.shipper``) marks it sent only once the repository's
TCP stack acknowledged it (at-least-once, docs/audit.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from imx.errors import StoreError
from imx.model.audit import AuditRecord
from imx.storage import schema
from imx.storage.codec import audit_to_json
from imx.storage.sql_store import SqlMetadataStore

__all__ = ["SqlAuditSink"]

log = logging.getLogger(__name__)
A = schema.audit_events
P = schema.audit_event_patients
OUT = schema.audit_outbox
_FIELDS = {f.name for f in dataclasses.fields(AuditRecord)}


def _decode(payload: str) -> AuditRecord:
    # Tolerant of payloads written by older or newer versions: unknown keys are dropped,
    # JSON lists become the dataclass's tuples.
    data: dict[str, Any] = {k: v for k, v in json.loads(payload).items() if k in _FIELDS}
    data["occurred_at"] = dt.datetime.fromisoformat(data["occurred_at"]["$dt"])
    for key, value in data.items():
        if isinstance(value, list):
            data[key] = tuple(value)
    return AuditRecord(**data)


_INSERT_AUDIT = A.insert()


def _insert(conn: sa.Connection, record: AuditRecord, header: str | None, body: bytes | None,
            now: dt.datetime) -> int:
    # One constant statement with bound parameters: SQLAlchemy compiles it once (a new
    # ``.values(...)`` statement per record was re-keyed for the compile cache every time).
    inserted = conn.execute(_INSERT_AUDIT, {
        "occurred_at": record.occurred_at, "event": record.event[:80],
        "outcome": record.outcome[:20], "source": record.source[:200],
        "transaction": record.transaction[:40], "payload": audit_to_json(record),
    }).inserted_primary_key
    if inserted is None:
        raise StoreError("audit insert returned no key")
    pk = int(inserted[0])
    links = [{"audit_pk": pk, "patient_id": cx[:400], "id_value": cx.split("^", 1)[0][:200]}
             for cx in dict.fromkeys(record.patient_ids)]
    if links:
        conn.execute(P.insert(), links)
    if header is not None and body is not None:
        conn.execute(OUT.insert().values(audit_pk=pk, created_at=now, header=header[:600],
                                       body=body, attempts=0, last_error=""))
    return pk


_Pending = tuple[AuditRecord, "str | None", "bytes | None", dt.datetime, "asyncio.Future[int]"]


def _settle(done: asyncio.Future[int], *, result: int | None = None,
            exception: BaseException | None = None) -> None:
    if done.done():  # the caller was cancelled
        return
    if exception is not None:
        done.set_exception(exception)
    else:
        done.set_result(int(result or 0))


class SqlAuditSink:
    """``AuditSink`` over the metadata store's database; also the ATNA outbox."""

    def __init__(self, store: SqlMetadataStore) -> None:
        self._engine = store.engine
        self._store = store
        # Group commit: records that arrive while a write is in flight go into the next
        # transaction together (one commit for many concurrent requests). Each caller still
        # returns only after its record is committed, so nothing is acknowledged early.
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, record: AuditRecord) -> None:
        try:
            await self.append(record)
        except StoreError:
            # An audit write failure must not fail the transaction being audited: logged loudly.
            log.exception("audit record could not be stored", extra={"event": record.event})

    async def append(self, record: AuditRecord, *, syslog_header: str | None = None,
                     syslog_body: bytes | None = None) -> int:
        """Store ``record`` and, if given, queue its syslog message; one transaction.

        Raises:
            StoreError: nothing was written.
        """
        now = dt.datetime.now(dt.UTC)
        loop = asyncio.get_running_loop()
        flusher = self._flusher
        if flusher is not None and not flusher.done() and flusher.get_loop() is not loop:
            # another event loop is flushing (a CLI beside a server thread): write alone
            return await self._store.write(
                lambda conn: _insert(conn, record, syslog_header, syslog_body, now))
        done: asyncio.Future[int] = loop.create_future()
        self._pending.append((record, syslog_header, syslog_body, now, done))
        if flusher is None or flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                pks = await self._store.write(
                    lambda conn, batch=batch: [_insert(conn, r, h, b, n)
                                               for r, h, b, n, _ in batch])
            except StoreError as exc:
                if len(batch) == 1:
                    _settle(batch[0][4], exception=exc)
                    continue
                # one bad record must not cost the others theirs: write them one by one
                for r, h, b, n, done in batch:
                    try:
                        pk = await self._store.write(
                            lambda conn, r=r, h=h, b=b, n=n: _insert(conn, r, h, b, n))
                    except StoreError as one:
                        _settle(done, exception=one)
                    else:
                        _settle(done, result=pk)
                continue
            for pk, (*_, done) in zip(pks, batch, strict=True):
                _settle(done, result=pk)

    # -- queries --------------------------------------------------------------------------

    async def list_entries(
        self, *, limit: int = 100, offset: int = 0, event: str | None = None,
        patient_id: str | None = None, since: dt.datetime | None = None,
    ) -> list[tuple[int, AuditRecord]]:
        """(pk, record) newest first; ``patient_id`` matches the whole CX or its ID alone."""
        stmt = sa.select(A.c.pk, A.c.payload).order_by(A.c.pk.desc()).limit(limit).offset(offset)
        if event is not None:
            stmt = stmt.where(A.c.event == event)
        if since is not None:
            stmt = stmt.where(A.c.occurred_at >= since)
        if patient_id is not None:
            match = sa.select(P.c.audit_pk).where(
                sa.or_(P.c.patient_id == patient_id, P.c.id_value == patient_id))
            stmt = stmt.where(A.c.pk.in_(match))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(int(pk), _decode(payload)) for pk, payload in rows]

    async def list_events(
        self, *, limit: int = 100, offset: int = 0, event: str | None = None,
        patient_id: str | None = None, since: dt.datetime | None = None,
    ) -> list[AuditRecord]:
        entries = await self.list_entries(limit=limit, offset=offset, event=event,
                                          patient_id=patient_id, since=since)
        return [record for _, record in entries]

    # -- the outbox (imx.audit.shipper.AuditOutbox) ----------------------------------------

    async def pending(self, *, limit: int, after: int = 0) -> list[tuple[int, str, bytes]]:
        """The oldest unsent messages past ``after``, in enqueue order: (sequence, header, body)."""
        stmt = (sa.select(OUT.c.pk, OUT.c.header, OUT.c.body)
                .where(OUT.c.sent_at.is_(None), OUT.c.pk > after)
                .order_by(OUT.c.pk).limit(limit))
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError("audit outbox read failed") from exc
        return [(int(pk), header, bytes(body)) for pk, header, body in rows]

    async def pending_count(self) -> int:
        stmt = sa.select(sa.func.count()).select_from(OUT).where(OUT.c.sent_at.is_(None))
        async with self._engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar() or 0)

    async def mark_sent(self, sequences: Sequence[int]) -> None:
        now = dt.datetime.now(dt.UTC)
        # The record stays in audit_events; the delivered copy is dropped, its time kept.
        stmt = OUT.update().where(OUT.c.pk.in_(list(sequences))).values(sent_at=now, body=b"")
        await self._store.write(lambda conn: conn.execute(stmt))

    async def note_failure(self, sequences: Sequence[int], error: str) -> None:
        stmt = (OUT.update().where(OUT.c.pk.in_(list(sequences)))
                .values(attempts=OUT.c.attempts + 1, last_error=error[:200]))
        await self._store.write(lambda conn: conn.execute(stmt))
