"""The ATNA sink on SQLite: a stored record is always queued for the repository, together."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import etree

from imx.audit.sink import AtnaAuditSink
from imx.audit.syslog import build_message, parse_message
from imx.errors import StoreError
from imx.model.audit import AuditRecord
from imx.storage import schema
from imx.storage.migrations import m0003_audit_outbox
from imx.storage.sql_audit import SqlAuditSink
from imx.storage.sql_store import SqlMetadataStore
from imx.wire.schemas import validate
from tests.support.stores import sqlite_store
from tests.unit.audit.records import AT, PATIENT, US, initiator, responder


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlMetadataStore]:
    async with sqlite_store(tmp_path / "imx.sqlite3") as s:
        yield s


def _sink(journal: object, woken: list[int]) -> AtnaAuditSink:
    return AtnaAuditSink(journal, source=US,  # type: ignore[arg-type]
                         hostname="gw-1", app_name="imx", procid="1",
                         on_enqueued=lambda: woken.append(1))


async def test_record_is_stored_and_queued(store: SqlMetadataStore) -> None:
    journal, woken = SqlAuditSink(store), list[int]()
    sink = _sink(journal, woken)
    await sink.record(responder("ITI-55"))
    await sink.record(initiator("RAD-75"))
    assert woken == [1, 1]
    assert [r.transaction for r in await journal.list_events()] == ["RAD-75", "ITI-55"]
    assert await journal.list_events(limit=1) == [initiator("RAD-75")]  # every field kept
    pending = await journal.pending(limit=10)
    assert [seq for seq, _, _ in pending] == sorted(seq for seq, _, _ in pending)
    seq, header, body = pending[0]
    message = parse_message(build_message(header, body, sequence_id=seq))
    assert (message.msgid, message.hostname, message.sequence_id) == ("IHE+RFC-3881", "gw-1", seq)
    # the event time, not the enqueue time, is the syslog TIMESTAMP
    assert message.timestamp == "2026-03-01T12:30:15.250Z"
    root = etree.fromstring(body)
    validate(root, "audit")
    assert root.find("EventIdentification/EventTypeCode").get("csd-code") == "ITI-55"


async def test_sent_messages_leave_the_queue_in_order(store: SqlMetadataStore) -> None:
    journal = SqlAuditSink(store)
    sink = _sink(journal, [])
    for n in range(5):
        await sink.record(responder("ITI-38", detail=str(n)))
    first = await journal.pending(limit=2)
    await journal.note_failure([s for s, _, _ in first], "ConnectionRefusedError")
    assert await journal.pending(limit=2) == first  # a failure keeps them, in place
    await journal.mark_sent([s for s, _, _ in first])
    rest = await journal.pending(limit=10)
    assert len(rest) == 3 and rest[0][0] > first[-1][0]
    assert await journal.pending_count() == 3


async def test_list_by_patient_and_since(store: SqlMetadataStore) -> None:
    journal = SqlAuditSink(store)
    sink = _sink(journal, [])
    await sink.record(responder("ITI-55", occurred_at=AT - dt.timedelta(days=2)))
    await sink.record(responder("ITI-38", patient_ids=("OTHER^^^&2.999.1.5&ISO",)))
    await sink.record(responder("RAD-69"))
    by_cx = await journal.list_events(patient_id=PATIENT)
    assert [r.transaction for r in by_cx] == ["RAD-69", "ITI-55"]
    assert [r.transaction for r in await journal.list_events(patient_id="PX-1")] == [
        "RAD-69", "ITI-55"]
    assert [r.transaction for r in await journal.list_events(
        patient_id="PX-1", since=AT - dt.timedelta(hours=1))] == ["RAD-69"]
    assert await journal.list_events(patient_id="NOBODY") == []


async def test_a_record_that_cannot_be_encoded_is_still_stored(store: SqlMetadataStore) -> None:
    journal, woken = SqlAuditSink(store), list[int]()
    bad = AuditRecord(event="x", outcome="success", occurred_at=AT, source="ctl\x00char")
    await _sink(journal, woken).record(bad)
    assert await journal.list_events() == [bad]
    assert await journal.pending(limit=10) == []
    assert woken == []


class _BrokenJournal:
    async def append(self, record: AuditRecord, **_: object) -> int:
        raise StoreError("metadata store write failed")


async def test_a_store_failure_does_not_fail_the_audited_transaction(
        caplog: pytest.LogCaptureFixture) -> None:
    woken: list[int] = []
    await _sink(_BrokenJournal(), woken).record(responder("ITI-39"))
    assert woken == []
    assert "audit record could not be stored" in caplog.text
    assert PATIENT not in caplog.text  # no PHI in logs


async def test_upgrade_makes_older_records_findable_by_patient(store: SqlMetadataStore) -> None:
    journal = SqlAuditSink(store)
    await journal.record(responder("ITI-55"))

    def forget_and_upgrade_again(conn: sa.Connection) -> None:
        conn.execute(schema.audit_event_patients.delete())
        m0003_audit_outbox.upgrade(conn)  # as if the records predated version 3

    await store.write(forget_and_upgrade_again)
    assert len(await journal.list_events(patient_id="PX-1")) == 1
