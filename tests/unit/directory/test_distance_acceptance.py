"""Acceptance: 10,000 organisations over real ZIPs; "active, offering XCA-I, within 50 miles
of ZIP 10001" is exactly the brute-force haversine answer, through the cache and over FHIR."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pytest
import zipcodes

from imx.directory.app import build_directory_app
from imx.directory.cache import DirectoryCache
from imx.directory.store import DirectoryStore
from imx.directory.synth import generate_organizations
from imx.directory.tokens import Authenticator
from imx.storage.engine import create_engine

N = 10_000
pytestmark = pytest.mark.slow  # ~25 s: generating and indexing 10,000 organisations


def _miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    # Independent of imx.directory.geo: spherical law of cosines, same Earth radius.
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    c = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return 3958.7613 * math.acos(max(-1.0, min(1.0, c)))


def _brute_force(
    orgs: list[dict[str, Any]], zip_code: str, radius: float, transaction_code: str
) -> set[str]:
    z = zipcodes.matching(zip_code)[0]
    center = (float(z["lat"]), float(z["long"]))
    by_id = {o["id"]: o for o in orgs}

    def codes(o: dict[str, Any]) -> set[str]:
        return {
            c["code"]
            for r in o.get("contained", [])
            if r["resourceType"] == "Endpoint"
            for e in r["extension"]
            if e["url"].endswith("/Transaction")
            for c in e["valueCodeableConcept"]["coding"]
        }

    def offered(o: dict[str, Any]) -> set[str]:
        while o is not None and not codes(o):
            parent = o.get("partOf", {}).get("reference", "/").split("/")[1]
            o = by_id.get(parent)  # type: ignore[assignment]
            if o is not None and not o["active"]:
                return set()
        return codes(o) if o is not None else set()

    out = set()
    for o in orgs:
        loc = next(r for r in o["contained"] if r["resourceType"] == "Location")["position"]
        if (
            o["active"]
            and transaction_code in offered(o)
            and _miles(center, (loc["latitude"], loc["longitude"])) <= radius
        ):
            out.add(o["id"])
    return out


@pytest.fixture(scope="module")
def orgs() -> list[dict[str, Any]]:
    return generate_organizations(N, seed=11)


async def _check(store: DirectoryStore, orgs: list[dict[str, Any]]) -> None:
    await store.put_replica(orgs)
    expected = _brute_force(orgs, "10001", 50, "XCA-I RAD-75")
    assert 50 < len(expected) < 1000  # a meaningful, non-trivial answer

    cache = DirectoryCache(store)
    t0 = time.perf_counter()
    found = await cache.find_communities(
        transaction="XCA-I RAD-75", near_postal_code="10001", radius_miles=50
    )
    elapsed = time.perf_counter() - t0
    assert {c.home_community_id.removeprefix("urn:oid:") for c in found} == expected
    distances = [
        _miles((40.7484, -73.9967), (c.latitude, c.longitude))  # type: ignore[arg-type]
        for c in found
    ]
    assert distances == sorted(distances)  # nearest first
    assert all(c.endpoint("RAD-75") for c in found)  # inherited gateways resolved
    assert elapsed < 2.0, f"radius search took {elapsed:.2f} s"

    app = build_directory_app(store, Authenticator(store))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://d.test"
    ) as http:
        bundle = (
            await http.get(
                "/Organization",
                params={
                    "active": "true",
                    "transaction": "XCA-I RAD-75",
                    "near-postalcode": "10001",
                    "near-distance": "50|mi_us",
                    "_count": "5000",
                },
            )
        ).json()
    assert bundle["total"] == len(expected)
    assert {e["resource"]["id"] for e in bundle["entry"]} == expected


async def test_xcai_within_50_miles_of_10001_matches_brute_force_sqlite(
    orgs: list[dict[str, Any]],
) -> None:
    store = DirectoryStore(create_engine("sqlite+aiosqlite://"))
    await store.create_tables()
    try:
        await _check(store, orgs)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_same_answer_on_postgresql(
    postgres_store: DirectoryStore, orgs: list[dict[str, Any]]
) -> None:
    await _check(postgres_store, orgs)
