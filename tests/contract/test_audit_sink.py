"""One contract for the audit sinks that can be listed: recording fake, SQL (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from imx.model.audit import AuditRecord
from imx.storage.sql_audit import SqlAuditSink
from tests.fakes import RecordingAuditSink


@pytest.fixture
async def sink(store: object) -> AsyncIterator[object]:
    # `store` is parametrized in conftest: memory / sqlite / postgres.
    yield (
        RecordingAuditSink() if type(store).__name__.startswith("InMemory") else SqlAuditSink(store)
    )  # type: ignore[arg-type]


def _rec(n: int, event: str = "query") -> AuditRecord:
    return AuditRecord(
        event=event,
        outcome="success",
        source=f"AE{n}",
        transaction="ITI-38",
        occurred_at=dt.datetime(2026, 3, 1, 12, n, tzinfo=dt.UTC),
        patient_ids=(f"P{n}^^^&1.2.3&ISO",),
        study_instance_uids=("1.2.3",),
        detail="d",
        extra={"k": str(n)},
    )


async def test_list_events_newest_first_with_paging_and_filter(sink) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        await sink.record(_rec(n, event="query" if n % 2 else "retrieve"))
    every = await sink.list_events(limit=10)
    assert [r.source for r in every] == ["AE4", "AE3", "AE2", "AE1", "AE0"]
    assert every[0] == _rec(4, event="retrieve")  # round-trips every field, tz-aware
    assert every[0].occurred_at.tzinfo is not None
    assert [r.source for r in await sink.list_events(limit=2, offset=1)] == ["AE3", "AE2"]
    assert [r.source for r in await sink.list_events(event="query")] == ["AE3", "AE1"]
    assert await sink.list_events(event="nothing") == []


async def test_sql_filters_by_patient_and_time_and_keeps_outbox(sink) -> None:  # type: ignore[no-untyped-def]
    if not isinstance(sink, SqlAuditSink):
        pytest.skip("the outbox and patient index belong to the SQL sink")
    for n in range(4):
        await sink.append(_rec(n), syslog_header=f"<85>1 h{n}", syslog_body=b"<AuditMessage/>")
    await sink.record(_rec(9))  # stored without a message (ATNA off)
    assert [r.source for r in await sink.list_events(patient_id="P2")] == ["AE2"]
    assert [r.source for r in await sink.list_events(patient_id="P1^^^&1.2.3&ISO")] == ["AE1"]
    since = dt.datetime(2026, 3, 1, 12, 3, tzinfo=dt.UTC)
    assert [r.source for r in await sink.list_events(since=since)] == ["AE9", "AE3"]
    pending = await sink.pending(limit=3)
    assert [h for _, h, _ in pending] == ["<85>1 h0", "<85>1 h1", "<85>1 h2"]
    await sink.mark_sent([s for s, _, _ in pending[:2]])
    assert [h for _, h, _ in await sink.pending(limit=10)] == ["<85>1 h2", "<85>1 h3"]
    assert await sink.pending_count() == 2
