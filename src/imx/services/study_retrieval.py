"""Retrieving a study from another community into the local store (XCA-I, as Initiating Imaging
Gateway and Imaging Document Consumer): ITI-39 for the KOS manifest, then RAD-75 for the
instances the store lacks, streamed from the socket into the store.

Used by ``NetworkService.retrieve_study``; resume is implicit (only missing SOP Instance UIDs are
requested), completeness is checked against the KOS, reconciliation and forwarding are optional.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from imx.dicom.kos import ManifestContent, parse_manifest
from imx.dicom.part10 import read_part10
from imx.dicom.reconcile import reconcile_patient
from imx.errors import (
    MalformedMessageError,
    NotFoundError,
    PeerUnavailableError,
    UnknownCommunityError,
)
from imx.model.community import Community
from imx.model.identifiers import PatientId
from imx.model.network import RemoteDocument, Requester, current_requester
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentRequest, ImagingRetrieveRequest, SeriesRequest, StudyRequest
from imx.ports import Clock, InstanceForwarder, MetadataStore, PeerDirectory, PeerGateway
from imx.services.ingest import IngestService
from imx.settings import InitiatingSettings

__all__ = [
    "ACCEPTED_TRANSFER_SYNTAXES",
    "ProgressCallback",
    "RetrievalProgress",
    "RetrievalReport",
    "StudyRetrieval",
]

# Transfer syntaxes we accept from a source: every one we can store as-is, so the source
# sends its stored bytes without transcoding (RAD TF-3 4.69.4.1.2: the list is a preference).
ACCEPTED_TRANSFER_SYNTAXES: Final = (
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
)
_IN_MEMORY_MAX: Final = 8 << 20  # larger instances spill to a temp file on their way in
_QUEUE: Final = 8  # received instances waiting for the store (<= 8 x 8 MB in RAM)
_STORE_WORKERS: Final = 3


@dataclass(slots=True, kw_only=True)
class RetrievalProgress:
    """Live counters of one retrieval (read by progress bars and the job API)."""

    study_instance_uid: str = ""
    total_instances: int = 0
    already_present: int = 0
    received_instances: int = 0
    received_bytes: int = 0
    failed_instances: int = 0
    current_series: str = ""
    per_series: dict[str, tuple[int, int]] = field(default_factory=dict)  # uid -> (done, total)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrievalReport:
    study_instance_uid: str
    home_community_id: str
    total_instances: int
    already_present: int
    received_instances: int
    received_bytes: int
    missing_sop_instance_uids: tuple[str, ...]
    errors: tuple[RegistryErrorItem, ...]
    forwarded: object | None = None  # the forwarder's result (sent / failed) when asked

    @property
    def is_complete(self) -> bool:
        return not self.missing_sop_instance_uids


ProgressCallback = Callable[[RetrievalProgress], Awaitable[None] | None]


class StudyRetrieval:
    """The retrieval half of the initiating gateway (audit records go through ``record``)."""

    def __init__(
        self,
        *,
        settings: InitiatingSettings,
        directory: PeerDirectory,
        peers: PeerGateway,
        metadata: MetadataStore,
        ingest: IngestService,
        clock: Clock,
        record: Callable[..., Awaitable[None]],
        forwarder: InstanceForwarder | None = None,
    ) -> None:
        self._s = settings
        self._directory = directory
        self._peers = peers
        self._metadata = metadata
        self._ingest = ingest
        self._clock = clock
        self._record = record
        self._forwarder = forwarder

    async def retrieve_manifest(
        self, community: Community, manifest: RemoteDocument
    ) -> ManifestContent:
        request = DocumentRequest(
            home_community_id=manifest.home_community_id or community.home_community_id,
            repository_unique_id=manifest.repository_unique_id,
            document_unique_id=manifest.document_unique_id,
        )
        data = bytearray()
        errors: list[RegistryErrorItem] = []
        async for item in self._peers.retrieve_documents(community, [request]):
            if isinstance(item, RegistryErrorItem):
                errors.append(item)
                continue
            async for chunk in item.chunks:
                data += chunk
                if len(data) > 64 << 20:
                    raise MalformedMessageError("manifest larger than 64 MB")
        if not data:
            raise NotFoundError(
                f"manifest not returned by {community.home_community_id}"
                + (f" ({errors[0].error_code})" if errors else "")
            )
        return parse_manifest(read_part10(bytes(data)))

    async def retrieve_study(
        self,
        home_community_id: str,
        manifest: RemoteDocument,
        *,
        progress: ProgressCallback | None = None,
        user: str = "",
        cancel: asyncio.Event | None = None,
        requester: Requester | None = None,
        reconcile_to: PatientId | None = None,
        forward_to: str | None = None,
    ) -> RetrievalReport:
        """Retrieve the study a KOS manifest describes into the local store.

        Args:
            reconcile_to: rewrite Patient ID / Issuer to this local patient before storing,
                keeping the source's values in the Original Attributes Sequence.
            forward_to: then C-STORE the whole study to this configured PACS (AE title).
        """
        if requester is not None:
            current_requester.set(requester)
            user = user or requester.subject_id
        community = await self._directory.get(home_community_id)
        if community is None:
            raise UnknownCommunityError("community not in the directory")
        content = await self.retrieve_manifest(community, manifest)
        state = RetrievalProgress(
            study_instance_uid=content.study_instance_uid, total_instances=content.instance_count()
        )
        wanted: list[tuple[str, list[tuple[str, str]]]] = []
        for series in content.series:
            missing = []
            for sop_class, sop_uid in series.instances:
                if await self._metadata.get_instance(sop_uid) is None:
                    missing.append((sop_class, sop_uid))
            state.already_present += len(series.instances) - len(missing)
            state.per_series[series.series_instance_uid] = (
                len(series.instances) - len(missing),
                len(series.instances),
            )
            if missing:
                wanted.append((series.series_instance_uid, missing))
        await _notify(progress, state)
        errors: list[RegistryErrorItem] = []
        repository = {
            s.series_instance_uid: s.retrieve_location_uid or manifest.repository_unique_id
            for s in content.series
        }
        for series_uid, instances in wanted:
            for batch in _batches(
                instances,
                self._s.instances_per_request
                or int(community.quirks.get("instances_per_request", "0") or 0),
            ):
                if cancel is not None and cancel.is_set():
                    break
                request = ImagingRetrieveRequest(
                    studies=(
                        StudyRequest(
                            study_instance_uid=content.study_instance_uid,
                            series=(
                                SeriesRequest(
                                    series_instance_uid=series_uid,
                                    documents=tuple(
                                        DocumentRequest(
                                            home_community_id=community.home_community_id,
                                            repository_unique_id=repository[series_uid],
                                            document_unique_id=sop_uid,
                                        )
                                        for _, sop_uid in batch
                                    ),
                                ),
                            ),
                        ),
                    ),
                    transfer_syntax_uids=ACCEPTED_TRANSFER_SYNTAXES,
                )
                state.current_series = series_uid
                errors.extend(
                    await self._retrieve_batch(
                        community, request, series_uid, state, progress, reconcile_to
                    )
                )
        missing = []
        for series in content.series:
            for _, sop_uid in series.instances:
                if await self._metadata.get_instance(sop_uid) is None:
                    missing.append(sop_uid)
        forwarded = None
        if forward_to is not None:
            if self._forwarder is None:
                raise UnknownCommunityError("no forward destination is configured")
            present = [uid for s in content.series for _, uid in s.instances if uid not in missing]
            forwarded = await self._forwarder.forward(forward_to, present)
        report = RetrievalReport(
            study_instance_uid=content.study_instance_uid,
            home_community_id=community.home_community_id,
            total_instances=state.total_instances,
            already_present=state.already_present,
            received_instances=state.received_instances,
            received_bytes=state.received_bytes,
            missing_sop_instance_uids=tuple(missing),
            errors=tuple(errors),
            forwarded=forwarded,
        )
        await self._record(
            "RAD-75",
            community,
            user=user,
            outcome="success" if report.is_complete else "minor-failure",
            studies=(content.study_instance_uid,),
            detail=f"{report.received_instances} received, {len(missing)} missing",
        )
        return report

    async def _retrieve_batch(
        self,
        community: Community,
        request: ImagingRetrieveRequest,
        series_uid: str,
        state: RetrievalProgress,
        progress: ProgressCallback | None,
        reconcile_to: PatientId | None,
    ) -> list[RegistryErrorItem]:
        """Receive one RAD-75 answer while storing what already arrived.

        The socket reader hands each received instance (bytes, or a temp file past 8 MB) to a
        few store workers through a small queue: the network and the store (parse, fsync,
        index) overlap, and at most ``_QUEUE`` instances wait in memory.
        """
        errors: list[RegistryErrorItem] = []
        queue: asyncio.Queue[bytes | Path | None] = asyncio.Queue(maxsize=_QUEUE)

        async def store_worker() -> None:
            while (received := await queue.get()) is not None:
                size = await self._ingest_received(
                    received,
                    source=community.home_community_id,
                    reconcile_to=reconcile_to,
                    community=community,
                )
                if size is None:
                    state.failed_instances += 1
                    continue
                state.received_instances += 1
                state.received_bytes += size
                done, total = state.per_series.get(series_uid, (0, 0))
                state.per_series[series_uid] = (done + 1, total)
                await _notify(progress, state)

        workers = [asyncio.create_task(store_worker()) for _ in range(_STORE_WORKERS)]
        try:
            async for item in self._peers.retrieve_imaging(community, request):
                if isinstance(item, RegistryErrorItem):
                    errors.append(item)
                    state.failed_instances += 1
                    continue
                await queue.put(await _receive(item.chunks))
        except PeerUnavailableError as exc:
            # What arrived is stored; a later retrieve_study resumes from there.
            errors.append(
                RegistryErrorItem(
                    error_code="XDSUnavailableCommunity",
                    code_context=exc.detail,
                    location=community.home_community_id,
                )
            )
        finally:
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        return errors

    async def _ingest_received(
        self,
        received: bytes | Path,
        *,
        source: str,
        reconcile_to: PatientId | None,
        community: Community,
    ) -> int | None:
        """Store one received instance; the temp file (if any) is removed afterwards."""
        try:
            size = len(received) if isinstance(received, bytes) else received.stat().st_size
            if reconcile_to is not None:
                data = received if isinstance(received, bytes) else received.read_bytes()
                try:
                    data = reconcile_patient(
                        data,
                        reconcile_to,
                        modified_at=self._clock.now(),
                        source_of_previous_values=community.name[:64],
                    )
                except MalformedMessageError:
                    pass  # ingest refuses and quarantines it with the reason
                result = await self._ingest.ingest_bytes(data, source=source)
            elif isinstance(received, Path):
                result = await self._ingest.ingest_file(received, source=source)
            else:
                result = await self._ingest.ingest_bytes(received, source=source)
        finally:
            if isinstance(received, Path):
                received.unlink(missing_ok=True)
        return size if result.is_success else None


def _batches(items: list[tuple[str, str]], size: int) -> list[list[tuple[str, str]]]:
    if size <= 0:
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _receive(chunks: AsyncIterator[bytes]) -> bytes | Path:
    """Read one MTOM part: bytes up to 8 MB, past that a temp file (the caller removes it)."""
    buffer = bytearray()
    spool = None
    try:
        async for chunk in chunks:
            if spool is None and len(buffer) + len(chunk) > _IN_MEMORY_MAX:
                spool = tempfile.NamedTemporaryFile(
                    prefix="imx-retrieve-", suffix=".dcm", delete=False
                )
                spool.write(buffer)
                buffer = bytearray()
            if spool is not None:
                spool.write(chunk)
            else:
                buffer += chunk
    except BaseException:
        if spool is not None:
            spool.close()
            Path(spool.name).unlink(missing_ok=True)
        raise
    if spool is None:
        return bytes(buffer)
    spool.close()
    return Path(spool.name)


async def _notify(progress: ProgressCallback | None, state: RetrievalProgress) -> None:
    if progress is None:
        return
    out = progress(state)
    if out is not None:
        await out
