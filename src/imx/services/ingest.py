"""The one ingest service behind every door: C-STORE, STOW-RS, ``imx import`` (and later RAD-75).

Order of writes (crash safety): validate → blob (atomic) → one DB transaction → listeners.
A crash between the blob and the DB leaves an orphan blob, never a row without bytes.
Rejected input is quarantined with a PHI-free reason and never touches the store.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import anyio
from pydicom.dataset import Dataset

from imx.dicom.header import checked_dicom_json, extract_stored_instance
from imx.dicom.part10 import encode_part10, read_part10
from imx.errors import NotFoundError, RejectedInstanceError, StoreError
from imx.model.audit import AuditRecord
from imx.model.imaging import InstanceRecord, StoredInstance
from imx.ports import AuditSink, BlobStore, Clock, MetadataStore, Quarantine
from imx.settings import IngestSettings, NodeSettings

__all__ = ["IngestListener", "IngestResult", "IngestService", "IngestStatus"]

log = logging.getLogger(__name__)


class IngestStatus(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # same SOP Instance UID, same bytes: nothing written
    REPLACED = "replaced"  # same SOP Instance UID, new bytes, policy "replace"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    status: IngestStatus
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    study_instance_uid: str = ""
    transfer_syntax_uid: str = ""
    reason: str = ""  # machine code for REJECTED: not-dicom, truncated, missing-uid, ...
    detail: str = ""  # PHI-free

    @property
    def is_success(self) -> bool:
        return self.status is not IngestStatus.REJECTED


class IngestListener(Protocol):
    async def instance_stored(self, stored: StoredInstance, result: IngestResult) -> None:
        """Called after the instance is committed (not for duplicates or rejections)."""
        ...


class IngestService:
    """Validates, stores and indexes DICOM instances."""

    def __init__(self, *, metadata: MetadataStore, blobs: BlobStore, quarantine: Quarantine,
                 audit: AuditSink, clock: Clock, settings: IngestSettings,
                 node: NodeSettings) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._quarantine = quarantine
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._node = node
        self._listeners: list[IngestListener] = []
        # One writer per SOP Instance UID at a time, so two concurrent copies of the same
        # instance cannot both pass the dedupe check.
        self._locks: dict[str, anyio.Lock] = {}
        # Headers waiting to be indexed as DICOM JSON: (SOP Instance UID, blob key). Lost on a
        # crash, harmlessly: readers index missing headers on demand.
        self._index_queue: deque[tuple[str, str]] = deque()
        self._last_ingest = 0.0

    def add_listener(self, listener: IngestListener) -> None:
        self._listeners.append(listener)

    async def ingest_dataset(self, file_meta: Dataset, raw_dataset: bytes, *,
                             source: str) -> IngestResult:
        """A C-STORE: the dataset bytes as received plus the negotiated file meta."""
        try:
            data = encode_part10(file_meta, raw_dataset)
        except RejectedInstanceError as exc:
            return await self._reject(raw_dataset, None, exc, source)
        return await self.ingest_bytes(data, source=source)

    async def ingest_file(self, path: Path, *, source: str) -> IngestResult:
        """A file from disk (``imx import``); read whole: one instance at a time in memory."""
        try:
            size = (await anyio.Path(path).stat()).st_size
        except OSError:
            return IngestResult(status=IngestStatus.REJECTED, reason="unreadable",
                                detail="file could not be read")
        if size > self._settings.max_instance_bytes:
            exc = RejectedInstanceError("file larger than ingest.max_instance_bytes",
                                        reason="too-large")
            return await self._reject(None, path, exc, source)
        data = await anyio.Path(path).read_bytes()
        return await self._ingest(data, source=source, source_path=path)

    async def ingest_bytes(self, data: bytes, *, source: str) -> IngestResult:
        """A Part-10 file in memory (STOW-RS part, C-STORE)."""
        return await self._ingest(data, source=source, source_path=None)

    async def _ingest(self, data: bytes, *, source: str, source_path: Path | None) -> IngestResult:
        if len(data) > self._settings.max_instance_bytes:
            exc = RejectedInstanceError("instance larger than ingest.max_instance_bytes",
                                        reason="too-large")
            return await self._reject(None if source_path else data, source_path, exc, source)
        try:
            item, ds = await anyio.to_thread.run_sync(self._parse, data)
        except RejectedInstanceError as exc:
            return await self._reject(None if source_path else data, source_path, exc, source)
        return await self._admit(item, ds, data, source=source, source_path=source_path,
                                 blob_written=False)

    def ingest_dataset_in_thread(self, file_meta: Dataset, raw_dataset: bytes, *, source: str,
                                 run: Callable[[Coroutine[Any, Any, IngestResult]], IngestResult],
                                 ) -> IngestResult:
        """A C-STORE handled on the caller's worker thread (a DIMSE association).

        The CPU and blocking work (framing, parsing, the fsync'd blob write) happens right
        here; ``run`` carries only the dedupe decision and the database transaction to the
        event loop. Same outcomes as ``ingest_dataset``, two thread hand-offs fewer.
        """
        try:
            data = encode_part10(file_meta, raw_dataset)
        except RejectedInstanceError as exc:
            return run(self._reject(raw_dataset, None, exc, source))
        if len(data) > self._settings.max_instance_bytes:
            exc = RejectedInstanceError("instance larger than ingest.max_instance_bytes",
                                        reason="too-large")
            return run(self._reject(None, None, exc, source))
        try:
            item, ds = self._parse(data)
        except RejectedInstanceError as exc:
            return run(self._reject(data, None, exc, source))
        self._blobs.put_bytes_blocking(item.instance.blob_key, data)
        return run(self._admit(item, ds, data, source=source, source_path=None, blob_written=True))

    async def _admit(self, item: StoredInstance, ds: Dataset, data: bytes, *, source: str,
                     source_path: Path | None, blob_written: bool) -> IngestResult:
        lock = self._locks.setdefault(item.instance.sop_instance_uid, anyio.Lock())
        try:
            async with lock:
                return await self._store(item, ds, data, source=source, source_path=source_path,
                                         blob_written=blob_written)
        except RejectedInstanceError as exc:
            return await self._reject(None if source_path else data, source_path, exc, source)
        finally:
            if not lock.statistics().tasks_waiting:
                self._locks.pop(item.instance.sop_instance_uid, None)

    def _parse(self, data: bytes) -> tuple[StoredInstance, Dataset]:
        ds = read_part10(data)
        sha = hashlib.sha256(data).hexdigest()
        study = str(ds.get("StudyInstanceUID", ""))
        series = str(ds.get("SeriesInstanceUID", ""))
        sop = str(ds.get("SOPInstanceUID", ""))
        # extract validates the UIDs before key_for builds a path from them
        item = extract_stored_instance(ds, blob_key="", size_bytes=len(data), sha256=sha,
                                       received_at=self._clock.now(),
                                       default_assigning_authority=self._node.default_assigning_authority,
                                       with_json=False)
        key = self._blobs.key_for(study_instance_uid=study, series_instance_uid=series,
                                  sop_instance_uid=sop, sha256=sha)
        return replace(item, instance=replace(item.instance, blob_key=key)), ds

    async def _index_header(self, sop_instance_uid: str, blob_key: str) -> None:
        """Compute and store one instance's DICOM JSON (WADO-RS metadata, QIDO includefield)."""
        if await self._metadata.get_instance_json(sop_instance_uid):
            return
        try:
            data = await self._blobs.read_bytes(blob_key)
        except NotFoundError:
            return  # replaced or deleted meanwhile
        try:
            ds = await anyio.to_thread.run_sync(read_part10, data)
            metadata = await anyio.to_thread.run_sync(checked_dicom_json, ds)
        except RejectedInstanceError:
            metadata = b"{}"
            log.warning("instance header not convertible to DICOM JSON")
        await self._metadata.set_instance_json(sop_instance_uid, metadata)

    async def run_indexer(self, *, quiet_s: float = 0.05) -> None:
        """Index headers in the background, yielding to ingest: a C-STORE burst is acknowledged
        at full speed and indexed in the quiet after it (as PACS do). Cancellable."""
        while True:
            if not self._index_queue or anyio.current_time() - self._last_ingest < quiet_s:
                await anyio.sleep(quiet_s)
                continue
            sop, key = self._index_queue.popleft()
            try:
                await self._index_header(sop, key)
            except Exception:
                log.exception("header indexing failed")

    async def instance_json(self, inst: InstanceRecord) -> bytes:
        """The stored DICOM JSON of ``inst``, computed now if not indexed yet."""
        stored = await self._metadata.get_instance_json(inst.sop_instance_uid)
        if stored:
            return stored
        await self._index_header(inst.sop_instance_uid, inst.blob_key)
        return await self._metadata.get_instance_json(inst.sop_instance_uid) or b"{}"

    async def drain(self) -> None:
        """Index every header still queued (end of an import, shutdown, tests)."""
        while self._index_queue:
            await self._index_header(*self._index_queue.popleft())

    async def _store(self, item: StoredInstance, ds: Dataset, data: bytes, *, source: str,
                     source_path: Path | None, blob_written: bool = False) -> IngestResult:
        inst = item.instance
        base = {"sop_instance_uid": inst.sop_instance_uid, "sop_class_uid": inst.sop_class_uid,
                "study_instance_uid": inst.study_instance_uid,
                "transfer_syntax_uid": inst.transfer_syntax_uid}
        # The blob first (its key carries the content hash, so it never overwrites a different
        # copy), then the dedupe decision and the rows in one transaction.
        if not blob_written:
            await self._blobs.put_bytes(inst.blob_key, data)
        try:
            outcome = await self._metadata.store_instance(
                item, replace=self._settings.on_conflict == "replace")
        except StoreError:
            await self._blobs.delete(inst.blob_key)
            raise
        if not outcome.written:
            previous = outcome.previous
            if previous is not None and previous.sha256 == inst.sha256:
                return IngestResult(status=IngestStatus.DUPLICATE, **base)
            if previous is None or previous.blob_key != inst.blob_key:
                await self._blobs.delete(inst.blob_key)
            exc = RejectedInstanceError("an instance with this SOP Instance UID and different "
                                        "content is already stored", reason="conflict")
            return await self._reject(None if source_path else data, source_path, exc, source)
        if outcome.previous is not None and outcome.previous.blob_key != inst.blob_key:
            await self._blobs.delete(outcome.previous.blob_key)
        status = IngestStatus.STORED if outcome.is_new else IngestStatus.REPLACED
        result = IngestResult(status=status, **base)
        self._index_queue.append((inst.sop_instance_uid, inst.blob_key))
        self._last_ingest = anyio.current_time()
        await self._notify(item, result)
        return result

    async def _notify(self, item: StoredInstance, result: IngestResult) -> None:
        for listener in self._listeners:
            try:
                await listener.instance_stored(item, result)
            except Exception:
                log.exception("ingest listener failed", extra={"listener": type(listener).__name__})

    async def reject_input(self, *, reason: str, detail: str, source: str,
                           data: bytes | None = None,
                           source_path: Path | None = None) -> IngestResult:
        """Reject an input a door refused before parsing it (e.g. an oversized zip member).

        Quarantined like any rejection; ``detail`` must be PHI-free.
        """
        exc = RejectedInstanceError(detail, reason=reason)
        return await self._reject(data, source_path, exc, source)

    async def _reject(self, data: bytes | None, source_path: Path | None,
                      exc: RejectedInstanceError, source: str) -> IngestResult:
        await self._quarantine.keep(data=data, source_path=source_path, reason=exc.reason,
                                    detail=exc.detail, source=source)
        await self._audit.record(AuditRecord(
            event="dicom-instance-rejected", outcome="minor-failure",
            occurred_at=self._clock.now(), source=source, transaction="ingest",
            detail=f"{exc.reason}: {exc.detail}"))
        log.info("instance rejected", extra={"reason": exc.reason, "source": source})
        return IngestResult(status=IngestStatus.REJECTED, reason=exc.reason, detail=exc.detail)

