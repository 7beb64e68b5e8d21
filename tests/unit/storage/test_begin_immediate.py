"""The writer's BEGIN IMMEDIATE waits for another process's writer in small steps."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from imx.storage.engine import begin_immediate


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def test_takes_the_lock_soon_after_the_other_writer_commits(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite3"
    other, ours = _connect(db), _connect(db)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN IMMEDIATE")
    released = {}

    def release() -> None:
        time.sleep(0.08)
        other.execute("INSERT INTO t VALUES (1)")
        other.execute("COMMIT")
        released["at"] = time.monotonic()

    thread = threading.Thread(target=release)
    thread.start()
    begin_immediate(ours)
    got = time.monotonic()
    thread.join()
    ours.execute("INSERT INTO t VALUES (2)")
    ours.execute("COMMIT")
    # SQLite's own handler would be in a 25-50 ms sleep by now; ours retries every <= 2 ms
    assert got - released["at"] < 0.01
    assert ours.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    assert ours.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_gives_up_after_the_timeout(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite3"
    other, ours = _connect(db), _connect(db)
    other.execute("BEGIN IMMEDIATE")
    t0 = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(ours, timeout_s=0.1)
    assert 0.1 <= time.monotonic() - t0 < 0.5
    other.execute("ROLLBACK")
