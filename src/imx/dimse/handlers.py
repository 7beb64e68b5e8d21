"""Thin DIMSE handlers: identifier → query/service → status (PS3.4 B, C).

Instances are sent from the stored Part-10 files one at a time (never a whole study in
memory). Everything async runs through ``LoopBridge``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pynetdicom.events import Event
from pynetdicom.presentation import build_context

from imx.dicom.cfind import PATIENT_ROOT, STUDY_ROOT, build_identifier, parse_identifier
from imx.dimse.bridge import LoopBridge
from imx.dimse.status import (
    CANCEL,
    PENDING,
    SUCCESS,
    find_status,
    retrieve_status,
    store_status_for_reason,
)
from imx.errors import GatewayError, MissingParameterError, UnknownCommunityError
from imx.model.audit import AuditRecord
from imx.model.imaging import InstanceRecord
from imx.model.query import ImagingQuery, QueryLevel
from imx.services.context import NodeServices
from imx.services.ingest import IngestStatus

__all__ = ["DimseHandlers"]

log = logging.getLogger(__name__)

_PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
_PATIENT_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
_PATIENT_ROOT_GET = "1.2.840.10008.5.1.4.1.2.1.3"


def _model(event: Event) -> str:
    uid = str(event.context.abstract_syntax)
    return (
        PATIENT_ROOT
        if uid in (_PATIENT_ROOT_FIND, _PATIENT_ROOT_MOVE, _PATIENT_ROOT_GET)
        else STUDY_ROOT
    )


def _peer(event: Event) -> str:
    req = event.assoc.requestor
    return f"{req.ae_title}@{req.address}"


class DimseHandlers:
    def __init__(self, services: NodeServices, bridge: LoopBridge) -> None:
        self._services = services
        self._bridge = bridge
        self._ae_title = services.settings.dimse.ae_title

    # -- C-STORE (PS3.4 B.2) ----------------------------------------------------------

    def on_store(self, event: Event) -> int:
        data = getattr(event.request, "DataSet", None)
        if not isinstance(data, io.BytesIO):
            return 0xC000  # PS3.4 B.2.3: Error, cannot understand (no data set)
        # The raw encoded data set goes to ingest undecoded (the hot path); parsing and the
        # blob write run on this association thread, only the transaction on the loop.
        raw = data.getvalue()
        result = self._services.ingest.ingest_dataset_in_thread(
            event.file_meta, raw, source=f"dimse:{_peer(event)}", run=self._bridge.run
        )
        if result.status is IngestStatus.REJECTED:
            return store_status_for_reason(result.reason)
        return SUCCESS

    # -- C-FIND (PS3.4 C.4.1) ----------------------------------------------------------

    def on_find(self, event: Event) -> Iterator[tuple[int, Dataset | None]]:
        try:
            query = parse_identifier(event.identifier, model=_model(event))
            matches = self._bridge.run(self._find(event.identifier, query))
        except GatewayError as exc:
            log.info("C-FIND refused", extra={"error": type(exc).__name__})
            yield find_status(exc), None
            return
        for identifier in matches:
            if event.is_cancelled:
                yield CANCEL, None
                return
            yield PENDING, identifier
        self._audit("query", event, detail=f"C-FIND {query.level.value}: {len(matches)} matches")

    async def _find(self, request: Dataset, query: ImagingQuery) -> list[Dataset]:
        md = self._services.metadata
        ae = self._ae_title
        if query.level is QueryLevel.PATIENT:
            return [
                build_identifier(request, retrieve_ae_title=ae, patient=p)
                for p in await md.find_patients(query)
            ]
        if query.level is QueryLevel.STUDY:
            out = []
            for st in await md.find_studies(query):
                out.append(
                    build_identifier(
                        request,
                        retrieve_ae_title=ae,
                        study=st,
                        patient=await md.get_patient(st.patient_id),
                    )
                )
            return out
        if query.level is QueryLevel.SERIES:
            out = []
            for se in await md.find_series(query):
                out.append(
                    build_identifier(
                        request,
                        retrieve_ae_title=ae,
                        series=se,
                        study=await md.get_study(se.study_instance_uid),
                    )
                )
            return out
        out = []
        for inst in await md.find_instances(query):
            out.append(build_identifier(request, retrieve_ae_title=ae, inst=inst))
        return out

    # -- C-GET / C-MOVE (PS3.4 C.4.2, C.4.3) -------------------------------------------

    def _instances(self, event: Event) -> list[InstanceRecord]:
        query = parse_identifier(event.identifier, model=_model(event))
        if not (
            query.study_instance_uids
            or query.series_instance_uids
            or query.sop_instance_uids
            or query.patient_id
        ):
            # PS3.4 C.4.2.2.1: retrieves name the unique keys of the level
            raise MissingParameterError("retrieve needs a unique key")
        return self._bridge.run(
            self._services.metadata.find_instances(
                ImagingQuery(
                    level=QueryLevel.IMAGE,
                    patient_id=query.patient_id,
                    study_instance_uids=query.study_instance_uids,
                    series_instance_uids=query.series_instance_uids,
                    sop_instance_uids=query.sop_instance_uids,
                )
            )
        )

    def _dataset(self, inst: InstanceRecord) -> Dataset:
        path = self._services.blobs.local_path(inst.blob_key)
        if path is not None and Path(path).is_file():
            return pydicom.dcmread(path)
        return pydicom.dcmread(
            io.BytesIO(self._bridge.run(self._services.blobs.read_bytes(inst.blob_key)))
        )

    def on_get(self, event: Event) -> Iterator[Any]:
        try:
            instances = self._instances(event)
        except GatewayError as exc:
            yield retrieve_status(exc), None
            return
        yield len(instances)
        for inst in instances:
            if event.is_cancelled:
                yield CANCEL, None
                return
            yield PENDING, self._dataset(inst)
        self._audit("instances-transferred", event, detail=f"C-GET {len(instances)} instances")

    def on_move(self, event: Event) -> Iterator[Any]:
        destination = event.move_destination
        dest_ae = (
            destination.decode().strip()
            if isinstance(destination, bytes)
            else str(destination).strip()
        )
        known = {d.ae_title: d for d in self._services.settings.dimse.destinations}
        try:
            if dest_ae not in known:
                raise UnknownCommunityError("unknown move destination")
            instances = self._instances(event)
        except UnknownCommunityError:
            yield None, None  # pynetdicom answers 0xA801 Move Destination unknown
            return
        except GatewayError as exc:
            yield retrieve_status(exc), None
            return
        dest = known[dest_ae]
        # Propose exactly each instance's stored transfer syntax, so files go out unchanged.
        pairs = sorted({(i.sop_class_uid, i.transfer_syntax_uid) for i in instances})
        contexts = [build_context(cls, [ts]) for cls, ts in pairs][:128]
        yield dest.host, dest.port, {"contexts": contexts, "ae_title": dest.ae_title}
        yield len(instances)
        for inst in instances:
            if event.is_cancelled:
                yield CANCEL, None
                return
            yield PENDING, self._dataset(inst)
        self._audit(
            "instances-transferred", event, detail=f"C-MOVE {len(instances)} instances to {dest_ae}"
        )

    def _audit(self, kind: str, event: Event, *, detail: str) -> None:
        record = AuditRecord(
            event=kind,
            outcome="success",
            occurred_at=self._services.clock.now(),
            source=_peer(event),
            destination=self._ae_title,
            transaction="DIMSE",
            detail=detail,
        )
        self._bridge.run(self._services.audit.record(record))
