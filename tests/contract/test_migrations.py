"""Migrations on every SQL backend: fresh database to latest version; a rerun is a no-op."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from imx.storage.engine import create_engine
from imx.storage.migrate import current_version, latest_version, upgrade

_TABLES = {
    "patients",
    "studies",
    "series",
    "instances",
    "documents",
    "audit_events",
    "schema_version",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
        yield eng
        await eng.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    eng = create_async_engine(url, connect_args={"options": f"-c search_path={schema}"})
    yield eng
    await eng.dispose()
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


async def test_upgrade_twice_is_a_no_op(engine: AsyncEngine) -> None:
    assert await current_version(engine) == 0
    assert await upgrade(engine) == list(range(1, latest_version() + 1))
    assert await current_version(engine) == latest_version()
    assert await upgrade(engine) == []
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        rows = (await conn.execute(sa.text("SELECT count(*) FROM schema_version"))).scalar()
    assert tables >= _TABLES
    assert rows == latest_version()  # one row per migration, not one per run
