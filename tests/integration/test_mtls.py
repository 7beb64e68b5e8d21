"""Hostile connections against the node's real HTTPS listener (uvicorn, mutual TLS).

One test per hostile peer, each refused; plus a good peer that gets through and is identified.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from imx.audit.events import event_for
from imx.http.tls_transport import https_config
from imx.model.audit import AuditRecord
from imx.security import pki
from imx.security.tls import (
    PeerIdentity,
    client_ssl_context,
    peer_identity_from_scope,
    server_ssl_context,
)
from imx.storage.sql_audit import SqlAuditSink
from tests.support.pki_network import PEER_HOME, Credential, PkiNetwork, build_test_network
from tests.support.server import NodeThread, running_node

# A refused handshake surfaces in httpx as one of these; TLS 1.3 reports a bad client
# certificate after the client's side of the handshake, so it may arrive as a read error.
REFUSED = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> PkiNetwork:
    return build_test_network(tmp_path_factory.mktemp("mtls-pki"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, network: PkiNetwork) -> Iterator[NodeThread]:
    tls = network.server_tls()
    with running_node(tmp_path_factory.mktemp("mtls-node"), tls=tls) as n:
        yield n


def _client_ctx(network: PkiNetwork, cred: Credential | None) -> ssl.SSLContext:
    if cred is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(network.trust_bundle)
        return ctx
    return client_ssl_context(cert_file=cred.cert_file, key_file=cred.key_file,
                              trust_bundle=network.trust_bundle)


def _refusals(node: NodeThread, reason: str) -> list[AuditRecord]:
    """The node's audit records of refused handshakes whose reason mentions ``reason``.

    The refusal is audited by the server after the client has already seen the failure, so
    wait (bounded) for the record to land.
    """
    sink = SqlAuditSink(node.services.metadata)  # type: ignore[union-attr, arg-type]
    deadline = time.monotonic() + 10
    while True:
        events = node.call(sink.list_events(limit=200))
        found = [e for e in events if e.event == "tls-client-refused" and reason in e.detail]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _get(node: NodeThread, ctx: ssl.SSLContext, path: str = "/healthz") -> httpx.Response:
    with httpx.Client(verify=ctx, timeout=10) as client:
        return client.get(node.url + path)


def test_node_serves_https_only(node: NodeThread) -> None:
    assert node.url.startswith("https://")
    with pytest.raises(REFUSED), httpx.Client(timeout=5) as plain:
        plain.get(node.url.replace("https://", "http://") + "/healthz")


def test_good_client_certificate_gets_through(node: NodeThread, network: PkiNetwork) -> None:
    response = _get(node, _client_ctx(network, network.client))
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_no_client_certificate_is_refused(node: NodeThread, network: PkiNetwork) -> None:
    with pytest.raises(REFUSED):
        _get(node, _client_ctx(network, None))
    refusal = _refusals(node, "PEER_DID_NOT_RETURN_A_CERTIFICATE")
    assert refusal, "refused handshake was not audited"
    assert refusal[0].outcome == "serious-failure" and refusal[0].source == "127.0.0.1"


def test_certificate_from_another_ca_is_refused(node: NodeThread, network: PkiNetwork) -> None:
    with pytest.raises(REFUSED):
        _get(node, _client_ctx(network, network.foreign))
    refusal = _refusals(node, "self-signed certificate in certificate chain")
    assert refusal, "refused handshake was not audited"
    assert refusal[0].outcome == "serious-failure" and refusal[0].source == "127.0.0.1"


def test_expired_certificate_is_refused(node: NodeThread, network: PkiNetwork) -> None:
    with pytest.raises(REFUSED):
        _get(node, _client_ctx(network, network.expired))
    refusal = _refusals(node, "certificate has expired")
    assert refusal, "refused handshake was not audited"
    assert refusal[0].outcome == "serious-failure" and refusal[0].source == "127.0.0.1"


def test_revoked_certificate_is_refused(node: NodeThread, network: PkiNetwork) -> None:
    with pytest.raises(REFUSED):
        _get(node, _client_ctx(network, network.revoked))
    refusal = _refusals(node, "certificate revoked")
    assert refusal, "refused handshake was not audited"
    assert refusal[0].outcome == "serious-failure" and refusal[0].source == "127.0.0.1"
    # ATNA: a Security Alert of type Node Authentication (PS3.15 A.5.3.11, DCM 110126)
    spec = event_for(refusal[0])
    assert spec.type_code is not None and spec.type_code.code == "110126"


async def test_app_sees_the_verified_peer_identity(network: PkiNetwork) -> None:
    seen: list[PeerIdentity | None] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        seen.append(peer_identity_from_scope(scope))
        assert scope["scheme"] == "https"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def on_refused(_peer: str, _reason: str) -> None:
        raise AssertionError("a good peer was refused")

    ctx = server_ssl_context(cert_file=network.server.cert_file,
                             key_file=network.server.key_file,
                             trust_bundle=network.trust_bundle, crl_files=(network.crl,))
    config = https_config(app, ctx, host="127.0.0.1", port=0, on_refused=on_refused,
                          lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(verify=_client_ctx(network, network.client)) as client:
            for _ in range(2):  # keep-alive: the second request rides the same connection
                assert (await client.get(f"https://127.0.0.1:{port}/")).status_code == 204
    finally:
        server.should_exit = True
        await serving
    client_cert = pki.load_certificates(network.client.cert_file)[0]
    assert len(seen) == 2
    for ident in seen:
        assert ident is not None
        assert ident.home_community_id == PEER_HOME
        assert ident.organization == "Community B"
        assert ident.serial == client_cert.serial_number


def test_a_new_crl_is_honoured_without_restart(node: NodeThread, network: PkiNetwork,
                                               tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    late = pki.issue_node_to_dir(network.ca, tmp_path / "late", common_name="imx-late",
                                 organization="Late", home_community_id=PEER_HOME, now=now,
                                 key_type="ec-p256")
    cred = Credential(late.cert_file, late.key_file)
    assert _get(node, _client_ctx(network, cred)).status_code == 200
    # The CA revokes it and the new CRL replaces the file the node was configured with.
    assert pki.revoke_in_dir(network.ca, late.certificate, now=now) == network.crl
    with pytest.raises(REFUSED):
        _get(node, _client_ctx(network, cred))
    assert _get(node, _client_ctx(network, network.client)).status_code == 200


def test_bare_tcp_probe_is_not_audited_as_an_authentication_failure(
    node: NodeThread, network: PkiNetwork,
) -> None:
    sink = SqlAuditSink(node.services.metadata)  # type: ignore[union-attr, arg-type]
    before = len(node.call(sink.list_events(limit=500)))
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as probe:
        probe.shutdown(socket.SHUT_WR)  # a load balancer's TCP health check
        assert probe.recv(1) == b""  # the node closes its side without an HTTP answer
    assert _get(node, _client_ctx(network, network.client)).status_code == 200
    assert len(node.call(sink.list_events(limit=500))) == before
