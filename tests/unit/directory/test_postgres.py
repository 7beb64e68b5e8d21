"""The directory service on PostgreSQL (own schema): versions, history, folded search, auth."""

from __future__ import annotations

import httpx
import pytest

from imx.directory.app import build_directory_app
from imx.directory.auth import hash_token
from imx.directory.builders import build_endpoint, build_organization
from imx.directory.store import DirectoryStore
from imx.directory.tokens import Authenticator

pytestmark = pytest.mark.postgres
NET, OTHER = "1.2.840.10008.6.1", "1.2.840.10008.6.2"


async def test_service_round_trip_on_postgresql(postgres_store: DirectoryStore) -> None:
    auth = Authenticator(postgres_store, admin_token_sha256=hash_token("a"))
    app = build_directory_app(postgres_store, auth)
    admin = {"Authorization": "Bearer a"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pg.test"
    ) as http:
        gw = build_endpoint(
            endpoint_id=f"{NET}-rad-75",
            transaction="RAD-75",
            address="https://net.example/rad-75",
            organization_oid=NET,
        )
        for resource in (
            build_organization(
                oid=NET, name="Hôpital Nord", postal_code="10001", endpoint_ids=[gw["id"]]
            ),
            gw,
            build_organization(oid=OTHER, name="Other", postal_code="10001"),
        ):
            response = await http.put(
                f"/{resource['resourceType']}/{resource['id']}", json=resource, headers=admin
            )
            assert response.status_code == 201, response.text
        token = await auth.issue_token(NET)
        org = (await http.get(f"/Organization/{NET}")).json()
        updated = await http.put(
            f"/Organization/{NET}",
            json={**org, "name": "Hôpital Nord-Est"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert updated.json()["meta"]["versionId"] == "2"
        other = (await http.get(f"/Organization/{OTHER}")).json()
        refused = await http.put(
            f"/Organization/{OTHER}", json=other, headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 403
        found = (
            await http.get(
                "/Organization",
                params={
                    "name": "HOPITAL nord",
                    "transaction": "RAD-75",
                    "near-postalcode": "10001",
                    "near-distance": "5",
                    "_include": "Organization:endpoint",
                },
            )
        ).json()
        assert [e["resource"]["id"] for e in found["entry"]] == [NET, gw["id"]]
        history = (await http.get(f"/Organization/{NET}/_history")).json()
        assert [e["resource"]["name"] for e in history["entry"]] == [
            "Hôpital Nord-Est",
            "Hôpital Nord",
        ]
