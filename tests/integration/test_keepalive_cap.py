"""``http.max_requests_per_connection``: the N-th answer on a keep-alive connection says
``Connection: close`` and the connection ends, on plain HTTP and on mutual TLS; the peer's
next connection is served as usual (http/keepalive.py)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from imx.security.tls import client_ssl_context
from tests.support.pki_network import PkiNetwork, build_test_network
from tests.support.server import NodeThread, running_node

CAP = 3


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> PkiNetwork:
    return build_test_network(tmp_path_factory.mktemp("cap-pki"))


@pytest.fixture(scope="module", params=["http", "https"])
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         network: PkiNetwork) -> Iterator[tuple[NodeThread, ssl.SSLContext | None]]:
    tmp: Path = tmp_path_factory.mktemp(f"cap-{request.param}")
    overrides: dict[str, object] = {"http": {"max_requests_per_connection": CAP}}
    ctx = None
    if request.param == "https":
        overrides["tls"] = network.server_tls()
        ctx = client_ssl_context(cert_file=network.client.cert_file,
                                 key_file=network.client.key_file,
                                 trust_bundle=network.trust_bundle)
    with running_node(tmp, **overrides) as n:
        yield n, ctx


def _connect(node: NodeThread, ctx: ssl.SSLContext | None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname="127.0.0.1") if ctx is not None else sock


def _get(sock: socket.socket, buffered: bytearray) -> bytes:
    """One GET /healthz on ``sock``; the response head (the body is read and dropped)."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before an answer"
        buffered += chunk
    head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    buffered[:] = rest[length:]
    return head.lower()


def test_the_capth_answer_closes_the_connection(
        node: tuple[NodeThread, ssl.SSLContext | None]) -> None:
    n, ctx = node
    for _ in range(2):  # and the next connection gets its own allowance
        sock, buffered = _connect(n, ctx), bytearray()
        try:
            heads = [_get(sock, buffered) for _ in range(CAP)]
            assert all(h.startswith(b"http/1.1 200") for h in heads)
            assert [b"connection: close" in h for h in heads] == [False] * (CAP - 1) + [True]
            sock.settimeout(5)
            try:
                assert sock.recv(1) == b""  # closed by the node after the answer
            except (ssl.SSLEOFError, ConnectionResetError):
                pass
        finally:
            sock.close()
