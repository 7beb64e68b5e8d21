"""Directory storage: FHIR resources, version history and the search index (SQLAlchemy Core).

One class serves the directory service (``put``: versions, history, ``meta`` set here) and the
node cache (``put_replica``: keeps the source's ``meta``, no history). Search runs an indexed
SQL prefilter (bounding box, folded name, ...) and then the exact checks in Python: haversine
distance and endpoint inheritance (routing.resolve_endpoints).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imx.directory.geo import bounding_box, haversine_miles
from imx.directory.resources import (
    EndpointEntry,
    OrganizationEntry,
    fold,
    parse_endpoint,
    parse_organization,
)
from imx.directory.routing import IndexRow, index_row, resolve_endpoints
from imx.directory.search import DirectorySearch, to_microseconds
from imx.directory.tables import DirectoryTables
from imx.errors import StoreError
from imx.model.community import CommunityEndpoint

__all__ = ["DirectoryStore", "Match", "SearchPage", "format_instant"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CHUNK = 500  # ids per IN (...) list


def format_instant(us: int) -> str:
    """FHIR instant with microseconds, UTC."""
    instant = _EPOCH + dt.timedelta(microseconds=us)
    return instant.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dumps(resource: dict[str, Any]) -> str:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    row: IndexRow
    endpoints: tuple[CommunityEndpoint, ...]  # effective (inherited when the row has none)
    distance_miles: float | None
    last_updated_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    total: int
    resources: list[tuple[dict[str, Any], float | None]]  # resource, distance in miles
    included: list[dict[str, Any]]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _endpoints_json(endpoints: Iterable[CommunityEndpoint]) -> str:
    return json.dumps([[e.transaction, e.address, list(e.purposes_of_use)] for e in endpoints])


def _transactions_column(endpoints: Iterable[CommunityEndpoint]) -> str:
    """" ITI-55 RAD-75 " (so LIKE '% RAD-75 %' matches a whole key), " " when there are none."""
    keys = sorted({e.transaction for e in endpoints})
    return f" {' '.join(keys)} " if keys else " "


def _endpoints_from(text: str) -> tuple[CommunityEndpoint, ...]:
    return tuple(
        CommunityEndpoint(transaction=t, address=a, purposes_of_use=tuple(p))
        for t, a, p in json.loads(text)
    )


class DirectoryStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.engine = engine
        self.t = DirectoryTables(schema)
        self._now = now
        self._last_us = 0
        self._write_lock = asyncio.Lock()

    async def create_tables(self) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(self.t.metadata.create_all)
                last = await conn.scalar(sa.select(sa.func.max(self.t.history.c.last_updated_us)))
        except SQLAlchemyError as exc:
            raise StoreError("directory database is unavailable") from exc
        self._last_us = int(last or 0)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- reads -----------------------------------------------------------------------------

    async def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        table = self._table(resource_type)
        async with self.engine.connect() as conn:
            text = await conn.scalar(sa.select(table.c.resource).where(table.c.id == resource_id))
        return json.loads(text) if text else None

    async def read_version(
        self, resource_type: str, resource_id: str, version: int
    ) -> dict[str, Any] | None:
        h = self.t.history
        async with self.engine.connect() as conn:
            text = await conn.scalar(
                sa.select(h.c.resource).where(
                    h.c.resource_type == resource_type, h.c.id == resource_id,
                    h.c.version == version,
                )
            )
        return json.loads(text) if text else None

    async def history(
        self, resource_type: str, resource_id: str | None, *, since_us: int, start: int, count: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """Versions newest first (FHIR R4 3.1.0.11.2), with the total."""
        h = self.t.history
        where = [h.c.resource_type == resource_type, h.c.last_updated_us >= since_us]
        if resource_id is not None:
            where.append(h.c.id == resource_id)
        async with self.engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(h).where(*where))
            rows = await conn.execute(
                sa.select(h.c.resource).where(*where)
                .order_by(h.c.last_updated_us.desc(), h.c.id).offset(start).limit(count)
            )
            return int(total or 0), [json.loads(r.resource) for r in rows]

    # -- writes (the directory service) ----------------------------------------------------

    def _next_instant_us(self) -> int:
        # Strictly increasing, so an incremental sync by _lastUpdated never sees two writes
        # share an instant with one of them already read.
        self._last_us = max(to_microseconds(self._now()), self._last_us + 1)
        return self._last_us

    async def put(self, resource: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a new version of an Organization or Endpoint; returns (stored, created)."""
        resource_type = resource.get("resourceType")
        entry = (
            parse_organization(resource) if resource_type == "Organization"
            else parse_endpoint(resource)
        )
        table = self._table(str(resource_type))
        async with self._write_lock:
            try:
                async with self.engine.begin() as conn:
                    old = await conn.scalar(sa.select(table.c.version).where(table.c.id == entry.id))
                    version = int(old or 0) + 1
                    us = self._next_instant_us()
                    stored = {**resource, "id": entry.id}
                    stored["meta"] = {**(resource.get("meta") or {}), "versionId": str(version),
                                      "lastUpdated": format_instant(us)}
                    await self._write(conn, stored, version=version, us=us)
                    await conn.execute(sa.insert(self.t.history).values(
                        resource_type=resource_type, id=entry.id, version=version,
                        last_updated_us=us, resource=_dumps(stored)))
            except SQLAlchemyError as exc:
                raise StoreError("directory write failed") from exc
        return stored, old is None

    async def put_replica(
        self, resources: Sequence[dict[str, Any]], *, replace_all: bool = False
    ) -> None:
        """Store resources as the source sent them (the node cache): no history, their meta.

        ``replace_all`` (a full sync) empties the tables in the same transaction, so readers
        see the old set or the new one, never an empty cache. Bulk: a few statements per 500 resources, whatever the count (10,000 organisations
        one statement each took ~30 s on aiosqlite). Callers hand in parsed-clean resources.
        """
        try:
            async with self.engine.begin() as conn:
                await self._bulk(conn, resources, replace_all=replace_all)
        except SQLAlchemyError as exc:
            raise StoreError("directory cache write failed") from exc

    async def put_many(self, resources: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``put`` for many resources in one transaction (admin loads, the benchmark)."""
        parsed = [
            (r, parse_organization(r).id if r.get("resourceType") == "Organization"
             else parse_endpoint(r).id) for r in resources
        ]
        stored: list[dict[str, Any]] = []
        async with self._write_lock:
            try:
                async with self.engine.begin() as conn:
                    versions: dict[tuple[str, str], int] = {}
                    for kind in ("Organization", "Endpoint"):
                        table = self._table(kind)
                        ids = [i for r, i in parsed if r["resourceType"] == kind]
                        for n in range(0, len(ids), _CHUNK):
                            rows = await conn.execute(sa.select(table.c.id, table.c.version)
                                                      .where(table.c.id.in_(ids[n:n + _CHUNK])))
                            versions.update({(kind, r.id): r.version for r in rows})
                    for resource, resource_id in parsed:
                        key = (resource["resourceType"], resource_id)
                        versions[key] = versions.get(key, 0) + 1
                        stored.append({**resource, "id": resource_id, "meta": {
                            **(resource.get("meta") or {}), "versionId": str(versions[key]),
                            "lastUpdated": format_instant(self._next_instant_us())}})
                    await self._bulk(conn, stored, replace_all=False)
                    await conn.execute(sa.insert(self.t.history), [
                        {"resource_type": r["resourceType"], "id": r["id"],
                         "version": int(r["meta"]["versionId"]),
                         "last_updated_us": _meta(r)[1], "resource": _dumps(r)} for r in stored])
            except SQLAlchemyError as exc:
                raise StoreError("directory write failed") from exc
        return stored

    async def _bulk(self, conn: AsyncConnection, resources: Sequence[dict[str, Any]], *,
                    replace_all: bool) -> None:
        endpoints = [r for r in resources if r.get("resourceType") == "Endpoint"]
        organizations = [r for r in resources if r.get("resourceType") == "Organization"]
        if replace_all:
            for table in (self.t.organization, self.t.endpoint, self.t.organization_endpoint):
                await conn.execute(sa.delete(table))
        await self._replace_endpoints(conn, endpoints)
        batch: dict[str, tuple[OrganizationEntry, dict[str, Any]]] = {}
        for r in organizations:
            entry = parse_organization(r)
            batch[entry.id] = (entry, r)
        # Organisations outside the batch that reference a changed endpoint: re-index.
        changed = [parse_endpoint(r).id for r in endpoints]
        link, o = self.t.organization_endpoint, self.t.organization
        for i in range(0, len(changed), _CHUNK):
            owners = await conn.execute(
                sa.select(o.c.resource).join(link, link.c.organization_id == o.c.id)
                .where(link.c.endpoint_id.in_(changed[i:i + _CHUNK])))
            for r in owners:
                owner = json.loads(r.resource)
                entry = parse_organization(owner)
                batch.setdefault(entry.id, (entry, owner))
        await self._replace_organizations(conn, list(batch.values()))

    async def _replace_endpoints(self, conn: AsyncConnection,
                                 resources: list[dict[str, Any]]) -> None:
        e = self.t.endpoint
        values = []
        for resource in resources:
            entry = parse_endpoint(resource)
            version, us = _meta(resource)
            values.append({
                "id": entry.id, "version": version, "last_updated_us": us,
                "organization": entry.managing_organization,
                "connection_type": entry.connection_type,
                "status": "active" if entry.is_active else "off", "resource": _dumps(resource)})
        await self._replace(conn, e, values)

    async def _replace(self, conn: AsyncConnection, table: sa.Table,
                       values: list[dict[str, Any]]) -> None:
        values = list({v["id"]: v for v in values}.values())  # the same id twice: last wins
        ids = [v["id"] for v in values]
        for i in range(0, len(ids), _CHUNK):
            await conn.execute(sa.delete(table).where(table.c.id.in_(ids[i:i + _CHUNK])))
        if values:
            await conn.execute(sa.insert(table), values)

    async def _replace_organizations(
        self, conn: AsyncConnection, items: list[tuple[OrganizationEntry, dict[str, Any]]]
    ) -> None:
        entries = [entry for entry, _ in items]
        resources = [resource for _, resource in items]
        wanted = sorted({x for entry in entries for x in entry.endpoint_references})
        referenced: dict[str, EndpointEntry] = {}
        e = self.t.endpoint
        for i in range(0, len(wanted), _CHUNK):
            rows = await conn.execute(
                sa.select(e.c.resource).where(e.c.id.in_(wanted[i:i + _CHUNK])))
            for r in rows:
                found = parse_endpoint(json.loads(r.resource))
                referenced[found.id] = found
        values, links = [], []
        for entry, resource in zip(entries, resources, strict=True):
            version, us = _meta(resource)
            values.append(self._organization_values(entry, resource, referenced, version, us))
            links += [{"organization_id": entry.id, "endpoint_id": x}
                      for x in dict.fromkeys(entry.endpoint_references)]
        await self._replace(conn, self.t.organization, values)
        link = self.t.organization_endpoint
        ids = [entry.id for entry in entries]
        for i in range(0, len(ids), _CHUNK):
            await conn.execute(sa.delete(link).where(link.c.organization_id.in_(ids[i:i + _CHUNK])))
        if links:
            await conn.execute(sa.insert(link), links)

    async def _write(self, conn: AsyncConnection, resource: dict[str, Any], *, version: int,
                     us: int) -> None:
        if resource["resourceType"] == "Endpoint":
            await self._write_endpoint(conn, parse_endpoint(resource), resource, version, us)
        else:
            await self._write_organization(conn, parse_organization(resource), resource,
                                           version, us)

    async def _write_endpoint(self, conn: AsyncConnection, entry: EndpointEntry,
                              resource: dict[str, Any], version: int, us: int) -> None:
        e = self.t.endpoint
        await conn.execute(sa.delete(e).where(e.c.id == entry.id))
        await conn.execute(sa.insert(e).values(
            id=entry.id, version=version, last_updated_us=us,
            organization=entry.managing_organization, connection_type=entry.connection_type,
            status="active" if entry.is_active else "off", resource=_dumps(resource)))
        # Organisations that reference this endpoint serve what it serves now: re-index them.
        link = self.t.organization_endpoint
        o = self.t.organization
        owners = await conn.execute(
            sa.select(o.c.resource, o.c.version, o.c.last_updated_us)
            .join(link, link.c.organization_id == o.c.id).where(link.c.endpoint_id == entry.id))
        for owner in owners.fetchall():
            org_resource = json.loads(owner.resource)
            await self._write_organization(conn, parse_organization(org_resource), org_resource,
                                           owner.version, owner.last_updated_us)

    async def _write_organization(self, conn: AsyncConnection, entry: OrganizationEntry,
                                  resource: dict[str, Any], version: int, us: int) -> None:
        e, o, link = self.t.endpoint, self.t.organization, self.t.organization_endpoint
        referenced: dict[str, EndpointEntry] = {}
        if entry.endpoint_references:
            rows = await conn.execute(
                sa.select(e.c.resource).where(e.c.id.in_(entry.endpoint_references)))
            for r in rows:
                found = parse_endpoint(json.loads(r.resource))
                referenced[found.id] = found
        values = self._organization_values(entry, resource, referenced, version, us)
        await conn.execute(sa.delete(o).where(o.c.id == entry.id))
        await conn.execute(sa.insert(o).values(**values))
        await conn.execute(sa.delete(link).where(link.c.organization_id == entry.id))
        if entry.endpoint_references:
            await conn.execute(sa.insert(link), [
                {"organization_id": entry.id, "endpoint_id": x}
                for x in dict.fromkeys(entry.endpoint_references)])

    @staticmethod
    def _organization_values(entry: OrganizationEntry, resource: dict[str, Any],
                             referenced: dict[str, EndpointEntry], version: int,
                             us: int) -> dict[str, Any]:
        row, _problems = index_row(entry, referenced)
        return {
            "id": row.id, "version": version, "last_updated_us": us, "is_active": row.is_active,
            "name": row.name, "name_folded": fold(row.name), "city": row.city,
            "city_folded": fold(row.city), "state": row.state, "state_folded": fold(row.state),
            "postal_code": row.postal_code, "latitude": row.latitude,
            "longitude": row.longitude, "part_of": row.part_of,
            "managing_organization": row.managing_organization,
            "transactions": _transactions_column(row.endpoints),
            "endpoints": _endpoints_json(row.endpoints), "resource": _dumps(resource)}

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
            where.append(sa.or_(o.c.transactions == " ", *(
                o.c.transactions.like(f"% {_like_escape(k)} %", escape="\\")
                for k in sorted(s.transactions))))
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
            id=r.id, name=r.name, is_active=r.is_active, city=r.city, state=r.state,
            postal_code=r.postal_code, latitude=r.latitude, longitude=r.longitude,
            part_of=r.part_of, managing_organization=r.managing_organization,
            endpoints=_endpoints_from(r.endpoints),
        )

    def _index_columns(self) -> list[sa.Column[Any]]:
        o = self.t.organization
        return [o.c.id, o.c.name, o.c.is_active, o.c.city, o.c.state, o.c.postal_code,
                o.c.latitude, o.c.longitude, o.c.part_of, o.c.managing_organization,
                o.c.endpoints, o.c.last_updated_us]

    async def _ancestors(self, conn: AsyncConnection, rows: Iterable[IndexRow]
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
                sa.select(*self._index_columns()).where(o.c.id.in_(ids[i:i + _CHUNK])))
            out.update({r.id: self._row(r) for r in result})
        return out

    async def match_organizations(self, s: DirectorySearch) -> list[Match]:
        """Every organisation matching ``s``, sorted as asked (no paging)."""
        try:
            async with self.engine.connect() as conn:
                result = await conn.execute(
                    sa.select(*self._index_columns()).where(*self._organization_filters(s)))
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
            matches.append(Match(row=row, endpoints=endpoints, distance_miles=distance,
                                 last_updated_us=us))
        matches.sort(key=_sort_key(s.sort), reverse=s.sort.startswith("-"))
        return matches

    async def search(self, resource_type: str, s: DirectorySearch) -> SearchPage:
        if resource_type == "Endpoint":
            return await self._search_endpoints(s)
        matches = await self.match_organizations(s)
        page = matches[s.start:s.start + s.count]
        o, e, link = self.t.organization, self.t.endpoint, self.t.organization_endpoint
        ids = [m.row.id for m in page]
        async with self.engine.connect() as conn:
            found = {r.id: r.resource for r in await conn.execute(
                sa.select(o.c.id, o.c.resource).where(o.c.id.in_(ids)))} if ids else {}
            included: list[dict[str, Any]] = []
            if s.include_endpoints and ids:
                rows = await conn.execute(
                    sa.select(e.c.resource).join(link, link.c.endpoint_id == e.c.id)
                    .where(link.c.organization_id.in_(ids)).distinct().order_by(e.c.resource))
                included = [json.loads(r.resource) for r in rows]
        resources = [(json.loads(found[m.row.id]), m.distance_miles) for m in page
                     if m.row.id in found]
        return SearchPage(total=len(matches), resources=resources, included=included)

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
            rows = await conn.execute(sa.select(e.c.resource).where(*where).order_by(e.c.id)
                                      .offset(s.start).limit(s.count))
            resources = [(json.loads(r.resource), None) for r in rows]
        return SearchPage(total=int(total or 0), resources=resources, included=[])

    async def row(self, organization_id: str) -> tuple[IndexRow, tuple[CommunityEndpoint, ...]
                                                       ] | None:
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
                frontier = {p for r in rows.values()
                            for p in (r.part_of, r.managing_organization) if p} - found
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


def _meta(resource: dict[str, Any]) -> tuple[int, int]:
    """(version, lastUpdated in microseconds) from a replica's meta; 1 and 0 when absent."""
    meta = resource.get("meta") or {}
    version_id = str(meta.get("versionId", "1"))
    updated = meta.get("lastUpdated")
    us = to_microseconds(_parse_instant(updated)) if isinstance(updated, str) else 0
    return (int(version_id) if version_id.isdigit() else 1), us


def _parse_instant(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
