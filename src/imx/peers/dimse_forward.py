"""Forward stored instances to a local PACS by C-STORE (PS3.4 B.2), the Initiating Gateway's
"hand them to local systems" step (``imx.ports.InstanceForwarder``).

pynetdicom runs in a worker thread; each instance goes out from its blob file with exactly its
stored transfer syntax proposed, so the PACS receives the bytes we received.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom import dcmread
from pynetdicom import AE, build_context

from imx.errors import NotFoundError, PeerUnavailableError, UnknownCommunityError
from imx.model.imaging import InstanceRecord
from imx.ports import BlobStore, MetadataStore
from imx.settings import DimseDestination

__all__ = ["DimseForwarder", "ForwardResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardResult:
    destination: str
    sent: int
    failed: tuple[str, ...]  # SOP Instance UIDs the PACS did not accept


class DimseForwarder:
    def __init__(
        self,
        *,
        calling_ae_title: str,
        destinations: Sequence[DimseDestination],
        metadata: MetadataStore,
        blobs: BlobStore,
        timeout_s: float = 60,
    ) -> None:
        self._ae_title = calling_ae_title
        self._destinations = {d.ae_title: d for d in destinations}
        self._metadata = metadata
        self._blobs = blobs
        self._timeout_s = timeout_s

    def destinations(self) -> list[str]:
        return sorted(self._destinations)

    async def forward(
        self, destination_ae_title: str, sop_instance_uids: Sequence[str]
    ) -> ForwardResult:
        dest = self._destinations.get(destination_ae_title)
        if dest is None:
            raise UnknownCommunityError("unknown forward destination")
        records: list[InstanceRecord] = []
        for uid in sop_instance_uids:
            record = await self._metadata.get_instance(uid)
            if record is None:
                raise NotFoundError("instance to forward is not stored")
            records.append(record)
        sources = []
        for r in records:
            path = self._blobs.local_path(r.blob_key)
            sources.append(path if path is not None else await self._blobs.read_bytes(r.blob_key))
        return await asyncio.to_thread(self._send, dest, records, sources)

    def _send(
        self, dest: DimseDestination, records: list[InstanceRecord], sources: list[object]
    ) -> ForwardResult:
        ae = AE(ae_title=self._ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self._timeout_s
        pairs = sorted({(r.sop_class_uid, r.transfer_syntax_uid) for r in records})
        if len(pairs) > 128:  # PS3.8 9.3.2.2: at most 128 presentation contexts
            raise PeerUnavailableError("more than 128 SOP class / transfer syntax pairs")
        contexts = [build_context(cls, [ts]) for cls, ts in pairs]
        assoc = ae.associate(dest.host, dest.port, contexts=contexts, ae_title=dest.ae_title)
        if not assoc.is_established:
            raise PeerUnavailableError(f"association to {dest.ae_title} refused or failed")
        failed: list[str] = []
        sent = 0
        try:
            for record, source in zip(records, sources, strict=True):
                dataset = source if not isinstance(source, bytes) else dcmread(io.BytesIO(source))
                status = assoc.send_c_store(dataset)  # type: ignore[arg-type]
                if status is None or int(getattr(status, "Status", 0xC000)) not in (
                    0x0000,
                    0xB000,
                    0xB007,
                    0xB006,
                ):
                    failed.append(record.sop_instance_uid)
                else:
                    sent += 1
        finally:
            assoc.release()
        return ForwardResult(destination=dest.ae_title, sent=sent, failed=tuple(failed))
