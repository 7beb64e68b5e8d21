"""The node-side directory cache: the only thing routing reads (issue: Directory).

A replica of the directory in the node's own SQLite file (``<data_dir>/directory-cache.sqlite``),
filled by ``sync``; it keeps answering when the directory is down. Same tables and search code
as the service (``DirectoryStore``), so a query means the same thing on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from imx.directory.codes import parse_transaction_param
from imx.directory.geo import postal_code_centroid
from imx.directory.resources import EndpointEntry, OrganizationEntry, fold, parse_endpoint
from imx.directory.routing import IndexRow, to_community
from imx.directory.search import DirectorySearch
from imx.directory.store import DirectoryStore
from imx.errors import MalformedMessageError
from imx.model.community import Community
from imx.storage.engine import create_engine

__all__ = ["CACHE_FILE", "DEFAULT_RADIUS_MILES", "DirectoryCache"]

CACHE_FILE = "directory-cache.sqlite"
DEFAULT_RADIUS_MILES = 50.0
_HIGH_WATER = "high_water_us"


class DirectoryCache:
    def __init__(self, store: DirectoryStore) -> None:
        self.store = store

    @classmethod
    async def open(cls, path: Path | str) -> DirectoryCache:
        """Open (creating if needed) the cache file; ``:memory:`` for tests."""
        url = (
            "sqlite+aiosqlite://"
            if str(path) == ":memory:"
            else f"sqlite+aiosqlite:///{Path(path).resolve()}"
        )
        store = DirectoryStore(create_engine(url))
        await store.create_tables()
        return cls(store)

    async def close(self) -> None:
        await self.store.close()

    # -- routing contract ------------------------------------------------------------------

    async def find_communities(
        self,
        *,
        transaction: str | None = None,
        name: str | None = None,
        state: str | None = None,
        postal_code: str | None = None,
        near: tuple[float, float] | None = None,
        near_postal_code: str | None = None,
        radius_miles: float | None = None,
        active: bool = True,
    ) -> list[Community]:
        """Communities matching every given criterion; nearest first when a centre is given.

        ``transaction`` is a routing key (``RAD-75``) or a Sequoia code (``XCA-I RAD-75``) and
        matches own or inherited endpoints. ``active=False`` includes inactive communities and
        those left without any endpoint; by default only reachable, active ones come back.
        Raises ``MalformedMessageError`` for an unknown transaction or ZIP.
        """
        fields: dict[str, Any] = {"count": 1_000_000, "active": True if active else None}
        if transaction:
            key = parse_transaction_param(transaction)
            if key is None:
                raise MalformedMessageError("unknown transaction")
            fields["transactions"] = frozenset({key})
        if name:
            fields["name"] = fold(name)
        if state:
            fields["state"] = fold(state)
        if postal_code:
            fields["postal_code"] = postal_code.strip()
        center = near
        if near_postal_code:
            center = postal_code_centroid(near_postal_code)
            if center is None:
                raise MalformedMessageError("near_postal_code is not a known US ZIP code")
        if center is not None:
            fields.update(
                near=center, radius_miles=radius_miles or DEFAULT_RADIUS_MILES, sort="distance"
            )
        else:
            fields["sort"] = "name"
        matches = await self.store.match_organizations(DirectorySearch(**fields))
        # A community routing cannot reach (its network went inactive since the last sync)
        # is no answer for routing; ``get`` still shows it.
        return [to_community(m.row, m.endpoints) for m in matches if m.endpoints or not active]

    async def get(self, home_community_id: str) -> Community | None:
        found = await self.store.row(home_community_id.removeprefix("urn:oid:"))
        return to_community(*found) if found is not None else None

    # -- sync side -------------------------------------------------------------------------

    async def apply(
        self,
        resources: list[dict[str, Any]],
        *,
        replace_all: bool,
        parsed: Mapping[str, OrganizationEntry] | None = None,
    ) -> None:
        await self.store.put_replica(resources, replace_all=replace_all, parsed=parsed)

    async def rows(self, ids: list[str]) -> dict[str, IndexRow]:
        async with self.store.engine.connect() as conn:
            return await self.store.rows_by_id(conn, ids)

    async def endpoint(self, endpoint_id: str) -> EndpointEntry | None:
        resource = await self.store.read("Endpoint", endpoint_id)
        return parse_endpoint(resource) if resource is not None else None

    async def high_water_us(self) -> int | None:
        t = self.store.t.state
        async with self.store.engine.connect() as conn:
            value = await conn.scalar(sa.select(t.c.value).where(t.c.key == _HIGH_WATER))
        return int(value) if value is not None else None

    async def set_high_water_us(self, value: int) -> None:
        t = self.store.t.state
        async with self.store.engine.begin() as conn:
            await conn.execute(sa.delete(t).where(t.c.key == _HIGH_WATER))
            await conn.execute(sa.insert(t).values(key=_HIGH_WATER, value=str(value)))

    async def count(self) -> int:
        return await self.store.count("Organization")
