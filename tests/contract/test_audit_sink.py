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
