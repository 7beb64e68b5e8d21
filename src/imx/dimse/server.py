"""The DICOM SCP: AE setup, presentation contexts and handler binding (PS3.7, PS3.8)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from imx.dimse.bridge import LoopBridge
from imx.dimse.handlers import DimseHandlers
from imx.services.context import NodeServices

__all__ = ["DimseServer"]

# pynetdicom accepts, per context, the first of *our* syntaxes the peer proposed: Explicit VR
# Little Endian first keeps most stored files going out unchanged on C-GET (bit-identical);
# Implicit VR Little Endian, which every peer must support (PS3.5 10.1), next.
_TRANSFER_SYNTAXES = [str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)] + [
    ts
    for ts in ALL_TRANSFER_SYNTAXES
    if ts not in (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))
]

log = logging.getLogger(__name__)

_QR_MODELS = (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)


class _QuickAckSocket(socket.socket):
    """An accepted association socket tuned for DIMSE's message pattern.

    A C-STORE request is a command PDU followed by data PDUs. Many SCUs (Debian's DCMTK
    build, pynetdicom) leave Nagle's algorithm on, so their second small write waits for our
    ACK of the first, which Linux delays by up to 40 ms: a fixed 40 ms per instance.
    Acknowledging at once (TCP_QUICKACK, re-armed after every read, since the kernel clears
    it) and sending without delay (TCP_NODELAY) removes that stall on our side of the wire.
    """

    @classmethod
    def wrap(cls, sock: socket.socket) -> socket.socket:
        timeout = sock.gettimeout()
        wrapped = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        wrapped.settimeout(timeout)
        wrapped.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wrapped._quickack()
        return wrapped

    def _quickack(self) -> None:
        if hasattr(socket, "TCP_QUICKACK"):
            with contextlib.suppress(OSError):
                self.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        self._quickack()
        return data


class _ImxAE(AE):
    """pynetdicom's AE whose outgoing associations (C-MOVE sub-operations) get the same
    socket tuning as accepted ones (see ``_QuickAckSocket``)."""

    def _create_socket(self, assoc: Any, address: Any, tls_args: Any) -> Any:
        sock = super()._create_socket(assoc, address, tls_args)
        if sock.socket is not None:
            sock.socket = _QuickAckSocket.wrap(sock.socket)
        return sock


class DimseServer:
    """C-ECHO, C-STORE, C-FIND, C-GET and C-MOVE SCP for one node."""

    def __init__(self, services: NodeServices, *, loop: asyncio.AbstractEventLoop) -> None:
        self._services = services
        cfg = services.settings.dimse
        self._handlers = DimseHandlers(services, LoopBridge(loop, timeout_s=cfg.dimse_timeout_s))
        ae = _ImxAE(ae_title=cfg.ae_title)
        ae.maximum_associations = cfg.max_associations
        ae.maximum_pdu_size = cfg.max_pdu_bytes
        ae.acse_timeout = cfg.acse_timeout_s
        ae.dimse_timeout = cfg.dimse_timeout_s
        ae.network_timeout = cfg.network_timeout_s
        ae.add_supported_context(Verification)
        for cx in StoragePresentationContexts:
            # SCP and SCU role: C-GET sends sub-operations back on the same association
            # (PS3.4 C.4.3.1, role selection PS3.7 D.3.3.4).
            ae.add_supported_context(
                str(cx.abstract_syntax), _TRANSFER_SYNTAXES, scu_role=True, scp_role=True
            )
        for model in _QR_MODELS:
            ae.add_supported_context(model)
        # Used for C-MOVE sub-associations when no explicit contexts are given.
        ae.requested_contexts = StoragePresentationContexts[:128]
        self._ae = ae
        self._server: ThreadedAssociationServer | None = None

    def start(self) -> int:
        """Start listening (non-blocking); returns the bound port."""
        cfg = self._services.settings.dimse
        h = self._handlers
        handlers: list[Any] = [
            (evt.EVT_C_STORE, h.on_store),
            (evt.EVT_C_FIND, h.on_find),
            (evt.EVT_C_GET, h.on_get),
            (evt.EVT_C_MOVE, h.on_move),
        ]
        ssl_context = None
        if cfg.tls:
            from imx.security.tls import server_ssl_context_from

            # PS3.15 B.9: TLS 1.2+, client certificate required (verified against the
            # network's trust bundle and CRLs, as on the HTTP listener).
            ssl_context = server_ssl_context_from(self._services.settings.tls)
        server = self._ae.start_server((cfg.host, cfg.port), block=False, evt_handlers=handlers,
                                       ssl_context=ssl_context)
        if server is None:  # only with block=True
            raise RuntimeError("pynetdicom did not return a server")
        if ssl_context is None:  # the quick-ACK socket cannot be re-wrapped once TLS is on it
            accept = server.get_request

            def get_request() -> tuple[socket.socket, tuple[str, int]]:
                sock, address = accept()
                return _QuickAckSocket.wrap(sock), address

            server.get_request = get_request  # type: ignore[method-assign]
        self._server = server
        return int(server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
