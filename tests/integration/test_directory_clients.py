"""Real FHIR clients (fhirpy, fhirclient) read and search the directory over HTTP (uvicorn)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fhir.resources.R4B.bundle import Bundle

from imx.directory.app import build_directory_app
from imx.directory.auth import hash_token
from imx.directory.builders import build_endpoint, build_organization
from imx.directory.store import DirectoryStore
from imx.directory.synth import generate_organizations
from imx.directory.tokens import Authenticator
from imx.storage.engine import create_engine

ADMIN = "integration-admin"
NET = "1.2.840.10008.5.1"


class DirectoryThread:
    """The directory service on 127.0.0.1:<free port>, its own loop in a daemon thread."""

    def __init__(self, db: Path, resources: list[dict[str, Any]]) -> None:
        self._db, self._resources = db, resources
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        store = DirectoryStore(create_engine(f"sqlite+aiosqlite:///{self._db}"))
        await store.create_tables()
        for resource in self._resources:
            await store.put(resource)
        app = build_directory_app(store, Authenticator(store, admin_token_sha256=hash_token(ADMIN)))
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        serve = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
            if serve.done():
                await serve
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self._ready.set()
        await serve
        await store.close()

    def __enter__(self) -> DirectoryThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(10)


def _resources() -> list[dict[str, Any]]:
    gw = build_endpoint(
        endpoint_id=f"{NET}-rad-75",
        transaction="RAD-75",
        address="https://net.example/rad-75",
        organization_oid=NET,
    )
    net = build_organization(
        oid=NET,
        name="Hospital Niño Jesús Ñandutí",
        city="Newark",
        state="NJ",
        postal_code="07102",
        endpoint_ids=[gw["id"]],
    )
    return [net, gw, *generate_organizations(120, seed=4)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DirectoryThread]:
    with DirectoryThread(
        tmp_path_factory.mktemp("dir") / "directory.sqlite", _resources()
    ) as server:
        yield server


def test_fhirpy_reads_searches_and_pages(served: DirectoryThread) -> None:
    from fhirpy import SyncFHIRClient

    client = SyncFHIRClient(served.url)
    org = client.reference("Organization", NET).to_resource()
    assert org["name"] == "Hospital Niño Jesús Ñandutí"
    found = client.resources("Organization").search(name="nino jesus").fetch()
    assert [o["id"] for o in found] == [NET]
    everything = client.resources("Organization").limit(50).fetch_all()  # follows "next"
    assert len(everything) == 121 and len({o["id"] for o in everything}) == 121
    near = (
        client.resources("Organization")
        .search(**{"near-postalcode": "07102", "near-distance": "5", "transaction": "RAD-75"})
        .fetch()
    )
    assert NET in [o["id"] for o in near]
    endpoints = client.resources("Endpoint").search(organization=NET).fetch()
    assert [e["address"] for e in endpoints] == ["https://net.example/rad-75"]


def test_fhirpy_updates_with_an_admin_token(served: DirectoryThread) -> None:
    from fhirpy import SyncFHIRClient

    client = SyncFHIRClient(served.url, authorization=f"Bearer {ADMIN}")
    org = client.reference("Organization", NET).to_resource()
    org["telecom"] = [{"system": "phone", "value": "+1 555 0100"}]
    org.save()
    again = client.reference("Organization", NET).to_resource()
    assert again["telecom"][0]["value"] == "+1 555 0100"
    assert int(again["meta"]["versionId"]) >= 2


def test_fhirclient_reads_and_searches(served: DirectoryThread) -> None:
    from fhirclient import client
    from fhirclient.models.endpoint import Endpoint
    from fhirclient.models.organization import Organization

    smart = client.FHIRClient(settings={"app_id": "imx-test", "api_base": served.url + "/"})
    org = Organization.read(NET, smart.server)
    assert org.name == "Hospital Niño Jesús Ñandutí"
    assert org.address[0].postalCode == "07102"
    results = list(
        Organization.where(struct={"address-state": "NJ", "_count": "200"}).perform_resources_iter(
            smart.server
        )
    )
    assert NET in [o.id for o in results]
    assert all(o.address[0].state == "NJ" for o in results)
    [endpoint] = Endpoint.where(struct={"organization": NET}).perform_resources_iter(smart.server)
    assert endpoint.connectionType.code == "ihe-xca"


def test_raw_answers_parse_strictly(served: DirectoryThread) -> None:
    import httpx

    with httpx.Client(base_url=served.url) as http:
        for params in (
            {"_include": "Organization:endpoint", "_count": "30"},
            {"near": "40.73|-74.17|20|mi_us"},
        ):
            Bundle.model_validate(http.get("/Organization", params=params).json())
