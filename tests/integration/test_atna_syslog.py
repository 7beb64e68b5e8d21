"""ATNA over RFC 5425: a TLS syslog receiver in the test process gets every audit record,
including those emitted while it was down or before the node restarted (at-least-once)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from imx.audit.shipper import SyslogShipper
from imx.audit.sink import AtnaAuditSink
from imx.audit.syslog import OctetCountingDecoder, SyslogMessage, parse_message
from imx.model.audit import AuditRecord
from imx.runtime import open_node
from imx.security.tls import client_ssl_context
from imx.settings import load_settings
from imx.storage import schema
from imx.storage.sql_audit import SqlAuditSink
from imx.wire.schemas import validate
from tests.support.server import running_node
from tests.support.stores import sqlite_store
from tests.unit.audit.records import US, initiator, responder

WAIT_S = 15.0

# -- a test PKI (EC P-256, generated per session, never committed) --------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(out: Path, stem: str, cn: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
           *, server: bool) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca[0].subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca[1], hashes.SHA256()))
    (out / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / f"{stem}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return out / f"{stem}.pem", out / f"{stem}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    out = tmp_path_factory.mktemp("atna-pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca_cert = (x509.CertificateBuilder().subject_name(_name("ATNA test CA"))
               .issuer_name(_name("ATNA test CA")).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=False, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=True,
                   crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    (out / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server = _issue(out, "repository", "audit-repository", (ca_cert, ca_key), server=True)
    client = _issue(out, "node", "imx-node", (ca_cert, ca_key), server=False)
    return Pki(out / "ca.pem", *server, *client)


def _client_context(pki: Pki) -> ssl.SSLContext:
    return client_ssl_context(cert_file=pki.client_cert, key_file=pki.client_key,
                              trust_bundle=pki.ca_file)


# -- the audit repository: RFC 5425 receiver, mutual TLS ---------------------------------------


class Receiver:
    def __init__(self, pki: Pki) -> None:
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.verify_mode = ssl.CERT_REQUIRED  # RFC 5425 5.1: both sides authenticate
        self._ctx.load_cert_chain(pki.server_cert, pki.server_key)
        self._ctx.load_verify_locations(pki.ca_file)
        self.messages: list[SyslogMessage] = []
        self.peers: list[str] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Condition()
        self.port = 0
        self.reset_after_bytes = 0  # > 0: reset the next connection after reading this much

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port,
                                                  ssl=self._ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.close()
        for w in list(self._writers):
            with contextlib.suppress(OSError, ssl.SSLError):
                await w.wait_closed()
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        peer = writer.get_extra_info("peercert") or {}
        self.peers.append(dict(x[0] for x in peer.get("subject", ())).get("commonName", ""))
        decoder = OctetCountingDecoder()
        reset_after, self.reset_after_bytes = self.reset_after_bytes, 0
        try:
            while data := await reader.read(reset_after or 65536):
                if reset_after:  # a crash mid-batch: the rest is never read (RST)
                    async with self._changed:
                        self.messages.extend(parse_message(f) for f in decoder.feed(data))
                    writer.transport.abort()
                    return
                frames = decoder.feed(data)
                async with self._changed:
                    self.messages.extend(parse_message(f) for f in frames)
                    self._changed.notify_all()
        except (OSError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def distinct(self) -> list[SyslogMessage]:
        """De-duplicated by sequenceId (what a repository does with at-least-once delivery)."""
        seen: dict[int | None, SyslogMessage] = {}
        for m in self.messages:
            seen.setdefault(m.sequence_id, m)
        return list(seen.values())

    async def wait_for(self, count: int) -> list[SyslogMessage]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.distinct()) >= count),
                                   WAIT_S)
        return self.distinct()


@pytest.fixture
async def receiver(pki: Pki) -> AsyncIterator[Receiver]:
    r = Receiver(pki)
    await r.start()
    yield r
    if r._server is not None:
        await r.stop()


# -- the node side ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _journal(db: Path) -> AsyncIterator[SqlAuditSink]:
    async with sqlite_store(db) as store:
        yield SqlAuditSink(store)


@contextlib.asynccontextmanager
async def _running(shipper: SyslogShipper) -> AsyncIterator[SyslogShipper]:
    task = asyncio.create_task(shipper.run())
    try:
        yield shipper
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _shipper(journal: SqlAuditSink, ctx: ssl.SSLContext, port: int) -> SyslogShipper:
    return SyslogShipper(journal, host="127.0.0.1", port=port, ssl_context=ctx, batch_size=4,
                         initial_backoff_s=0.02, max_backoff_s=0.2, connect_timeout_s=2,
                         ack_timeout_s=5, poll_interval_s=0.2, settle_s=0.2)


def _sink(journal: SqlAuditSink, shipper: SyslogShipper | None) -> AtnaAuditSink:
    return AtnaAuditSink(journal, source=US, hostname="imx-test", app_name="imx",
                         on_enqueued=shipper.notify if shipper else None)


def _transaction(m: SyslogMessage) -> str:
    root = etree.fromstring(m.msg)
    validate(root, "audit")  # what arrives is still schema-valid
    return str(root.find("EventIdentification").get("EventOutcomeIndicator") + ":" + (
        root.find("EventIdentification/EventTypeCode").get("csd-code")))


def _records(n: int, start: int = 0) -> list[AuditRecord]:
    kinds = ["ITI-55", "ITI-38", "ITI-39", "RAD-69", "RAD-75"]
    return [(responder if i % 2 else initiator)(kinds[i % 5], detail=f"#{i}")
            for i in range(start, start + n)]


async def test_records_arrive_in_order_over_mutual_tls(
        tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    async with _journal(tmp_path / "db.sqlite3") as journal:
        shipper = _shipper(journal, _client_context(pki), receiver.port)
        sink = _sink(journal, shipper)
        async with _running(shipper):
            for r in _records(10):
                await sink.record(r)
            got = await receiver.wait_for(10)
            await _settled(journal)
        assert [_transaction(m) for m in got] == [
            "0:" + r.transaction for r in _records(10)]
        assert [m.msgid for m in got] == ["IHE+RFC-3881"] * 10
        assert receiver.peers[0] == "imx-node"  # the repository saw our certificate
        assert await journal.pending_count() == 0


async def test_records_emitted_while_the_repository_is_down_arrive_after_restart(
        tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    async with _journal(tmp_path / "db.sqlite3") as journal:
        shipper = _shipper(journal, _client_context(pki), receiver.port)
        sink = _sink(journal, shipper)
        records = _records(13)
        async with _running(shipper):
            for r in records[:3]:
                await sink.record(r)
            await receiver.wait_for(3)
            await receiver.stop()  # the repository goes away, connection and all
            for r in records[3:]:
                await sink.record(r)
            # Nothing can be delivered: the messages wait in the outbox, none is lost. A batch
            # that was in flight when the repository went away is not acknowledged: it stays
            # queued too (and may arrive twice).
            while await _attempts(journal) < 3:
                await asyncio.sleep(0.01)
            assert 10 <= await journal.pending_count() <= 13
            await receiver.start()  # same port
            got = await receiver.wait_for(13)
            await _settled(journal)
        # All arrive, in order (by sequenceId), each record once after de-duplication.
        sequences = [m.sequence_id or 0 for m in got]
        assert sequences == sorted(sequences) and len(set(sequences)) == 13
        assert [_transaction(m) for m in got] == ["0:" + r.transaction for r in records]
        # At-least-once: a duplicate is only ever a batch (<= batch_size) resent after a
        # connection broke; every copy carries the same sequenceId.
        assert len(receiver.messages) - 13 <= 4
        assert await journal.pending_count() == 0


async def _settled(journal: SqlAuditSink) -> None:
    for _ in range(500):
        if await journal.pending_count() == 0:
            return
        await asyncio.sleep(0.01)


async def test_records_queued_before_a_node_restart_are_sent_by_the_next_run(
        tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    db = tmp_path / "db.sqlite3"
    async with _journal(db) as journal:  # the repository is unreachable for this run
        sink = _sink(journal, None)
        for r in _records(5):
            await sink.record(r)
    async with _journal(db) as journal:  # the node starts again
        async with _running(_shipper(journal, _client_context(pki), receiver.port)):
            got = await receiver.wait_for(5)
            await _settled(journal)
        assert [_transaction(m) for m in got] == ["0:" + r.transaction for r in _records(5)]
        assert await journal.pending_count() == 0


async def test_a_node_without_a_client_certificate_is_refused_and_keeps_its_records(
        tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    no_cert = ssl.create_default_context(cafile=str(pki.ca_file))
    async with _journal(tmp_path / "db.sqlite3") as journal:
        shipper = _shipper(journal, no_cert, receiver.port)
        sink = _sink(journal, shipper)
        async with _running(shipper):
            await sink.record(_records(1)[0])
            for _ in range(300):
                pending = await journal.pending(limit=1)
                if await _attempts(journal) >= 2:
                    break
                await asyncio.sleep(0.01)
        assert receiver.distinct() == []
        assert len(pending) == 1 and shipper.sent == 0


async def _attempts(journal: SqlAuditSink) -> int:
    async with journal._engine.connect() as conn:
        return int((await conn.execute(
            sa.select(sa.func.max(schema.audit_outbox.c.attempts)))).scalar() or 0)


async def test_open_node_ships_the_audit_trail_when_enabled(
        tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    settings = load_settings(
        None, storage={"data_dir": tmp_path / "var"}, dimse={"enabled": False},
        audit={"enabled": True, "repository_host": "127.0.0.1",
               "repository_port": receiver.port, "tls_cert_file": pki.client_cert,
               "tls_key_file": pki.client_key, "tls_ca_file": pki.ca_file,
               "initial_backoff_s": 0.02, "poll_interval_s": 0.2})
    assert settings.problems() == []
    async with open_node(settings) as services:
        await services.audit.record(responder("ITI-55"))
        start, got = await receiver.wait_for(2)
        listed = await SqlAuditSink(services.metadata).list_events()  # type: ignore[arg-type]
    assert _transaction(start) == "0:110120"  # Application Activity: start (PS3.15 A.5.3.1)
    assert _transaction(got) == "0:ITI-55"
    assert got.hostname and got.app_name == "imx"
    assert listed[0] == responder("ITI-55")
    # The stop is recorded and, the repository being up, delivered before the node closes.
    stop = (await receiver.wait_for(3))[2]
    assert _transaction(stop) == "0:110121"


async def test_a_soap_query_answered_by_the_node_reaches_the_repository(
        tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    sample = Path("/work/shared/spec/samples/iti38-request-finddocuments.xml")
    if not sample.is_file():
        pytest.skip("shared ITI-38 sample not present")
    audit = {"enabled": True, "repository_port": receiver.port,
             "tls_cert_file": pki.client_cert, "tls_key_file": pki.client_key,
             "tls_ca_file": pki.ca_file, "initial_backoff_s": 0.02, "poll_interval_s": 0.2}
    with running_node(tmp_path, audit=audit) as node:
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(f"{node.url}/xca/query", content=sample.read_bytes(),
                                  headers={"Content-Type": "application/soap+xml"})
        assert r.status_code == 200
        _start, got = await receiver.wait_for(2)
    root = etree.fromstring(got.msg)
    validate(root, "audit")
    assert root.find("EventIdentification/EventTypeCode").get("csd-code") == "ITI-38"
    source, destination = root.findall("ActiveParticipant")[:2]
    assert source.get("NetworkAccessPointID") == "127.0.0.1"  # who asked
    assert destination.get("UserID") == f"{node.url}/xca/query"  # we answered, there
    query = next(o for o in root.findall("ParticipantObjectIdentification")
                 if o.get("ParticipantObjectTypeCodeRole") == "24")
    assert query.get("ParticipantObjectID") == "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
    sent = etree.fromstring(base64.b64decode(query.findtext("ParticipantObjectQuery")))
    assert etree.QName(sent).localname == "AdhocQueryRequest"


async def test_a_batch_cut_by_a_reset_is_resent_whole(
        tmp_path: Path, pki: Pki, receiver: Receiver) -> None:
    async with _journal(tmp_path / "db.sqlite3") as journal:
        sink = _sink(journal, None)
        records = _records(8)
        for r in records:  # queued before the shipper starts: two full batches of 4
            await sink.record(r)
        # The repository reads about one and a half messages, then its connection resets.
        first_len = len((await journal.pending(limit=1))[0][2])
        receiver.reset_after_bytes = first_len + first_len // 2
        async with _running(_shipper(journal, _client_context(pki), receiver.port)):
            got = await receiver.wait_for(8)
            await _settled(journal)
        assert [_transaction(m) for m in got] == ["0:" + r.transaction for r in records]
        # The first message arrived twice (same sequenceId), everything else once.
        assert len(receiver.messages) == 9
        assert receiver.messages[0].sequence_id == receiver.messages[1].sequence_id
