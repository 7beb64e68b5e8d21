"""Screening directory entries before they reach the cache (pure).

A bad entry is skipped and reported, never fatal: a malformed resource or OID, an endpoint of an
unknown connection type (the endpoint is dropped, the organisation kept), an active organisation
left with no endpoint of its own or from its network (SPEC-NOTES §7.3). Problems name the entry
id only: directory data describes organisations, not patients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imx.directory.resources import (
    EndpointEntry,
    OrganizationEntry,
    parse_endpoint,
    parse_organization,
)
from imx.directory.routing import IndexRow, index_row, resolve_endpoints
from imx.errors import MalformedMessageError

__all__ = ["Screened", "drop_unreachable", "screen_resources"]


@dataclass(slots=True, kw_only=True)
class Screened:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, IndexRow] = field(default_factory=dict)  # accepted organisations
    entries: dict[str, OrganizationEntry] = field(default_factory=dict)  # parsed, by id
    skipped_organizations: int = 0
    skipped_endpoints: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, problem: str, *, endpoint: bool = False) -> None:
        if endpoint:
            self.skipped_endpoints += 1
        else:
            self.skipped_organizations += 1
        self.problems.append(problem)


def screen_resources(
    resources: list[dict[str, Any]],
    *,
    cached_endpoint: Callable[[str], EndpointEntry | None] = lambda _id: None,
) -> Screened:
    """Split ``resources`` into what the cache may store and what is skipped (and why).

    The "has an endpoint" check needs ancestors; it is finished by ``drop_unreachable``
    once ancestors outside this batch are known.
    """
    out = Screened()
    endpoints: dict[str, EndpointEntry] = {}
    for resource in (r for r in resources if r.get("resourceType") == "Endpoint"):
        try:
            entry = parse_endpoint(resource)
        except MalformedMessageError as exc:
            out.skip(f"Endpoint {_id(resource)}: {exc.detail}", endpoint=True)
            continue
        if (problem := entry.problem()) is not None:
            out.skip(f"Endpoint {entry.id}: {problem}", endpoint=True)
            continue
        endpoints[entry.id] = entry
        out.accepted.append(resource)
    for resource in (r for r in resources if r.get("resourceType") == "Organization"):
        try:
            org = parse_organization(resource)
        except MalformedMessageError as exc:
            out.skip(f"Organization {_id(resource)}: {exc.detail}")
            continue
        referenced = {
            i: e
            for i in org.endpoint_references
            if (e := endpoints.get(i) or cached_endpoint(i)) is not None
        }
        row, problems = index_row(org, referenced)
        for problem in problems:
            if "referenced but not found" not in problem:  # already counted as an Endpoint
                out.skip(f"Organization {org.id} {problem}", endpoint=True)
        out.rows[org.id] = row
        out.entries[org.id] = org
        out.accepted.append(resource)
    return out


def drop_unreachable(screened: Screened, lookup: Callable[[str], IndexRow | None]) -> None:
    """Skip active organisations with no endpoint, own or inherited (``lookup``: ancestors)."""

    def find(oid: str) -> IndexRow | None:
        return screened.rows.get(oid) or lookup(oid)

    unreachable = {
        oid
        for oid, row in screened.rows.items()
        if row.is_active and not resolve_endpoints(row, find)
    }
    for oid in sorted(unreachable):
        screened.skip(f"Organization {oid}: no usable endpoint of its own or from its network")
        del screened.rows[oid]
        screened.entries.pop(oid, None)
    screened.accepted = [
        r
        for r in screened.accepted
        if not (r.get("resourceType") == "Organization" and _id(r) in unreachable)
    ]


def _id(resource: dict[str, Any]) -> str:
    value = resource.get("id")
    return value[:64] if isinstance(value, str) else "(no id)"
