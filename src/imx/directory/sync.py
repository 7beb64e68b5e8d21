"""Directory sync: full, then incremental by ``_lastUpdated``, into the node cache (httpx).

Reliability per SPEC-NOTES §7.1: timeout 120 s, up to 3 retries with exponential back-off and
full jitter capped at 30 s, on connection errors, timeouts, 429 and 5xx; never on 403 (nor any
other 4xx: the request itself is wrong). Pages with Sequoia's ``_start``/``_count`` (5000).

Incremental sync asks for everything changed since the high-water mark minus an overlap
(``overlap_s``): offset paging during concurrent writes, and a write committed late with an
earlier ``lastUpdated``, can otherwise slip past. Re-applying an entry is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from imx.directory.cache import DirectoryCache
from imx.directory.screen import drop_unreachable, screen_resources
from imx.directory.search import MAX_COUNT, parse_instant, to_microseconds
from imx.directory.store import format_instant
from imx.errors import (
    InvalidRequestError,
    MalformedMessageError,
    NotAuthorizedError,
    NotFoundError,
    PeerUnavailableError,
)

__all__ = ["DirectoryClient", "SyncReport", "run_sync_forever", "sync_directory"]

log = logging.getLogger(__name__)
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_PROBLEMS_KEPT = 200


class DirectoryClient:
    """A FHIR directory over HTTP (ours or Carequality's), with retries."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        headers = {"Accept": "application/fhir+json", "Accept-Encoding": "gzip"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.requests = 0  # attempts made, for reports and tests

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        for attempt in range(self._max_retries + 1):
            self.requests += 1
            try:
                response = await self._http.request(method, path, params=params, json=json)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt == self._max_retries:
                    raise PeerUnavailableError("directory unreachable") from exc
                await self._sleep(self._delay(attempt))
                continue
            if response.status_code in _RETRY_STATUS and attempt < self._max_retries:
                await self._sleep(self._delay(attempt))
                continue
            return _body(response)
        raise PeerUnavailableError("directory unreachable")  # pragma: no cover - loop returns

    def _delay(self, attempt: int) -> float:
        # "Full jitter" (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)].
        return random.uniform(0, min(self._max_backoff_s, self._backoff_s * 2**attempt))  # noqa: S311

    async def pages(
        self, resource_type: str, params: dict[str, str], *, page_size: int = MAX_COUNT
    ) -> AsyncIterator[dict[str, Any]]:
        start = 0
        while True:
            bundle = await self.request(
                "GET",
                f"/{resource_type}",
                params={
                    **params,
                    "_count": str(page_size),
                    "_start": str(start),
                    "_format": "json",
                },
            )
            entries = bundle.get("entry") or []
            yield bundle
            matches = sum(1 for e in entries if (e.get("search") or {}).get("mode") != "include")
            start += matches
            total = bundle.get("total")
            if matches == 0 or (isinstance(total, int) and start >= total):
                return


def _body(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in (401, 403):
        raise NotAuthorizedError(f"directory refused: HTTP {response.status_code}")
    if response.status_code in (400, 409, 412, 422):
        raise InvalidRequestError(f"directory rejected it: {_diagnostics(response)}")
    if response.status_code in (404, 410):
        raise NotFoundError(f"directory: HTTP {response.status_code}")
    if response.status_code >= 300:
        raise PeerUnavailableError(f"directory answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise PeerUnavailableError("directory answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise PeerUnavailableError("directory answered JSON that is not a resource")
    return body


def _diagnostics(response: httpx.Response) -> str:
    try:
        issues = response.json().get("issue") or [{}]
        return str(issues[0].get("diagnostics") or issues[0].get("code") or "")[:200]
    except (ValueError, AttributeError, IndexError):
        return f"HTTP {response.status_code}"


@dataclass(slots=True, kw_only=True)
class SyncReport:
    mode: str  # "full" | "incremental"
    received: int = 0
    stored: int = 0
    skipped_organizations: int = 0
    skipped_endpoints: int = 0
    problems: list[str] = field(default_factory=list)
    high_water: str = ""
    seconds: float = 0.0
    fetch_seconds: float = 0.0  # HTTP and JSON decoding
    store_seconds: float = 0.0  # screening, indexing, writing the cache
    requests: int = 0


async def sync_directory(
    client: DirectoryClient,
    cache: DirectoryCache,
    *,
    full: bool | None = None,
    overlap_s: float = 300.0,
    page_size: int = MAX_COUNT,
) -> SyncReport:
    """Bring ``cache`` up to date; full when asked or when it has never synced.

    Raises ``PeerUnavailableError`` / ``NotAuthorizedError`` when the directory cannot be
    read; the cache is then left as it was (routing keeps using it).
    """
    started = time.perf_counter()
    requests_before = client.requests
    high_water = await cache.high_water_us()
    is_full = full if full is not None else high_water is None
    report = SyncReport(mode="full" if is_full else "incremental")
    params: dict[str, str] = {"_include": "Organization:endpoint", "_sort": "_id"}
    endpoint_params: dict[str, str] = {}
    if not is_full and high_water is not None:
        since = format_instant(max(0, high_water - int(overlap_s * 1_000_000)))
        params["_lastUpdated"] = endpoint_params["_lastUpdated"] = f"ge{since}"
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    fetch_started = time.perf_counter()
    async for bundle in client.pages("Organization", params, page_size=page_size):
        _collect(bundle, resources)
    if not is_full:  # endpoints changed on their own (their organisation did not)
        async for bundle in client.pages("Endpoint", endpoint_params, page_size=page_size):
            _collect(bundle, resources)
    report.received = len(resources)
    report.fetch_seconds = round(time.perf_counter() - fetch_started, 3)
    store_started = time.perf_counter()
    await _store(cache, list(resources.values()), report, is_full=is_full)
    report.store_seconds = round(time.perf_counter() - store_started, 3)
    newest = max((_updated_us(r) for r in resources.values()), default=0)
    if is_full or newest > (high_water or 0):
        await cache.set_high_water_us(max(newest, high_water or 0))
    report.high_water = format_instant(max(newest, high_water or 0))
    report.seconds = round(time.perf_counter() - started, 3)
    report.requests = client.requests - requests_before
    log.info(
        "directory sync",
        extra={
            "mode": report.mode,
            "received": report.received,
            "stored": report.stored,
            "skipped_organizations": report.skipped_organizations,
            "skipped_endpoints": report.skipped_endpoints,
            "seconds": report.seconds,
        },
    )
    return report


async def _store(
    cache: DirectoryCache, resources: list[dict[str, Any]], report: SyncReport, *, is_full: bool
) -> None:
    cached_endpoints = {}
    if not is_full:
        wanted = {
            ref.get("reference", "").rsplit("/", 1)[-1]
            for r in resources
            if r.get("resourceType") == "Organization"
            for ref in r.get("endpoint") or []
            if isinstance(ref, dict)
        }
        for endpoint_id in wanted:
            if endpoint_id and (found := await cache.endpoint(endpoint_id)) is not None:
                cached_endpoints[endpoint_id] = found
    # Parsing thousands of entries is CPU work: keep it off the node's event loop.
    screened = await anyio.to_thread.run_sync(
        lambda: screen_resources(resources, cached_endpoint=cached_endpoints.get)
    )
    ancestors = {} if is_full else await _cached_ancestors(cache, screened.rows)
    drop_unreachable(screened, ancestors.get)
    for problem in screened.problems:
        log.warning("directory entry skipped: %s", problem)
    report.skipped_organizations = screened.skipped_organizations
    report.skipped_endpoints = screened.skipped_endpoints
    report.problems = screened.problems[:_MAX_PROBLEMS_KEPT]
    await cache.apply(screened.accepted, replace_all=is_full, parsed=screened.entries)
    report.stored = len(screened.accepted)


async def _cached_ancestors(cache: DirectoryCache, rows: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    wanted = {r.parent for r in rows.values() if not r.endpoints and r.parent} - rows.keys()
    for _ in range(8):
        if not wanted:
            break
        more = await cache.rows(sorted(wanted))
        found.update(more)
        wanted = {r.parent for r in more.values() if not r.endpoints and r.parent}
        wanted -= found.keys() | rows.keys()
    return found


def _collect(bundle: dict[str, Any], into: dict[tuple[str, str], dict[str, Any]]) -> None:
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") in (
            "Organization",
            "Endpoint",
        ):
            key = (resource["resourceType"], str(resource.get("id")))
            if key not in into or _updated_us(resource) >= _updated_us(into[key]):
                into[key] = resource


def _updated_us(resource: dict[str, Any]) -> int:
    meta = resource.get("meta") or {}
    value = meta.get("lastUpdated") if isinstance(meta, dict) else None
    if not isinstance(value, str):
        return 0
    try:
        return to_microseconds(parse_instant(value))
    except MalformedMessageError:
        return 0


async def run_sync_forever(
    client: DirectoryClient,
    cache: DirectoryCache,
    *,
    interval_s: float,
    stop: asyncio.Event,
    full_every: int = 24,
) -> None:
    """Sync now and every ``interval_s`` until ``stop``; a full sync every ``full_every`` runs.

    A failed run is logged and retried at the next tick: routing keeps reading the cache.
    """
    runs = 0
    while not stop.is_set():
        try:
            await sync_directory(client, cache, full=True if runs % full_every == 0 else None)
        except (PeerUnavailableError, NotAuthorizedError, NotFoundError) as exc:
            log.warning(
                "directory sync failed; routing continues from the cache",
                extra={"error": exc.detail},
            )
        runs += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
