"""AsyncEngine construction: SQLite pragmas for a crash-safe, concurrent embedded store."""

from __future__ import annotations

import sqlite3
import time
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
            # PS3.4 C.2.2.2.4: wildcard matching is case-sensitive except for PN (which we
            # match on a folded column); SQLite's LIKE is ASCII case-insensitive by default.
            cur.execute("PRAGMA case_sensitive_like=ON")
            cur.close()

        return engine
    return _create_other(url)


def create_write_engine(url: str) -> sa.Engine:
    """The synchronous engine every write transaction runs on, in a worker thread.

    One thread hop per transaction instead of one per statement (an aiosqlite hop costs
    ~0.3 ms; a C-STORE's transaction has six statements). SQLite allows one writer: one
    connection, every transaction opened with BEGIN IMMEDIATE so that a writer in another
    process (``imx import`` beside ``imx serve``) is waited for (busy_timeout), not failed.
    """
    sync_url = url.replace("sqlite+aiosqlite", "sqlite", 1)
    if not sync_url.startswith("sqlite"):
        if sync_url.startswith("postgresql://"):
            sync_url = "postgresql+psycopg://" + sync_url.removeprefix("postgresql://")
        return sa.create_engine(sync_url, pool_size=4, max_overflow=4, pool_pre_ping=True)
    engine = sa.create_engine(
        sync_url,
        connect_args={"timeout": 30, "check_same_thread": False},
        poolclass=sa.pool.StaticPool,
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        begin_immediate(conn.connection.dbapi_connection)

    return engine


def begin_immediate(dbapi_conn: Any, *, timeout_s: float = 30.0) -> None:
    """BEGIN IMMEDIATE, waiting for another process's writer in sub-millisecond steps.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between attempts: with
    two `imx serve` processes (``http.workers``) committing audit records every few ms, a
    waiter overslept by tens of ms and that was the XCPD p99. Here the lock is tried without
    SQLite's wait, then again after 0.1 ms growing to 2 ms, up to ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.0001
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    finally:
        # statements inside the transaction keep SQLite's wait (a checkpoint, a reader)
        dbapi_conn.execute("PRAGMA busy_timeout=30000")


def _create_other(url: str) -> AsyncEngine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
