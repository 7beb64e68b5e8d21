"""Directory search and look-ups over the ``dir_*`` tables (the read side of ``DirectoryStore``).

An indexed SQL prefilter (ids, folded name, address prefixes, bounding box on latitude and
longitude, own transactions) narrows the rows; then Python applies what SQL cannot do portably:
the exact haversine distance and endpoint inheritance (``routing.resolve_endpoints``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imx.directory.geo import bounding_box, haversine_miles
from imx.directory.resources import StoredResource, fold
from imx.directory.routing import IndexRow, resolve_endpoints
from imx.directory.search import DirectorySearch
from imx.directory.tables import DirectoryTables
from imx.errors import StoreError
from imx.model.community import CommunityEndpoint

__all__ = ["Match", "SearchPage", "StoreQueries"]

_CHUNK = 500  # ids per IN (...) list
# Sorts SQL can do exactly the same way on SQLite and PostgreSQL (no collation involved).
_SQL_SORTS: dict[str, Callable[[sa.Table], sa.ColumnElement[Any]]] = {
    "_id": lambda o: o.c.id,
    "_lastUpdated": lambda o: o.c.last_updated_us,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    row: IndexRow
    endpoints: tuple[CommunityEndpoint, ...]  # effective (inherited when the row has none)
    distance_miles: float | None
    last_updated_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    total: int
    resources: list[tuple[StoredResource, float | None]]  # with the distance in miles
    included: list[StoredResource]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _endpoints_from(text: str) -> tuple[CommunityEndpoint, ...]:
    return tuple(
        CommunityEndpoint(transaction=t, address=a, purposes_of_use=tuple(p))
        for t, a, p in json.loads(text)
    )


class StoreQueries:
    """Read side, mixed into ``DirectoryStore`` (kept apart to keep modules small)."""

    engine: AsyncEngine
    t: DirectoryTables

    def _table(self, resource_type: str) -> sa.Table:
        return self.t.organization if resource_type == "Organization" else self.t.endpoint

    # -- search ----------------------------------------------------------------------------

    def _organization_filters(self, s: DirectorySearch) -> list[sa.ColumnElement[bool]]:
        o = self.t.organization
        where: list[sa.ColumnElement[bool]] = []
        if s.ids:
            where.append(o.c.id.in_(s.ids))
        if s.name:
            where.append(o.c.name_folded.like(f"%{_like_escape(s.name)}%", escape="\\"))
        if s.name_exact:
            where.append(o.c.name == s.name_exact)
        if s.postal_code:
            where.append(o.c.postal_code.like(f"{_like_escape(s.postal_code)}%", escape="\\"))
        if s.city:
            where.append(o.c.city_folded.like(f"{_like_escape(s.city)}%", escape="\\"))
        if s.state:
            where.append(o.c.state_folded.like(f"{_like_escape(s.state)}%", escape="\\"))
        if s.part_of:
            where.append(o.c.part_of == s.part_of)
        if s.active is not None:
            where.append(o.c.is_active == s.active)
        for op, us in s.last_updated:
            col = o.c.last_updated_us
            where.append({"gt": col > us, "ge": col >= us, "lt": col < us, "le": col <= us}[op])
        if s.transactions:
            # Own endpoints offer it, or none of its own (it may inherit: checked exactly later).
            where.append(
                sa.or_(
                    o.c.transactions == " ",
                    *(
                        o.c.transactions.like(f"% {_like_escape(k)} %", escape="\\")
                        for k in sorted(s.transactions)
                    ),
                )
            )
        if s.near is not None and s.radius_miles is not None:
            box = bounding_box(s.near, s.radius_miles)
            lon = (
                sa.or_(o.c.longitude >= box.min_longitude, o.c.longitude <= box.max_longitude)
                if box.crosses_antimeridian
                else o.c.longitude.between(box.min_longitude, box.max_longitude)
            )
            where += [o.c.latitude.between(box.min_latitude, box.max_latitude), lon]
        return where

    def _row(self, r: Any) -> IndexRow:
        return IndexRow(
            id=r.id,
            name=r.name,
            is_active=r.is_active,
            city=r.city,
            state=r.state,
            postal_code=r.postal_code,
            latitude=r.latitude,
            longitude=r.longitude,
            part_of=r.part_of,
            managing_organization=r.managing_organization,
            endpoints=_endpoints_from(r.endpoints),
        )

    def _index_columns(self) -> list[sa.Column[Any]]:
        o = self.t.organization
        return [
            o.c.id,
            o.c.name,
            o.c.is_active,
            o.c.city,
            o.c.state,
            o.c.postal_code,
            o.c.latitude,
            o.c.longitude,
            o.c.part_of,
            o.c.managing_organization,
            o.c.endpoints,
            o.c.last_updated_us,
        ]

    async def _ancestors(
        self, conn: AsyncConnection, rows: Iterable[IndexRow]
    ) -> dict[str, IndexRow]:
        """Every ancestor of ``rows`` that lacks endpoints, loaded level by level."""
        known: dict[str, IndexRow] = {}
        wanted = {r.parent for r in rows if not r.endpoints and r.parent}
        for _ in range(8):
            wanted -= known.keys()
            if not wanted:
                break
            found = await self.rows_by_id(conn, wanted)
            known.update(found)
            wanted = {r.parent for r in found.values() if not r.endpoints and r.parent}
        return known

    async def rows_by_id(self, conn: AsyncConnection, ids: Iterable[str]) -> dict[str, IndexRow]:
        o, out, ids = self.t.organization, {}, list(ids)
        for i in range(0, len(ids), _CHUNK):
            result = await conn.execute(
                sa.select(*self._index_columns()).where(o.c.id.in_(ids[i : i + _CHUNK]))
            )
            out.update({r.id: self._row(r) for r in result})
        return out

    async def match_organizations(self, s: DirectorySearch) -> list[Match]:
        """Every organisation matching ``s``, sorted as asked (no paging)."""
        try:
            async with self.engine.connect() as conn:
                result = await conn.execute(
                    sa.select(*self._index_columns()).where(*self._organization_filters(s))
                )
                raw = [(self._row(r), r.last_updated_us) for r in result]
                ancestors = await self._ancestors(conn, (r for r, _ in raw))
        except SQLAlchemyError as exc:
            raise StoreError("directory search failed") from exc
        matches = []
        for row, us in raw:
            distance = None
            if s.near is not None and s.radius_miles is not None:
                if row.latitude is None or row.longitude is None:
                    continue
                distance = haversine_miles(s.near, (row.latitude, row.longitude))
                if distance > s.radius_miles:
                    continue
            endpoints = resolve_endpoints(row, ancestors.get)
            if s.transactions and not any(e.transaction in s.transactions for e in endpoints):
                continue
            matches.append(
                Match(row=row, endpoints=endpoints, distance_miles=distance, last_updated_us=us)
            )
        matches.sort(key=_sort_key(s.sort), reverse=s.sort.startswith("-"))
        return matches

    async def search(self, resource_type: str, s: DirectorySearch) -> SearchPage:
        if resource_type == "Endpoint":
            return await self._search_endpoints(s)
        if s.near is None and not s.transactions and s.sort.lstrip("-") in _SQL_SORTS:
            return await self._search_in_sql(s)
        matches = await self.match_organizations(s)
        page = matches[s.start : s.start + s.count]
        o = self.t.organization
        ids = [m.row.id for m in page]
        async with self.engine.connect() as conn:
            found = {}
            if ids:
                rows = await conn.execute(sa.select(o.c.id, o.c.resource).where(o.c.id.in_(ids)))
                found = {r.id: r.resource for r in rows}
            included = await self._included(conn, s, ids)
        resources = [
            (
                StoredResource(resource_type="Organization", id=m.row.id, json=found[m.row.id]),
                m.distance_miles,
            )
            for m in page
            if m.row.id in found
        ]
        return SearchPage(total=len(matches), resources=resources, included=included)

    async def _search_in_sql(self, s: DirectorySearch) -> SearchPage:
        """Paging in SQL when nothing needs Python (no distance, no inherited transactions)."""
        o = self.t.organization
        where = self._organization_filters(s)
        column = _SQL_SORTS[s.sort.lstrip("-")](o)
        order = [column.desc(), o.c.id.desc()] if s.sort.startswith("-") else [column, o.c.id]
        try:
            async with self.engine.connect() as conn:
                total = await conn.scalar(sa.select(sa.func.count()).select_from(o).where(*where))
                rows = await conn.execute(
                    sa.select(o.c.id, o.c.resource)
                    .where(*where)
                    .order_by(*order)
                    .offset(s.start)
                    .limit(s.count)
                )
                resources: list[tuple[StoredResource, float | None]] = [
                    (StoredResource(resource_type="Organization", id=r.id, json=r.resource), None)
                    for r in rows
                ]
                included = await self._included(conn, s, [r.id for r, _ in resources])
        except SQLAlchemyError as exc:
            raise StoreError("directory search failed") from exc
        return SearchPage(total=int(total or 0), resources=resources, included=included)

    async def _included(
        self, conn: AsyncConnection, s: DirectorySearch, ids: list[str]
    ) -> list[StoredResource]:
        if not (s.include_endpoints and ids):
            return []
        e, link = self.t.endpoint, self.t.organization_endpoint
        out: dict[str, StoredResource] = {}
        for i in range(0, len(ids), _CHUNK):
            rows = await conn.execute(
                sa.select(e.c.id, e.c.resource)
                .join(link, link.c.endpoint_id == e.c.id)
                .where(link.c.organization_id.in_(ids[i : i + _CHUNK]))
            )
            out.update(
                {
                    r.id: StoredResource(resource_type="Endpoint", id=r.id, json=r.resource)
                    for r in rows
                }
            )
        return [out[k] for k in sorted(out)]

    async def _search_endpoints(self, s: DirectorySearch) -> SearchPage:
        e = self.t.endpoint
        where: list[sa.ColumnElement[bool]] = []
        if s.ids:
            where.append(e.c.id.in_(s.ids))
        if s.organization:
            where.append(e.c.organization == s.organization)
        if s.connection_type:
            where.append(e.c.connection_type == s.connection_type)
        if s.status:
            where.append(e.c.status == s.status)
        for op, us in s.last_updated:
            col = e.c.last_updated_us
            where.append({"gt": col > us, "ge": col >= us, "lt": col < us, "le": col <= us}[op])
        async with self.engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(e).where(*where))
            rows = await conn.execute(
                sa.select(e.c.id, e.c.resource)
                .where(*where)
                .order_by(e.c.id)
                .offset(s.start)
                .limit(s.count)
            )
            resources: list[tuple[StoredResource, float | None]] = [
                (StoredResource(resource_type="Endpoint", id=r.id, json=r.resource), None)
                for r in rows
            ]
        return SearchPage(total=int(total or 0), resources=resources, included=[])

    async def row(
        self, organization_id: str
    ) -> tuple[IndexRow, tuple[CommunityEndpoint, ...]] | None:
        """One organisation's index row and its effective endpoints."""
        async with self.engine.connect() as conn:
            rows = await self.rows_by_id(conn, [organization_id])
            if organization_id not in rows:
                return None
            ancestors = await self._ancestors(conn, rows.values())
        row = rows[organization_id]
        return row, resolve_endpoints(row, ancestors.get)

    async def owners(self, start: Iterable[str]) -> set[str]:
        """``start`` and every ancestor by partOf / org-managing-org (the write-rule owners)."""
        found = {x for x in start if x}
        frontier = set(found)
        async with self.engine.connect() as conn:
            for _ in range(8):
                rows = await self.rows_by_id(conn, frontier)
                frontier = {
                    p for r in rows.values() for p in (r.part_of, r.managing_organization) if p
                } - found
                if not frontier:
                    break
                found |= frontier
        return found

    async def max_last_updated_us(self) -> int:
        o, e = self.t.organization, self.t.endpoint
        async with self.engine.connect() as conn:
            a = await conn.scalar(sa.select(sa.func.max(o.c.last_updated_us)))
            b = await conn.scalar(sa.select(sa.func.max(e.c.last_updated_us)))
        return max(int(a or 0), int(b or 0))

    async def count(self, resource_type: str) -> int:
        table = self._table(resource_type)
        async with self.engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _sort_key(sort: str) -> Callable[[Match], Any]:
    field = sort.lstrip("-")
    if field == "name":
        return lambda m: (fold(m.row.name), m.row.id)
    if field == "_lastUpdated":
        return lambda m: (m.last_updated_us, m.row.id)
    if field == "distance":
        return lambda m: (m.distance_miles, m.row.id)
    return lambda m: m.row.id
