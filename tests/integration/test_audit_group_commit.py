"""Concurrent audit records share transactions (group commit) and every one is stored and
returned to its caller only once committed."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from imx.model.audit import AuditRecord
from imx.storage.sql_audit import SqlAuditSink
from tests.support.node import open_test_node


def test_concurrent_records_are_all_stored_in_fewer_transactions(tmp_path: Path) -> None:
    async def run() -> tuple[int, int, set[int]]:
        async with open_test_node(tmp_path) as node:
            store = node.metadata
            sink = SqlAuditSink(store)  # type: ignore[arg-type]
            writes = 0
            original = store.write  # type: ignore[attr-defined]

            async def counting(fn):  # noqa: ANN001, ANN202
                nonlocal writes
                writes += 1
                return await original(fn)

            store.write = counting  # type: ignore[attr-defined,method-assign]
            records = [AuditRecord(event=f"e{i}", outcome="success", occurred_at=dt.datetime.now(dt.UTC),
                                   source="test", patient_ids=(f"P{i}^^^&1.2.3&ISO",))
                       for i in range(60)]
            pks = await asyncio.gather(*(sink.append(r) for r in records))
            stored = await sink.list_events(limit=200)
            return writes, len({r.event for r in stored} & {f"e{i}" for i in range(60)}), set(pks)

    writes, stored, pks = asyncio.run(run())
    assert stored == 60 and len(pks) == 60  # every record, each with its own key
    assert writes < 60  # and they shared transactions
