"""RAD-69 answers through the node's real uvicorn listener: stored instances go out by
sendfile(2) (ASGI Zero Copy Send) on plain HTTP, transcoded ones are streamed in the same
answer, and over mutual TLS everything is read and written (no sendfile); the bytes are the
stored files either way. Plus the protocol's framing of zerocopysend messages on its own."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
import uvicorn

from imx.dicom.synth import generate_patients, generate_study
from imx.dicom.transcode import transcode_part10
from imx.http.zerocopy import ZEROCOPY_SEND, ZeroCopyHttpToolsProtocol
from imx.model.query import ImagingQuery, QueryLevel
from imx.security.tls import client_ssl_context
from imx.wire.mtom import parse_http_body
from tests.support.pki_network import PkiNetwork, build_test_network
from tests.support.server import NodeThread, running_node

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
NS = "urn:ihe:iti:xds-b:2007"


def part10(ds: pydicom.Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def rad69_request(study: str, series: dict[str, list[str]], syntaxes: list[str]) -> bytes:
    docs = "".join(
        f'<i:SeriesRequest seriesInstanceUID="{se}">' + "".join(
            f"<x:DocumentRequest><x:RepositoryUniqueId>1.3.6.1.4.1.21367.2026.1.1.1"
            f"</x:RepositoryUniqueId><x:DocumentUniqueId>{sop}</x:DocumentUniqueId>"
            f"</x:DocumentRequest>" for sop in sops) + "</i:SeriesRequest>"
        for se, sops in series.items())
    tsl = "".join(f"<i:TransferSyntaxUID>{ts}</i:TransferSyntaxUID>" for ts in syntaxes)
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>'
        "<a:Action>urn:ihe:rad:2009:RetrieveImagingDocumentSet</a:Action>"
        "<a:MessageID>urn:uuid:0b4c1c1e-0000-4000-8000-000000000069</a:MessageID></s:Header>"
        f'<s:Body><i:RetrieveImagingDocumentSetRequest xmlns:i="urn:ihe:rad:xdsi-b:2009" '
        f'xmlns:x="{NS}"><i:StudyRequest studyInstanceUID="{study}">{docs}</i:StudyRequest>'
        f"<i:TransferSyntaxUIDList>{tsl}</i:TransferSyntaxUIDList>"
        "</i:RetrieveImagingDocumentSetRequest></s:Body></s:Envelope>"
    ).encode()


class Study:
    """A 3-series study in a node; every third instance stored in Implicit VR LE."""

    def __init__(self, node: NodeThread) -> None:
        self.series: dict[str, list[str]] = {}
        self.study = ""
        for i, ds in enumerate(generate_study(generate_patients(69, 1)[0], seed=69,
                                              series_count=3, instances_per_series=12,
                                              rows=64, columns=64)):
            data = part10(ds)
            if i % 3 == 0:
                data = transcode_part10(data, IMPLICIT_LE)
            node.call(node.services.ingest.ingest_bytes(data, source="test"))  # type: ignore[union-attr]
            self.study = ds.StudyInstanceUID
            self.series.setdefault(ds.SeriesInstanceUID, []).append(ds.SOPInstanceUID)
        services = node.services
        assert services is not None
        found = node.call(services.metadata.find_instances(ImagingQuery(
            level=QueryLevel.IMAGE, sop_instance_uids=tuple(self.sops))))
        self.stored: dict[str, bytes] = {}
        self.syntax: dict[str, str] = {}
        for inst in found:
            path = services.blobs.local_path(inst.blob_key)
            assert path is not None
            self.stored[inst.sop_instance_uid] = path.read_bytes()
            self.syntax[inst.sop_instance_uid] = inst.transfer_syntax_uid
        assert sorted(self.syntax.values()).count(IMPLICIT_LE) == 12

    @property
    def sops(self) -> list[str]:
        return [s for sops in self.series.values() for s in sops]


@pytest.fixture
def sendfile_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes sent by os.sendfile(2) in this process (the node's thread included): a spy on
    the os module, which both our protocol and asyncio's loop.sendfile call."""
    sent = [0]
    real = os.sendfile

    def spy(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        n = real(out_fd, in_fd, offset, count)
        sent[0] += n
        return n

    monkeypatch.setattr(os, "sendfile", spy)
    return sent


async def retrieve(client: httpx.AsyncClient, url: str, body: bytes
                   ) -> tuple[httpx.Response, dict[str, bytes]]:
    async with client.stream("POST", f"{url}/xdsi/retrieve", content=body,
                             headers={"content-type": "application/soap+xml"}) as response:
        assert response.status_code == 200
        message = await parse_http_body(response.headers["content-type"],
                                        response.aiter_raw())
    with message:
        got = {}
        for doc in message.root.iter(f"{{{NS}}}DocumentResponse"):
            uid = doc.findtext(f"{{{NS}}}DocumentUniqueId")
            assert uid is not None
            got[uid] = message.document(doc.find(f"{{{NS}}}Document")).read()
    return response, got


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeThread, Study]]:
    with running_node(tmp_path_factory.mktemp("zc-node")) as node:
        yield node, Study(node)


