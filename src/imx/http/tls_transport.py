"""HTTPS with verified client certificates under uvicorn, and the gate that insists on them.

uvicorn builds its own ``SSLContext`` from ``ssl_*`` options (no CRLs) and does not put the
peer certificate into the ASGI scope. So:

- ``https_config`` makes uvicorn accept plain TCP and runs the TLS handshake itself
  (``loop.start_tls`` with our context from ``imx.security.tls``, CRLs included), so that a
  refused handshake (no certificate, foreign CA, expired, revoked) is logged and audited as a
  node-authentication failure (ITI TF-2a 3.20.4.1.1.1 Security Alert) instead of vanishing in
  asyncio, which reports handshake errors only in debug mode;
- ``TlsH11Protocol`` publishes the handshaken connection's certificate as
  ``scope["extensions"]["tls"]`` (ASGI TLS extension), read with
  ``imx.security.tls.peer_identity_from_scope``;
- ``ClientCertificateGate`` answers 403 and audits any request without a verified, unexpired
  client certificate. With ``CERT_REQUIRED`` OpenSSL has already refused such peers during the
  handshake; the gate catches what the handshake cannot: a keep-alive connection that outlives
  its certificate, or a context misconfigured to make certificates optional.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from imx.http.keepalive import with_request_cap
from imx.model.audit import AuditRecord
from imx.ports import AuditSink, Clock
from imx.security.tls import asgi_tls_extension, peer_identity_from_scope

__all__ = [
    "ClientCertificateGate",
    "OnRefused",
    "TlsH11Protocol",
    "audit_refusal",
    "https_config",
]

log = logging.getLogger(__name__)

ASGIApp = Callable[..., Any]


class _WithTlsExtension:
    """Adds one connection's TLS extension to every scope that connection carries."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self._app = app
        self._tls = tls

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": self._tls}}
        await self._app(scope, receive, send)


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the ASGI TLS extension for TLS connections."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            # One wrapper per connection: the certificate is a property of the connection.
            self.app = _WithTlsExtension(self.app, asgi_tls_extension(ssl_object))
        super().connection_made(transport)


try:  # httptools (C) parses HTTP/1.1 several times faster than h11 (pure Python)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class TlsHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, plus the ASGI TLS extension for TLS connections."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            ssl_object = transport.get_extra_info("ssl_object")
            if isinstance(ssl_object, ssl.SSLObject):
                self.app = _WithTlsExtension(self.app, asgi_tls_extension(ssl_object))
            super().connection_made(transport)

    _HTTP_PROTOCOL: type[asyncio.Protocol] = TlsHttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency; h11 still works
    _HTTP_PROTOCOL = TlsH11Protocol


OnRefused = Callable[[str, str], Awaitable[None]]  # (peer address, reason)


class _Pending(asyncio.Protocol):
    """Holds what arrives between the end of the handshake and the HTTP protocol taking over.

    asyncio delivers decrypted data as soon as the handshake completes, before ``start_tls``
    returns, so the first request bytes are kept here and replayed.
    """

    def __init__(self) -> None:
        self._events: list[tuple[str, Any]] = []

    def data_received(self, data: bytes) -> None:
        self._events.append(("data", data))

    def eof_received(self) -> bool | None:
        self._events.append(("eof", None))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._events.append(("lost", exc))

    def hand_over(self, transport: asyncio.Transport, protocol: asyncio.Protocol) -> None:
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        for kind, value in self._events:
            if kind == "data":
                protocol.data_received(value)
            elif kind == "eof" and not protocol.eof_received():
                transport.close()
            elif kind == "lost":
                protocol.connection_lost(value)


