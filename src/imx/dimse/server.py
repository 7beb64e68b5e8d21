"""The DICOM SCP: AE setup, presentation contexts and handler binding (PS3.7, PS3.8)."""

from __future__ import annotations

import asyncio
import logging

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
    ts for ts in ALL_TRANSFER_SYNTAXES
    if ts not in (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))]

log = logging.getLogger(__name__)

_QR_MODELS = (
    PatientRootQueryRetrieveInformationModelFind, PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet, StudyRootQueryRetrieveInformationModelMove,
)


class DimseServer:
    """C-ECHO, C-STORE, C-FIND, C-GET and C-MOVE SCP for one node."""

    def __init__(self, services: NodeServices, *, loop: asyncio.AbstractEventLoop) -> None:
        self._services = services
        cfg = services.settings.dimse
        self._handlers = DimseHandlers(services, LoopBridge(loop, timeout_s=cfg.dimse_timeout_s))
        ae = AE(ae_title=cfg.ae_title)
        ae.maximum_associations = cfg.max_associations
        ae.maximum_pdu_size = cfg.max_pdu_bytes
        ae.acse_timeout = cfg.acse_timeout_s
        ae.dimse_timeout = cfg.dimse_timeout_s
        ae.network_timeout = cfg.network_timeout_s
        ae.add_supported_context(Verification)
        for cx in StoragePresentationContexts:
            # SCP and SCU role: C-GET sends sub-operations back on the same association
            # (PS3.4 C.4.3.1, role selection PS3.7 D.3.3.4).
            ae.add_supported_context(cx.abstract_syntax, _TRANSFER_SYNTAXES,
                                     scu_role=True, scp_role=True)
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
        handlers = [(evt.EVT_C_STORE, h.on_store), (evt.EVT_C_FIND, h.on_find),
                    (evt.EVT_C_GET, h.on_get), (evt.EVT_C_MOVE, h.on_move)]
        self._server = self._ae.start_server((cfg.host, cfg.port), block=False,
                                             evt_handlers=handlers)
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
