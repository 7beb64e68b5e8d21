"""A migrated SQLite metadata store for tests that need the real SQL behaviour."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from imx.storage.engine import create_engine, create_write_engine
from imx.storage.migrate import upgrade
from imx.storage.sql_store import SqlMetadataStore

__all__ = ["sqlite_store"]


@contextlib.asynccontextmanager
async def sqlite_store(db: Path) -> AsyncIterator[SqlMetadataStore]:
    """The store on the SQLite file ``db``, migrated to the latest schema; closed on exit."""
    url = f"sqlite+aiosqlite:///{db}"
    engine = create_engine(url)
    await upgrade(engine)
    store = SqlMetadataStore(engine, create_write_engine(url))
    try:
        yield store
    finally:
        await store.close()
