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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imx.directory.resources import (
    EndpointEntry,
    OrganizationEntry,
    fold,
    parse_endpoint,
    parse_organization,
)
from imx.directory.routing import index_row
from imx.directory.search import to_microseconds
from imx.directory.store_queries import Match, SearchPage, StoreQueries
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


def _endpoints_json(endpoints: Iterable[CommunityEndpoint]) -> str:
    return json.dumps([[e.transaction, e.address, list(e.purposes_of_use)] for e in endpoints])


def _transactions_column(endpoints: Iterable[CommunityEndpoint]) -> str:
    """ " ITI-55 RAD-75 " (so LIKE '% RAD-75 %' matches a whole key), " " when there are none."""
    keys = sorted({e.transaction for e in endpoints})
    return f" {' '.join(keys)} " if keys else " "


class DirectoryStore(StoreQueries):
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
                    h.c.resource_type == resource_type,
                    h.c.id == resource_id,
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
                sa.select(h.c.resource)
                .where(*where)
                .order_by(h.c.last_updated_us.desc(), h.c.id)
                .offset(start)
                .limit(count)
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
            parse_organization(resource)
            if resource_type == "Organization"
            else parse_endpoint(resource)
        )
        table = self._table(str(resource_type))
        async with self._write_lock:
            try:
                async with self.engine.begin() as conn:
                    old = await conn.scalar(
                        sa.select(table.c.version).where(table.c.id == entry.id)
                    )
                    version = int(old or 0) + 1
                    us = self._next_instant_us()
                    stored = {**resource, "id": entry.id}
                    stored["meta"] = {
                        **_meta_dict(resource),
                        "versionId": str(version),
                        "lastUpdated": format_instant(us),
                    }
                    await self._write(conn, stored, version=version, us=us)
                    await conn.execute(
                        sa.insert(self.t.history).values(
                            resource_type=resource_type,
                            id=entry.id,
                            version=version,
                            last_updated_us=us,
                            resource=_dumps(stored),
                        )
                    )
            except SQLAlchemyError as exc:
                raise StoreError("directory write failed") from exc
        return stored, old is None

    async def put_replica(
        self,
        resources: Sequence[dict[str, Any]],
        *,
        replace_all: bool = False,
        parsed: Mapping[str, OrganizationEntry] | None = None,
    ) -> None:
        """Store resources as the source sent them (the node cache): no history, their meta.

        ``replace_all`` (a full sync) empties the tables in the same transaction, so readers
        see the old set or the new one, never an empty cache. Bulk: a few statements per 500
        resources, whatever the count (10,000 organisations one statement each took ~30 s on
        aiosqlite). Callers hand in screened resources (``screen``), and may hand in the
        entries the screening parsed (by id) so they are not parsed twice.
        """
        try:
            async with self.engine.begin() as conn:
                await self._bulk(conn, resources, replace_all=replace_all, parsed=parsed)
        except SQLAlchemyError as exc:
            raise StoreError("directory cache write failed") from exc

    async def put_many(self, resources: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``put`` for many resources in one transaction (admin loads, the benchmark)."""
        parsed = [
            (
                r,
                parse_organization(r).id
                if r.get("resourceType") == "Organization"
                else parse_endpoint(r).id,
            )
            for r in resources
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
                            rows = await conn.execute(
                                sa.select(table.c.id, table.c.version).where(
                                    table.c.id.in_(ids[n : n + _CHUNK])
                                )
                            )
                            versions.update({(kind, r.id): r.version for r in rows})
                    for resource, resource_id in parsed:
                        key = (resource["resourceType"], resource_id)
                        versions[key] = versions.get(key, 0) + 1
                        stored.append(
                            {
                                **resource,
                                "id": resource_id,
                                "meta": {
                                    **_meta_dict(resource),
                                    "versionId": str(versions[key]),
                                    "lastUpdated": format_instant(self._next_instant_us()),
                                },
                            }
                        )
                    await self._bulk(conn, stored, replace_all=False)
                    await conn.execute(
                        sa.insert(self.t.history),
                        [
                            {
                                "resource_type": r["resourceType"],
                                "id": r["id"],
                                "version": int(r["meta"]["versionId"]),
                                "last_updated_us": _meta(r)[1],
                                "resource": _dumps(r),
                            }
                            for r in stored
                        ],
                    )
            except SQLAlchemyError as exc:
                raise StoreError("directory write failed") from exc
        return stored

    async def _bulk(
        self,
        conn: AsyncConnection,
        resources: Sequence[dict[str, Any]],
        *,
        replace_all: bool,
        parsed: Mapping[str, OrganizationEntry] | None = None,
    ) -> None:
        endpoints = [r for r in resources if r.get("resourceType") == "Endpoint"]
        organizations = [r for r in resources if r.get("resourceType") == "Organization"]
        if replace_all:
            for table in (self.t.organization, self.t.endpoint, self.t.organization_endpoint):
                await conn.execute(sa.delete(table))
        await self._replace_endpoints(conn, endpoints)
        batch: dict[str, tuple[OrganizationEntry, dict[str, Any]]] = {}
        known = parsed or {}
        for r in organizations:
            resource_id = r.get("id")
            found = known.get(resource_id) if isinstance(resource_id, str) else None
            entry = found if found is not None else parse_organization(r)
            batch[entry.id] = (entry, r)
        # Organisations outside the batch that reference a changed endpoint: re-index.
        changed = [parse_endpoint(r).id for r in endpoints]
        link, o = self.t.organization_endpoint, self.t.organization
        for i in range(0, len(changed), _CHUNK):
            owners = await conn.execute(
                sa.select(o.c.resource)
                .join(link, link.c.organization_id == o.c.id)
                .where(link.c.endpoint_id.in_(changed[i : i + _CHUNK]))
            )
            for row in owners:
                owner = json.loads(row.resource)
                entry = parse_organization(owner)
                batch.setdefault(entry.id, (entry, owner))
        await self._replace_organizations(conn, list(batch.values()))

    async def _replace_endpoints(
        self, conn: AsyncConnection, resources: list[dict[str, Any]]
    ) -> None:
        e = self.t.endpoint
        values = []
        for resource in resources:
            entry = parse_endpoint(resource)
            version, us = _meta(resource)
            values.append(
                {
                    "id": entry.id,
                    "version": version,
                    "last_updated_us": us,
                    "organization": entry.managing_organization,
                    "connection_type": entry.connection_type,
                    "status": "active" if entry.is_active else "off",
                    "resource": _dumps(resource),
                }
            )
        await self._replace(conn, e, values)

    async def _replace(
        self, conn: AsyncConnection, table: sa.Table, values: list[dict[str, Any]]
    ) -> None:
        values = list({v["id"]: v for v in values}.values())  # the same id twice: last wins
        ids = [v["id"] for v in values]
        for i in range(0, len(ids), _CHUNK):
            await conn.execute(sa.delete(table).where(table.c.id.in_(ids[i : i + _CHUNK])))
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
                sa.select(e.c.resource).where(e.c.id.in_(wanted[i : i + _CHUNK]))
            )
            for r in rows:
                found = parse_endpoint(json.loads(r.resource))
                referenced[found.id] = found

        def build_rows() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
            values: list[dict[str, Any]] = []
            links: list[dict[str, str]] = []
            for entry, resource in zip(entries, resources, strict=True):
                version, us = _meta(resource)
                values.append(self._organization_values(entry, resource, referenced, version, us))
                links += [
                    {"organization_id": entry.id, "endpoint_id": x}
                    for x in dict.fromkeys(entry.endpoint_references)
                ]
            return values, links

        # Indexing and encoding 10,000 rows is seconds of CPU: off the event loop, so a node
        # syncing its cache keeps answering (CONVENTIONS §7, CPU-heavy work in a thread).
        values, links = await anyio.to_thread.run_sync(build_rows)
        await self._replace(conn, self.t.organization, values)
        link = self.t.organization_endpoint
        ids = [entry.id for entry in entries]
        for i in range(0, len(ids), _CHUNK):
            await conn.execute(
                sa.delete(link).where(link.c.organization_id.in_(ids[i : i + _CHUNK]))
            )
        if links:
            await conn.execute(sa.insert(link), links)

    async def _write(
        self, conn: AsyncConnection, resource: dict[str, Any], *, version: int, us: int
    ) -> None:
        if resource["resourceType"] == "Endpoint":
            await self._write_endpoint(conn, parse_endpoint(resource), resource, version, us)
        else:
            await self._write_organization(
                conn, parse_organization(resource), resource, version, us
            )

    async def _write_endpoint(
        self,
        conn: AsyncConnection,
        entry: EndpointEntry,
        resource: dict[str, Any],
        version: int,
        us: int,
    ) -> None:
        e = self.t.endpoint
        await conn.execute(sa.delete(e).where(e.c.id == entry.id))
        await conn.execute(
            sa.insert(e).values(
                id=entry.id,
                version=version,
                last_updated_us=us,
                organization=entry.managing_organization,
                connection_type=entry.connection_type,
                status="active" if entry.is_active else "off",
                resource=_dumps(resource),
            )
        )
        # Organisations that reference this endpoint serve what it serves now: re-index them.
        link = self.t.organization_endpoint
        o = self.t.organization
        owners = await conn.execute(
            sa.select(o.c.resource, o.c.version, o.c.last_updated_us)
            .join(link, link.c.organization_id == o.c.id)
            .where(link.c.endpoint_id == entry.id)
        )
        for owner in owners.fetchall():
            org_resource = json.loads(owner.resource)
            await self._write_organization(
                conn,
                parse_organization(org_resource),
                org_resource,
                owner.version,
                owner.last_updated_us,
            )

    async def _write_organization(
        self,
        conn: AsyncConnection,
        entry: OrganizationEntry,
        resource: dict[str, Any],
        version: int,
        us: int,
    ) -> None:
        e, o, link = self.t.endpoint, self.t.organization, self.t.organization_endpoint
        referenced: dict[str, EndpointEntry] = {}
        if entry.endpoint_references:
            rows = await conn.execute(
                sa.select(e.c.resource).where(e.c.id.in_(entry.endpoint_references))
            )
            for r in rows:
                found = parse_endpoint(json.loads(r.resource))
                referenced[found.id] = found
        values = self._organization_values(entry, resource, referenced, version, us)
        await conn.execute(sa.delete(o).where(o.c.id == entry.id))
        await conn.execute(sa.insert(o).values(**values))
        await conn.execute(sa.delete(link).where(link.c.organization_id == entry.id))
        if entry.endpoint_references:
            await conn.execute(
                sa.insert(link),
                [
                    {"organization_id": entry.id, "endpoint_id": x}
                    for x in dict.fromkeys(entry.endpoint_references)
                ],
            )

    @staticmethod
    def _organization_values(
        entry: OrganizationEntry,
        resource: dict[str, Any],
        referenced: dict[str, EndpointEntry],
        version: int,
        us: int,
    ) -> dict[str, Any]:
        row, _problems = index_row(entry, referenced)
        return {
            "id": row.id,
            "version": version,
            "last_updated_us": us,
            "is_active": row.is_active,
            "name": row.name,
            "name_folded": fold(row.name),
            "city": row.city,
            "city_folded": fold(row.city),
            "state": row.state,
            "state_folded": fold(row.state),
            "postal_code": row.postal_code,
            "latitude": row.latitude,
            "longitude": row.longitude,
            "part_of": row.part_of,
            "managing_organization": row.managing_organization,
            "transactions": _transactions_column(row.endpoints),
            "endpoints": _endpoints_json(row.endpoints),
            "resource": _dumps(resource),
        }


def _meta_dict(resource: dict[str, Any]) -> dict[str, Any]:
    meta = resource.get("meta")
    return meta if isinstance(meta, dict) else {}


def _meta(resource: dict[str, Any]) -> tuple[int, int]:
    """(version, lastUpdated in microseconds) from a replica's meta; 1 and 0 when absent."""
    meta = _meta_dict(resource)
    version_id = str(meta.get("versionId", "1"))
    updated = meta.get("lastUpdated")
    try:
        us = to_microseconds(_parse_instant(updated)) if isinstance(updated, str) else 0
    except ValueError:
        us = 0  # a replica keeps a bad lastUpdated out of the high-water mark
    # versionId is a string; anything but a small number counts as version 1.
    return (int(version_id) if version_id.isdigit() and len(version_id) < 9 else 1), us


def _parse_instant(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
