"""Sync into the node cache: full then incremental, bad entries skipped, retries, outages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from imx.directory.builders import build_endpoint, build_organization
from imx.directory.cache import DirectoryCache
from imx.directory.sync import DirectoryClient, sync_directory
from imx.errors import NotAuthorizedError, PeerUnavailableError
from tests.unit.directory.conftest import Directory

NET, FACILITY, SOLO = "1.2.840.10008.7.1", "1.2.840.10008.7.1.1", "1.2.840.10008.7.2"


@pytest.fixture
async def cache() -> AsyncIterator[DirectoryCache]:
    c = await DirectoryCache.open(":memory:")
    yield c
    await c.close()


def _client(directory: Directory) -> DirectoryClient:
    transport = httpx.ASGITransport(app=directory.http._transport.app)  # type: ignore[attr-defined]
    return DirectoryClient("http://directory.test", transport=transport)


def _endpoint(oid: str, key: str, host: str) -> dict[str, Any]:
    return build_endpoint(
        endpoint_id=f"{oid}-{key.lower()}",
        transaction=key,
        address=f"https://{host}/{key.lower()}",
        organization_oid=oid,
    )


async def _seed(directory: Directory) -> None:
    gw = _endpoint(NET, "RAD-75", "net.example")
    for resource in (
        build_organization(oid=NET, name="Net", postal_code="10001", endpoint_ids=[gw["id"]]),
        gw,
        build_organization(oid=FACILITY, name="Net Clinic", postal_code="10003", part_of=NET),
        build_organization(
            oid=SOLO,
            name="Solo Imaging",
            postal_code="07030",
            contained_endpoints=[_endpoint(SOLO, "ITI-55", "solo.example")],
        ),
    ):
        await directory.store.put(resource)


async def test_full_then_incremental_sync_picks_up_one_change(
    directory: Directory, cache: DirectoryCache
) -> None:
    await _seed(directory)
    client = _client(directory)
    full = await sync_directory(client, cache)
    assert (full.mode, full.stored, full.skipped_organizations) == ("full", 4, 0)
    facility = await cache.get(f"urn:oid:{FACILITY}")
    assert facility is not None and facility.endpoint("RAD-75") == "https://net.example/rad-75"

    org = await directory.store.read("Organization", SOLO)
    await directory.store.put({**org, "name": "Solo Imaging Renamed"})  # type: ignore[dict-item]
    incremental = await sync_directory(client, cache, overlap_s=0)
    assert incremental.mode == "incremental"
    assert incremental.received == 1  # only the change crosses the wire
    renamed = await cache.get(SOLO)
    assert renamed is not None and renamed.name == "Solo Imaging Renamed"
    await client.aclose()


async def test_an_endpoint_change_alone_reaches_the_inheriting_facility(
    directory: Directory, cache: DirectoryCache
) -> None:
    await _seed(directory)
    client = _client(directory)
    await sync_directory(client, cache)
    moved = _endpoint(NET, "RAD-75", "new-gateway.example")
    await directory.store.put(moved)
    await sync_directory(client, cache, overlap_s=0)
    facility = await cache.get(FACILITY)
    assert facility is not None
    assert facility.endpoint("RAD-75") == "https://new-gateway.example/rad-75"


async def test_deactivation_removes_an_organization_from_routing(
    directory: Directory, cache: DirectoryCache
) -> None:
    await _seed(directory)
    client = _client(directory)
    await sync_directory(client, cache)
    org = await directory.store.read("Organization", SOLO)
    await directory.store.put({**org, "active": False})  # type: ignore[dict-item]
    await sync_directory(client, cache, overlap_s=0)
    assert SOLO not in {
        c.home_community_id.removeprefix("urn:oid:") for c in await cache.find_communities()
    }
    inactive = await cache.get(SOLO)
    assert inactive is not None and inactive.active is False


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def _upstream(resources: list[dict[str, Any]]) -> httpx.MockTransport:
    """A foreign directory (e.g. Carequality's) that serves whatever it holds, bad or not."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Organization") and request.url.params["_start"] == "0":
            return httpx.Response(200, json=_bundle(resources))
        return httpx.Response(200, json=_bundle([]))

    return httpx.MockTransport(handle)


async def test_malformed_entries_are_skipped_counted_and_reported(cache: DirectoryCache) -> None:
    good = build_organization(
        oid=NET,
        name="Net",
        contained_endpoints=[
            _endpoint(NET, "ITI-55", "net.example"),
            _endpoint(NET, "ITI-38", "net.example"),
        ],
    )
    good["contained"][1]["connectionType"]["code"] = "direct-project"  # one bad endpoint
    bad_oid = build_organization(
        oid="1.2.3", name="Bad", contained_endpoints=[_endpoint("1.2.3", "ITI-55", "bad.example")]
    )
    bad_oid["id"] = bad_oid["identifier"][0]["value"] = "1.02.3"
    unknown_type = build_organization(
        oid=SOLO,
        name="Direct only",
        contained_endpoints=[_endpoint(SOLO, "ITI-55", "solo.example")],
    )
    unknown_type["contained"][0]["connectionType"]["code"] = "secure-email"
    orphan = build_organization(oid="1.2.840.10008.7.9", name="No endpoint")
    facility = build_organization(oid=FACILITY, name="Clinic", part_of=NET)
    garbage = {"resourceType": "Organization", "name": 42}
    client = DirectoryClient(
        "http://cq.test/fhir",
        transport=_upstream([good, bad_oid, unknown_type, orphan, facility, garbage]),
    )

    report = await sync_directory(client, cache)

    assert report.stored == 2  # good + its facility
    assert report.skipped_organizations == 4  # bad OID, only-unknown-type, orphan, garbage
    assert report.skipped_endpoints == 2  # direct-project and secure-email
    joined = "\n".join(report.problems)
    assert "1.02.3" in joined and "unknown connection type 'secure-email'" in joined
    assert "1.2.840.10008.7.9: no usable endpoint" in joined
    kept = await cache.get(NET)
    assert kept is not None and [e.transaction for e in kept.endpoints] == ["ITI-55"]
    assert await cache.get(SOLO) is None


async def test_retries_with_backoff_then_succeeds(cache: DirectoryCache) -> None:
    calls: list[int] = []
    delays: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= 2:
            return httpx.Response(503)
        return httpx.Response(200, json=_bundle([]))

    async def sleep(s: float) -> None:
        delays.append(s)

    client = DirectoryClient("http://cq.test", transport=httpx.MockTransport(handle), sleep=sleep)
    await sync_directory(client, cache)
    assert len(calls) == 3
    assert len(delays) == 2 and delays[0] <= 1.0 and delays[1] <= 2.0  # capped exponential


async def test_403_is_not_retried(cache: DirectoryCache) -> None:
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(403, json={"resourceType": "OperationOutcome", "issue": []})

    async def sleep(s: float) -> None:
        raise AssertionError("no back-off on 403")

    client = DirectoryClient("http://cq.test", transport=httpx.MockTransport(handle), sleep=sleep)
    with pytest.raises(NotAuthorizedError):
        await sync_directory(client, cache)
    assert calls == [1]


async def test_directory_down_routing_still_answers_from_the_cache(
    directory: Directory, cache: DirectoryCache
) -> None:
    await _seed(directory)
    await sync_directory(_client(directory), cache)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def no_wait(s: float) -> None:
        return None

    offline = DirectoryClient(
        "http://directory.test", transport=httpx.MockTransport(down), sleep=no_wait
    )
    with pytest.raises(PeerUnavailableError):
        await sync_directory(offline, cache)
    assert offline.requests == 4  # first try + 3 retries (SPEC-NOTES §7.1)
    found = await cache.find_communities(
        transaction="RAD-75", near_postal_code="10001", radius_miles=10
    )
    assert [c.home_community_id for c in found] == [f"urn:oid:{NET}", f"urn:oid:{FACILITY}"]
    assert json.dumps(found[1].endpoints[0].address) == '"https://net.example/rad-75"'


async def test_scheduled_sync_survives_an_outage_and_stops_on_request(
    cache: DirectoryCache, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from imx.directory.sync import run_sync_forever

    org = build_organization(
        oid=NET, name="Net", contained_endpoints=[_endpoint(NET, "ITI-55", "net.example")]
    )
    stop = asyncio.Event()
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ConnectError("down", request=request)
        if len(calls) >= 3:
            stop.set()  # the run in progress finishes; no further run starts
        return httpx.Response(200, json=_bundle([org] if len(calls) == 2 else []))

    client = DirectoryClient("http://cq.test", transport=httpx.MockTransport(handle), max_retries=0)
    await asyncio.wait_for(run_sync_forever(client, cache, interval_s=0.01, stop=stop), 10)
    assert "routing continues from the cache" in caplog.text
    assert await cache.get(NET) is not None


async def test_facilities_of_a_network_that_goes_inactive_drop_out_of_routing(
    directory: Directory, cache: DirectoryCache
) -> None:
    await _seed(directory)
    client = _client(directory)
    await sync_directory(client, cache)
    assert FACILITY in {
        c.home_community_id.removeprefix("urn:oid:") for c in await cache.find_communities()
    }
    network = await directory.store.read("Organization", NET)
    await directory.store.put({**network, "active": False})  # type: ignore[dict-item]
    await sync_directory(client, cache, overlap_s=0)
    routable = {
        c.home_community_id.removeprefix("urn:oid:") for c in await cache.find_communities()
    }
    assert routable == {SOLO}
    everything = await cache.find_communities(active=False)
    assert {NET, FACILITY, SOLO} == {
        c.home_community_id.removeprefix("urn:oid:") for c in everything
    }
