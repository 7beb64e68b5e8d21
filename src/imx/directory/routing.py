"""The routing view of directory entries: usable endpoints, inheritance, ``Community``.

A facility without its own endpoints is reached through the gateway of its ``partOf`` (or
managing) organisation: walk up until an ancestor has endpoints (SPEC-NOTES §7.3, Metriport's
root-org logic). Pure: callers hand in a look-up for ancestors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from imx.directory.resources import EndpointEntry, OrganizationEntry
from imx.model.community import Community, CommunityEndpoint

__all__ = ["MAX_ANCESTRY", "IndexRow", "index_row", "resolve_endpoints", "to_community"]

MAX_ANCESTRY = 8  # deeper chains (or cycles) are data errors; stop instead of looping


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexRow:
    """One organisation as the search index and the cache hold it (own usable endpoints only)."""

    id: str
    name: str
    is_active: bool
    city: str = ""
    state: str = ""
    postal_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    part_of: str = ""
    managing_organization: str = ""
    endpoints: tuple[CommunityEndpoint, ...] = ()

    @property
    def parent(self) -> str:
        return self.part_of or self.managing_organization


def usable_endpoints(
    endpoints: Iterable[EndpointEntry],
) -> tuple[tuple[CommunityEndpoint, ...], list[str]]:
    """Endpoints routing can use, and a problem line for each one it cannot."""
    usable: list[CommunityEndpoint] = []
    problems: list[str] = []
    for e in endpoints:
        if not e.is_active:
            continue  # off on purpose: not a data error
        problem = e.problem()
        if problem is not None or e.transaction is None:
            problems.append(f"endpoint {e.id}: {problem}")
            continue
        usable.append(
            CommunityEndpoint(
                transaction=e.transaction, address=e.address, purposes_of_use=e.purposes_of_use
            )
        )
    return tuple(usable), problems


def index_row(
    org: OrganizationEntry, referenced: Mapping[str, EndpointEntry]
) -> tuple[IndexRow, list[str]]:
    """The index row of ``org``; ``referenced`` holds its separate Endpoint resources by id."""
    problems: list[str] = []
    found: list[EndpointEntry] = list(org.contained_endpoints)
    for endpoint_id in org.endpoint_references:
        if endpoint_id in referenced:
            found.append(referenced[endpoint_id])
        else:
            problems.append(f"endpoint {endpoint_id}: referenced but not found")
    usable, bad = usable_endpoints(found)
    row = IndexRow(
        id=org.id,
        name=org.name,
        is_active=org.is_active,
        city=org.city,
        state=org.state,
        postal_code=org.postal_code,
        latitude=org.latitude,
        longitude=org.longitude,
        part_of=org.part_of,
        managing_organization=org.managing_organization,
        endpoints=usable,
    )
    return row, problems + bad


def resolve_endpoints(
    row: IndexRow, lookup: Callable[[str], IndexRow | None]
) -> tuple[CommunityEndpoint, ...]:
    """``row``'s own endpoints, else the nearest ancestor's (inactive ancestors give none)."""
    seen = {row.id}
    current: IndexRow | None = row
    for _ in range(MAX_ANCESTRY):
        if current is None:
            return ()
        if current.endpoints:
            return current.endpoints
        parent_id = current.parent
        if not parent_id or parent_id in seen:
            return ()
        seen.add(parent_id)
        current = lookup(parent_id)
        if current is not None and not current.is_active:
            return ()
    return ()


def to_community(row: IndexRow, endpoints: tuple[CommunityEndpoint, ...]) -> Community:
    managing = row.managing_organization or row.part_of
    return Community(
        home_community_id=f"urn:oid:{row.id}",
        name=row.name,
        endpoints=endpoints,
        active=row.is_active,
        city=row.city,
        state=row.state,
        postal_code=row.postal_code,
        latitude=row.latitude,
        longitude=row.longitude,
        managing_organization=f"urn:oid:{managing}" if managing else "",
    )


def with_endpoints(row: IndexRow, endpoints: tuple[CommunityEndpoint, ...]) -> IndexRow:
    return replace(row, endpoints=endpoints)
