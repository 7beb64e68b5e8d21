"""AsyncEngine construction: SQLite pragmas for a crash-safe, concurrent embedded store."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["create_engine", "create_write_engine"]


def create_engine(url: str) -> AsyncEngine:
    """Create the engine; for SQLite, WAL + synchronous=NORMAL + a busy timeout.

    WAL with synchronous=NORMAL keeps every committed transaction after a process crash
    (SQLite docs "WAL mode", durability section): only an OS crash may lose the last ones.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return _create_other(url)


def create_write_engine(url: str, read_engine: AsyncEngine) -> AsyncEngine:
    """The engine for write transactions.

    SQLite allows one writer: writes go through one connection that starts every
    transaction with BEGIN IMMEDIATE, so a writer waits (busy_timeout) instead of failing
    when another process (``imx import`` beside ``imx serve``) holds the write lock.
    Other databases write through the read engine's pool.
    """
    if not url.startswith("sqlite"):
        return read_engine
    engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _create_other(url: str) -> AsyncEngine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