def test_stored_instances_go_by_sendfile_with_a_content_length(
        plain: tuple[NodeThread, Study], sendfile_bytes: list[int]) -> None:
    node, study = plain

    async def run() -> tuple[httpx.Response, dict[str, bytes]]:
        async with httpx.AsyncClient(timeout=30) as client:
            # Both syntaxes accepted: every instance is sent as stored.
            return await retrieve(client, node.url, rad69_request(
                study.study, study.series, [EXPLICIT_LE, IMPLICIT_LE]))

    response, got = asyncio.run(run())
    assert got == study.stored  # byte for byte the stored files, 36 instances
    assert sendfile_bytes[0] == sum(map(len, study.stored.values()))  # each byte once
    assert "content-length" in response.headers
    assert "transfer-encoding" not in response.headers


def test_transcoded_instances_are_streamed_in_the_same_answer(
        plain: tuple[NodeThread, Study], sendfile_bytes: list[int]) -> None:
    node, study = plain

    async def run() -> tuple[httpx.Response, dict[str, bytes]]:
        async with httpx.AsyncClient(timeout=30) as client:
            first = await retrieve(client, node.url, rad69_request(
                study.study, study.series, [EXPLICIT_LE]))
            # keep-alive: a second answer on the same connection after a zero-copy one
            return (await retrieve(client, node.url, rad69_request(
                study.study, study.series, [EXPLICIT_LE])))[0], first[1]

    response, got = asyncio.run(run())
    want = {sop: data if study.syntax[sop] == EXPLICIT_LE else transcode_part10(data, EXPLICIT_LE)
            for sop, data in study.stored.items()}
    assert got == want
    # only the 24 Explicit VR instances went by sendfile, in both answers
    explicit = sum(len(d) for sop, d in study.stored.items() if study.syntax[sop] == EXPLICIT_LE)
    assert sendfile_bytes[0] == 2 * explicit
    assert response.headers["transfer-encoding"] == "chunked"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> PkiNetwork:
    return build_test_network(tmp_path_factory.mktemp("zc-pki"))


def test_over_mutual_tls_the_same_bytes_without_sendfile(
        tmp_path: Path, network: PkiNetwork, sendfile_bytes: list[int]) -> None:
    tls = network.server_tls()
    ctx = client_ssl_context(cert_file=network.client.cert_file,
                             key_file=network.client.key_file, trust_bundle=network.trust_bundle)
    with running_node(tmp_path, tls=tls) as node:
        study = Study(node)

        async def run() -> tuple[httpx.Response, dict[str, bytes]]:
            async with httpx.AsyncClient(verify=ctx, timeout=30) as client:
                return await retrieve(client, node.url, rad69_request(
                    study.study, study.series, [EXPLICIT_LE, IMPLICIT_LE]))

        response, got = asyncio.run(run())
    assert node.url.startswith("https://")
    assert got == study.stored
    assert sendfile_bytes[0] == 0
    assert "content-length" in response.headers  # sizes are known without zero-copy too


async def test_protocol_frames_zerocopysend_chunked_and_with_content_length(
        tmp_path: Path, sendfile_bytes: list[int]) -> None:
    small = bytes(range(256)) * 40
    # More than the loopback socket buffers take while the client (on this same loop) cannot
    # read: the rest waits for writability through asyncio's loop.sendfile.
    big = os.urandom(1 << 20) * 24
    files = {"small": tmp_path / "small", "big": tmp_path / "big"}
    files["small"].write_bytes(small)
    files["big"].write_bytes(big)
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope.get("extensions") or {})
        chunked, name = scope["path"].strip("/").split("/")
        path = files[name]
        size = path.stat().st_size
        headers = [] if chunked == "chunked" else [(b"content-length", str(2 + size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<", "more_body": True})
        with path.open("rb") as fh:
            if chunked == "chunked":  # explicit offset and count, then the spec's defaults
                await send({"type": ZEROCOPY_SEND, "file": fh, "offset": 0, "count": 100,
                            "more_body": True})
                fh.seek(100)
                await send({"type": ZEROCOPY_SEND, "file": fh, "more_body": True})
                await send({"type": "http.response.body", "body": b">"})
            else:
                await send({"type": ZEROCOPY_SEND, "file": fh, "count": size,
                            "more_body": True})
                await send({"type": "http.response.body", "body": b">", "more_body": False})

    loop = asyncio.get_running_loop()
    waited = [0]
    real_sendfile = loop.sendfile

    async def sendfile_spy(*args: Any, **kwargs: Any) -> int:
        waited[0] += 1
        return await real_sendfile(*args, **kwargs)

    loop.sendfile = sendfile_spy  # type: ignore[method-assign]
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
                            http=ZeroCopyHttpToolsProtocol)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    paths = ["/chunked/small", "/length/small", "/chunked/big", "/length/big", "/chunked/small"]
    try:
        async with httpx.AsyncClient() as client:
            for path in paths:  # one keep-alive connection
                response = await client.get(f"http://127.0.0.1:{port}{path}")
                data = small if path.endswith("small") else big
                assert response.content == b"<" + data + b">"
                is_chunked = response.headers.get("transfer-encoding") == "chunked"
                assert is_chunked == path.startswith("/chunked")
    finally:
        server.should_exit = True
        await serving
        del loop.sendfile
    assert all(ZEROCOPY_SEND in ext for ext in seen) and len(seen) == len(paths)
    assert sendfile_bytes[0] == 3 * len(small) + 2 * len(big)
    assert waited[0] >= 2  # each big file outgrew what the socket took at once