class _MutualTlsAcceptor(asyncio.Protocol):
    """What uvicorn's server creates per TCP connection: TLS handshake first, then HTTP."""

    ssl_context: Callable[[], ssl.SSLContext]
    on_refused: OnRefused
    handshakes: set[asyncio.Task[None]]  # in flight, one set per server
    http_protocol: type[asyncio.Protocol]  # the HTTP/1.1 protocol after the handshake
    handshake_timeout_s: float = 10.0

    def __init__(self, config: uvicorn.Config, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = _loop or asyncio.get_running_loop()
        self._http_args: dict[str, Any] = {"config": config, "server_state": server_state,
                                           "app_state": app_state, "_loop": _loop}
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):  # a TCP server always gives one
            transport.close()
            return
        # The ClientHello must stay in the socket until start_tls installs its protocol.
        transport.pause_reading()
        self._task = self._loop.create_task(self._handshake(transport))
        # The loop keeps only weak references to tasks (asyncio docs, create_task).
        type(self).handshakes.add(self._task)
        self._task.add_done_callback(type(self).handshakes.discard)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._task is not None:  # closed before the handshake began
            self._task.cancel()

    async def _handshake(self, transport: asyncio.Transport) -> None:
        peer = transport.get_extra_info("peername") or ("?", 0)
        pending = _Pending()
        try:
            tls = await self._loop.start_tls(
                transport, pending, type(self).ssl_context(), server_side=True,
                ssl_handshake_timeout=self.handshake_timeout_s)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError, TimeoutError) as exc:
            # Closed or stalled without a TLS verdict: port scans and TCP health checks of a
            # load balancer. Not an authentication attempt, so logged but not audited.
            transport.abort()
            log.info("TLS handshake abandoned by %s", peer[0],
                     extra={"peer": peer[0], "reason": type(exc).__name__})
            return
        except OSError as exc:  # ssl.SSLError (an OSError): the peer failed authentication
            transport.abort()
            await type(self).on_refused(str(peer[0]), _reason(exc))
            return
        if tls is None:  # the peer went away during the handshake
            return
        pending.hand_over(tls, type(self).http_protocol(**self._http_args))


def _reason(exc: BaseException) -> str:
    # The OpenSSL verify message names the failure without echoing anything the peer sent.
    verify = getattr(exc, "verify_message", None)
    if verify:
        return f"certificate verify failed: {verify}"
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else type(exc).__name__


def https_config(app: ASGIApp, ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext], *,
                 host: str, port: int, on_refused: OnRefused, max_requests_per_connection: int = 0,
                 **kwargs: Any) -> uvicorn.Config:
    """A uvicorn config serving ``app`` over TLS with ``ssl_context`` (client certs required).

    ``ssl_context`` may be a callable (``ReloadingServerContext``), asked at every handshake.
    ``on_refused(peer_address, reason)`` is awaited for every failed handshake.
    """
    fixed = ssl_context
    source = (lambda: fixed) if isinstance(fixed, ssl.SSLContext) else fixed
    acceptor = type("MutualTlsAcceptor", (_MutualTlsAcceptor,),
                    {"ssl_context": staticmethod(source), "on_refused": staticmethod(on_refused),
                     "handshakes": set(),
                     "http_protocol": with_request_cap(_HTTP_PROTOCOL,
                                                       max_requests_per_connection)})
    return uvicorn.Config(app, host=host, port=port, http=acceptor, **kwargs)


def audit_refusal(audit: AuditSink, clock: Clock) -> OnRefused:
    """An ``on_refused`` that logs and audits a failed TLS handshake (node authentication)."""

    async def on_refused(peer: str, reason: str) -> None:
        log.warning("TLS handshake refused from %s: %s", peer, reason,
                    extra={"peer": peer, "reason": reason})
        await audit.record(AuditRecord(
            event="tls-client-refused", outcome="serious-failure", occurred_at=clock.now(),
            source=peer, source_address=peer, detail=reason[:200]))

    return on_refused


class ClientCertificateGate:
    """Refuses (403) and audits HTTP requests that carry no verified, unexpired client cert."""

    def __init__(self, app: ASGIApp, *, audit: AuditSink, clock: Clock) -> None:
        self._app = app
        self._audit = audit
        self._clock = clock

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        identity = peer_identity_from_scope(scope)
        now = self._clock.now()
        if identity is None:
            reason = "no verified client certificate"
        elif identity.is_expired(now):
            reason = "client certificate expired"
        else:
            await self._app(scope, receive, send)
            return
        client = scope.get("client") or ("?", 0)
        log.warning("TLS client refused from %s: %s", client[0], reason,
                    extra={"peer": client[0], "reason": reason})
        await self._audit.record(AuditRecord(
            event="tls-client-refused", outcome="serious-failure", occurred_at=now,
            source=str(client[0]), source_address=str(client[0]), detail=reason,
            requester_organization=identity.organization if identity else "",
            requester_home_community_id=identity.home_community_id if identity else "",
        ))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = f"403 Forbidden: {reason}\n".encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
