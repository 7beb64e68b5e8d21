"""Self-service publishing of a node's entries, and the organisation view served from the cache."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from imx.directory.cache import DirectoryCache
from imx.directory.publish import FacilitySpec, PublishSpec, node_entries, publish
from imx.directory.sync import DirectoryClient, sync_directory
from imx.directory.view_routes import organization_routes
from imx.errors import InvalidRequestError, MalformedMessageError, NotAuthorizedError
from tests.unit.directory.conftest import Directory

NODE = "1.3.6.1.4.1.21367.2026.7"
SPEC = PublishSpec(
    home_community_id=f"urn:oid:{NODE}",
    name="Imx Imaging Network",
    base_url="https://imx.example.org/",
    city="New York",
    state="NY",
    postal_code="10001",
    facilities=(
        FacilitySpec(
            oid=f"{NODE}.1",
            name="Imx Brooklyn Imaging",
            city="Brooklyn",
            state="NY",
            postal_code="11201",
        ),
    ),
)


def _client(directory: Directory, token: str) -> DirectoryClient:
    transport = httpx.ASGITransport(app=directory.http._transport.app)  # type: ignore[attr-defined]
    return DirectoryClient("http://directory.test", api_key=token, transport=transport)


def test_node_entries_describe_every_responding_transaction_at_the_node() -> None:
    org, *rest = node_entries(SPEC)
    endpoints = [r for r in rest if r["resourceType"] == "Endpoint"]
    assert {e["address"] for e in endpoints} == {
        "https://imx.example.org/xcpd",
        "https://imx.example.org/xca/query",
        "https://imx.example.org/xca/retrieve",
        "https://imx.example.org/xdsi/retrieve",
        "https://imx.example.org/xcai/retrieve",
        "https://imx.example.org/dicom-web",
    }
    assert [r["reference"] for r in org["endpoint"]] == [f"Endpoint/{e['id']}" for e in endpoints]
    facility = rest[-1]
    assert facility["partOf"] == {"reference": f"Organization/{NODE}"}
    with pytest.raises(MalformedMessageError, match="not an OID"):
        node_entries(PublishSpec(home_community_id="urn:oid:1.02", name="x", base_url="https://x"))


async def test_a_node_publishes_itself_and_its_facility_inherits_its_gateway(
    directory: Directory,
) -> None:
    token = await directory.auth.issue_token(NODE)
    client = _client(directory, token)
    done = await publish(client, node_entries(SPEC))
    assert done[0] == f"Organization/{NODE}/_history/1"
    again = await publish(client, node_entries(SPEC))  # idempotent re-publish: new versions
    assert again[0] == f"Organization/{NODE}/_history/2"

    cache = await DirectoryCache.open(":memory:")
    await sync_directory(_client(directory, token), cache)
    facility = await cache.get(f"urn:oid:{NODE}.1")
    assert facility is not None
    assert facility.endpoint("RAD-75") == "https://imx.example.org/xcai/retrieve"
    await cache.close()


async def test_publishing_someone_elses_entries_is_refused(directory: Directory) -> None:
    await publish(_client(directory, await directory.auth.issue_token(NODE)), node_entries(SPEC))
    intruder = _client(directory, await directory.auth.issue_token("1.2.840.99"))
    with pytest.raises(NotAuthorizedError):
        await publish(intruder, node_entries(SPEC))
    bad = node_entries(SPEC)[0] | {"name": ""}
    with pytest.raises(InvalidRequestError, match="name"):
        await publish(_client(directory, "admin-token-for-tests"), [bad])


async def test_organization_view_lists_name_address_distance_and_capabilities(
    directory: Directory,
) -> None:
    await publish(_client(directory, await directory.auth.issue_token(NODE)), node_entries(SPEC))
    cache = await DirectoryCache.open(":memory:")
    await sync_directory(_client(directory, "x"), cache)
    app = Starlette(routes=organization_routes(cache))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as http:
        body = (
            await http.get(
                "/organizations",
                params={"near_postal_code": "10001", "radius_miles": "20", "transaction": "RAD-75"},
            )
        ).json()
        assert body["total"] == 2
        first, second = body["organizations"]
        assert (first["name"], first["distance_miles"]) == ("Imx Imaging Network", 0.0)
        assert second["name"] == "Imx Brooklyn Imaging" and 3 < second["distance_miles"] < 6
        labels = [c["label"] for c in second["capabilities"]]
        assert "Imaging retrieve (XCA-I)" in labels and "Patient discovery (XCPD)" in labels
        one = await http.get(f"/organizations/urn:oid:{NODE}")
        assert one.json()["address"] == {"city": "New York", "state": "NY", "postal_code": "10001"}
        assert (await http.get("/organizations/urn:oid:9.9")).status_code == 404
        bad = await http.get("/organizations", params={"near_postal_code": "00000"})
        assert bad.status_code == 400
        assert bad.json()["resourceType"] == "OperationOutcome"
    await cache.close()


async def test_cache_filters_by_name_state_and_postal_code(directory: Directory) -> None:
    await publish(_client(directory, await directory.auth.issue_token(NODE)), node_entries(SPEC))
    cache = await DirectoryCache.open(":memory:")
    await sync_directory(_client(directory, "x"), cache)
    assert [c.name for c in await cache.find_communities(name="BROOKLYN")] == [
        "Imx Brooklyn Imaging"
    ]
    assert len(await cache.find_communities(state="ny")) == 2
    assert [c.postal_code for c in await cache.find_communities(postal_code="112")] == ["11201"]
    assert await cache.find_communities(transaction="FHIR") == []
    with pytest.raises(MalformedMessageError):
        await cache.find_communities(transaction="ITI-99")
    await cache.close()
