"""The FHIR REST service: every answer parses strictly as R4, writes are owned, no DELETE."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.endpoint import Endpoint
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization

from imx.directory.builders import build_endpoint, build_organization
from imx.directory.synth import generate_organizations
from tests.unit.directory.conftest import Directory

NET, FACILITY, OTHER = "1.2.840.10008.9.1", "1.2.840.10008.9.1.5", "1.2.840.10008.9.2"


def _org(oid: str, name: str, **kw: Any) -> dict[str, Any]:
    return build_organization(
        oid=oid, name=name, city="New York", state="NY", postal_code="10001", **kw
    )


def _outcome(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = OperationOutcome.model_validate(response.json())
    assert body.issue[0].code == code


async def _network(d: Directory) -> dict[str, str]:
    """NET with a gateway and a facility; OTHER with its own; a token per organisation."""
    gw = build_endpoint(
        endpoint_id=f"{NET}-rad-75",
        transaction="RAD-75",
        address="https://net.example/rad-75",
        organization_oid=NET,
    )
    for resource in (
        _org(NET, "Net Health", endpoint_ids=[gw["id"]]),
        gw,
        _org(FACILITY, "Net Clinic", part_of=NET, managing_organization=NET),
        _org(
            OTHER,
            "Other Imaging",
            contained_endpoints=[
                build_endpoint(
                    endpoint_id="e",
                    transaction="ITI-55",
                    address="https://o.example/x",
                    organization_oid=OTHER,
                )
            ],
        ),
    ):
        assert (await d.put(resource)).status_code == 201
    return {"net": await d.auth.issue_token(NET), "other": await d.auth.issue_token(OTHER)}


async def test_capability_statement_declares_the_directory_search(directory: Directory) -> None:
    response = await directory.http.get("/metadata")
    cs = CapabilityStatement.model_validate(response.json())
    [org] = [r for r in cs.rest[0].resource if r.type == "Organization"]
    names = {p.name for p in org.searchParam}
    assert {
        "name",
        "identifier",
        "partof",
        "active",
        "transaction",
        "near",
        "near-postalcode",
        "address-postalcode",
        "_lastUpdated",
    } <= names
    assert org.searchInclude == ["Organization:endpoint"]


async def test_read_search_include_and_history_are_valid_fhir(directory: Directory) -> None:
    await _network(directory)
    org = (await directory.http.get(f"/Organization/{NET}")).json()
    Organization.model_validate(org)
    assert org["meta"]["versionId"] == "1"
    bundle = (
        await directory.http.get(
            "/Organization", params={"_id": NET, "_include": "Organization:endpoint"}
        )
    ).json()
    Bundle.model_validate(bundle)
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]]
    assert modes == [("Organization", "match"), ("Endpoint", "include")]
    Endpoint.model_validate(bundle["entry"][1]["resource"])
    history = (await directory.http.get("/Organization/_history")).json()
    Bundle.model_validate(history)
    assert history["total"] == 3


async def test_facility_inherits_the_network_gateway_in_search(directory: Directory) -> None:
    await _network(directory)
    bundle = (
        await directory.http.get("/Organization", params={"transaction": "XCA-I RAD-75"})
    ).json()
    assert sorted(e["resource"]["id"] for e in bundle["entry"]) == [NET, FACILITY]
    facilities = (await directory.http.get("/Organization", params={"partof": NET})).json()
    assert [e["resource"]["id"] for e in facilities["entry"]] == [FACILITY]


async def test_name_search_is_contains_and_ignores_accents_and_case(
    directory: Directory,
) -> None:
    await directory.put(_org(NET, "Hôpital Sainte-Thérèse"))
    for query in ("sainte-therese", "HOPITAL", "pital sa"):
        bundle = (await directory.http.get("/Organization", params={"name": query})).json()
        assert bundle["total"] == 1, query
    assert (await directory.http.get("/Organization", params={"name": "xyz"})).json()["total"] == 0


async def test_paging_with_start_and_count_walks_every_entry_once(directory: Directory) -> None:
    for resource in generate_organizations(23, seed=2):
        await directory.store.put(resource)
    seen: list[str] = []
    url: str | None = "/Organization?_count=10"
    while url:
        bundle = (await directory.http.get(url)).json()
        Bundle.model_validate(bundle)
        assert bundle["total"] == 23
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert len(seen) == 23 and len(set(seen)) == 23


async def test_update_makes_a_version_and_last_updated_finds_it(directory: Directory) -> None:
    tokens = await _network(directory)
    before = (await directory.http.get(f"/Organization/{NET}")).json()
    last_write = (await directory.http.get(f"/Organization/{OTHER}")).json()
    changed = {**before, "name": "Net Health Renamed"}
    response = await directory.put(changed, tokens["net"])
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    since = last_write["meta"]["lastUpdated"]
    bundle = (
        await directory.http.get("/Organization", params={"_lastUpdated": f"gt{since}"})
    ).json()
    assert [e["resource"]["name"] for e in bundle["entry"]] == ["Net Health Renamed"]
    old = (await directory.http.get(f"/Organization/{NET}/_history/1")).json()
    assert old["name"] == "Net Health"
    history = (await directory.http.get(f"/Organization/{NET}/_history")).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]


async def test_an_organization_cannot_modify_another_organizations_entry(
    directory: Directory,
) -> None:
    tokens = await _network(directory)
    other = (await directory.http.get(f"/Organization/{OTHER}")).json()
    _outcome(await directory.put({**other, "name": "Hijacked"}, tokens["net"]), 403, "forbidden")
    # nor deactivate it, nor grab its endpoint, nor create a facility under it
    _outcome(await directory.put({**other, "active": False}, tokens["net"]), 403, "forbidden")
    _outcome(
        await directory.put(_org("1.2.840.10008.9.2.1", "Fake", part_of=OTHER), tokens["net"]),
        403,
        "forbidden",
    )
    assert (await directory.http.get(f"/Organization/{OTHER}")).json()["name"] == "Other Imaging"
    # its own facility, it may change and deactivate (no delete: active=false)
    facility = (await directory.http.get(f"/Organization/{FACILITY}")).json()
    assert (await directory.put({**facility, "active": False}, tokens["net"])).status_code == 200
    # and it cannot move its facility to someone else
    _outcome(
        await directory.put(
            {**facility, "partOf": {"reference": f"Organization/{OTHER}"}, "extension": []},
            tokens["other"],
        ),
        403,
        "forbidden",
    )


async def test_writes_need_credentials(directory: Directory) -> None:
    response = await directory.http.put(f"/Organization/{NET}", json=_org(NET, "x"))
    _outcome(response, 401, "login")
    assert "Bearer" in response.headers["www-authenticate"]
    _outcome(await directory.put(_org(NET, "x"), "wrong-token"), 401, "login")


async def test_delete_is_refused_and_bad_input_gets_operation_outcomes(
    directory: Directory,
) -> None:
    await _network(directory)
    _outcome(
        await directory.http.delete(f"/Organization/{NET}", headers=directory.admin()),
        405,
        "not-supported",
    )
    _outcome(await directory.http.get("/Organization/9.9.9"), 404, "not-found")
    _outcome(await directory.http.get("/Patient"), 404, "not-found")
    _outcome(
        await directory.http.get("/Organization", params={"near-postalcode": "00000"}),
        400,
        "invalid",
    )
    bad = _org("1.2.03", "Bad OID")
    _outcome(await directory.put(bad), 400, "invalid")
    _outcome(
        await directory.http.put(
            f"/Organization/{NET}", content=b"{not json", headers=directory.admin()
        ),
        400,
        "invalid",
    )
    _outcome(
        await directory.put(
            {**_org(NET, "x"), "id": OTHER} | {"id": OTHER},
        ),
        400,
        "invalid",
    )  # HCID says NET, id says OTHER
    response = await directory.http.put(
        f"/Organization/{OTHER}", json=_org(NET, "x"), headers=directory.admin()
    )
    _outcome(response, 409, "conflict")


async def test_create_with_post_takes_the_id_from_the_hcid(directory: Directory) -> None:
    resource = _org(NET, "Posted")
    del resource["id"]
    response = await directory.http.post("/Organization", json=resource, headers=directory.admin())
    assert response.status_code == 201
    assert response.headers["location"].endswith(f"/Organization/{NET}/_history/1")
    again = await directory.http.post("/Organization", json=resource, headers=directory.admin())
    _outcome(again, 409, "conflict")


@pytest.mark.parametrize(
    "params", [{"near": "40.75|-74.0|5|mi_us"}, {"near-postalcode": "10001", "near-distance": "5"}]
)
async def test_distance_search_reports_each_distance(
    directory: Directory, params: dict[str, str]
) -> None:
    await _network(directory)
    far = build_organization(
        oid="1.2.840.10008.9.3",
        name="Far",
        postal_code="90210",
        contained_endpoints=[
            build_endpoint(
                endpoint_id="e",
                transaction="ITI-55",
                address="https://far.example/x",
                organization_oid="1.2.840.10008.9.3",
            )
        ],
    )
    await directory.put(far)
    bundle = (await directory.http.get("/Organization", params=params)).json()
    Bundle.model_validate(bundle)
    assert {e["resource"]["id"] for e in bundle["entry"]} == {NET, FACILITY, OTHER}
    distance = bundle["entry"][0]["search"]["extension"][0]["valueDistance"]
    assert distance["code"] == "[mi_i]" and distance["value"] < 5


async def test_sort_by_last_updated_descending_puts_the_latest_change_first(
    directory: Directory,
) -> None:
    await _network(directory)
    facility = (await directory.http.get(f"/Organization/{FACILITY}")).json()
    await directory.put({**facility, "name": "Net Clinic East"})
    bundle = (await directory.http.get("/Organization", params={"_sort": "-_lastUpdated"})).json()
    Bundle.model_validate(bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [FACILITY, OTHER, NET]
