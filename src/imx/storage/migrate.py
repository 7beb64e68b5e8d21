"""Apply pending migrations (``imx db upgrade``) and report the schema version."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from imx.storage import schema
from imx.storage.migrations import all_migrations

__all__ = ["current_version", "latest_version", "upgrade"]


def latest_version() -> int:
    return max(int(m.VERSION) for m in all_migrations())


def _current(connection: sa.Connection) -> int:
    if not sa.inspect(connection).has_table("schema_version"):
        return 0
    value = connection.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return int(value or 0)


async def current_version(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _upgrade(connection: sa.Connection) -> list[int]:
    schema.schema_version.create(connection, checkfirst=True)
    done = _current(connection)
    applied: list[int] = []
    for m in all_migrations():
        if int(m.VERSION) <= done:
            continue
        m.upgrade(connection)
        connection.execute(
            schema.schema_version.insert().values(
                version=int(m.VERSION), name=m.NAME, applied_at=dt.datetime.now(dt.UTC)
            )
        )
        applied.append(int(m.VERSION))
    return applied


async def upgrade(engine: AsyncEngine) -> list[int]:
    """Apply every pending migration in one transaction each run; returns the versions applied."""
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade)
