"""Stores under contract: in-memory, SQLite + files, PostgreSQL (own schema per test) + files."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from imx.storage.files import FileBlobStore
from imx.storage.migrate import upgrade
from imx.storage.sql_store import SqlMetadataStore
from tests.fakes import InMemoryBlobStore, InMemoryMetadataStore
from tests.support.stores import sqlite_store


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    if request.param == "memory":
        yield InMemoryMetadataStore()
        return
    if request.param == "sqlite":
        async with sqlite_store(tmp_path / "imx.sqlite3") as s:
            yield s
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - no server: skip with the reason
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable: {type(exc).__name__}")
    engine = create_async_engine(url, connect_args={"options": f"-c search_path={schema}"})
    await upgrade(engine)
    writer = sa.create_engine(url, connect_args={"options": f"-c search_path={schema}"})
    s = SqlMetadataStore(engine, writer)
    yield s
    await s.close()
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture(params=["memory", "files"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "memory":
        return InMemoryBlobStore()
    return FileBlobStore(tmp_path / "blobs")
