"""The HTTP gate behind the handshake: requests without a valid client certificate get 403."""

from __future__ import annotations

import datetime as dt
import ssl
from typing import Any

import pytest

from imx.http.tls_transport import ClientCertificateGate
from imx.security import pki
from tests.fakes import FakeClock, RecordingAuditSink
from tests.support.pki_network import PkiNetwork, build_test_network


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> PkiNetwork:
    return build_test_network(tmp_path_factory.mktemp("gate"))


async def _call(gate: ClientCertificateGate, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await gate({"type": "http", "client": ("10.0.0.7", 5000), **scope}, receive, send)
    return sent


async def _ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _tls_scope(cert_file: Any) -> dict[str, Any]:
    pem = ssl.DER_cert_to_PEM_cert(
        ssl.PEM_cert_to_DER_cert(cert_file.read_text().split("-----END CERTIFICATE-----")[0]
                                 + "-----END CERTIFICATE-----\n"))
    return {"extensions": {"tls": {"client_cert_chain": [pem], "client_cert_error": None}}}


async def test_request_without_certificate_is_refused_and_audited() -> None:
    audit, clock = RecordingAuditSink(), FakeClock()
    sent = await _call(ClientCertificateGate(_ok_app, audit=audit, clock=clock), {})
    assert sent[0]["status"] == 403
    assert b"no verified client certificate" in sent[1]["body"]
    [record] = audit.records
    assert (record.event, record.outcome, record.source) == (
        "tls-client-refused", "serious-failure", "10.0.0.7")


async def test_certificate_that_expired_on_a_kept_alive_connection_is_refused(
    network: PkiNetwork,
) -> None:
    cert = pki.load_certificates(network.client.cert_file)[0]
    audit = RecordingAuditSink()
    clock = FakeClock(cert.not_valid_after_utc + dt.timedelta(seconds=1))
    sent = await _call(ClientCertificateGate(_ok_app, audit=audit, clock=clock),
                       _tls_scope(network.client.cert_file))
    assert sent[0]["status"] == 403
    assert audit.records[0].detail == "client certificate expired"
    assert audit.records[0].requester_organization == "Community B"


async def test_valid_certificate_passes_unaudited(network: PkiNetwork) -> None:
    audit = RecordingAuditSink()
    clock = FakeClock(dt.datetime.now(dt.UTC))
    sent = await _call(ClientCertificateGate(_ok_app, audit=audit, clock=clock),
                       _tls_scope(network.client.cert_file))
    assert sent[0]["status"] == 200
    assert audit.records == []


async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    gate = ClientCertificateGate(app, audit=RecordingAuditSink(), clock=FakeClock())
    await gate({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]
