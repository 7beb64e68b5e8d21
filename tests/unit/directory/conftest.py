"""Fixtures for directory tests: an in-memory store, the FHIR app behind httpx, tokens."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from imx.directory.app import build_directory_app
from imx.directory.auth import hash_token
from imx.directory.store import DirectoryStore
from imx.directory.tokens import Authenticator
from imx.storage.engine import create_engine

ADMIN = "admin-token-for-tests"


@dataclass
class Directory:
    store: DirectoryStore
    auth: Authenticator
    http: httpx.AsyncClient

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}

    async def put(self, resource: dict[str, Any], token: str = ADMIN) -> httpx.Response:
        return await self.http.put(
            f"/{resource['resourceType']}/{resource['id']}",
            json=resource,
            headers={"Authorization": f"Bearer {token}"},
        )


@pytest.fixture
async def store() -> AsyncIterator[DirectoryStore]:
    s = DirectoryStore(create_engine("sqlite+aiosqlite://"))
    await s.create_tables()
    yield s
    await s.close()


@pytest.fixture
async def directory(store: DirectoryStore) -> AsyncIterator[Directory]:
    auth = Authenticator(store, admin_token_sha256=hash_token(ADMIN))
    app = build_directory_app(store, auth)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://directory.test"
    ) as http:
        yield Directory(store=store, auth=auth, http=http)


@pytest.fixture
async def postgres_store() -> AsyncIterator[DirectoryStore]:
    url = os.environ.get("IMX_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("IMX_TEST_POSTGRES_URL is not set")

    schema = f"dir_test_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    store = DirectoryStore(engine, schema=schema)
    await store.create_tables()
    try:
        yield store
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
