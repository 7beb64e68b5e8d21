"""Document and imaging retrieval plans: ITI-39 (manifests, reports) and RAD-69/RAD-75 (instances).

A plan is decided before any byte is sent (the SOAP part of an MTOM answer lists every
DocumentResponse and RegistryError first); the bytes are then streamed one document at a
time from the BlobStore, transcoded only when the requested transfer syntaxes require it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from imx.dicom.transcode import choose_transfer_syntax, transcode_part10
from imx.model.query import ImagingQuery, QueryLevel
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentAnswer, DocumentRequest, ImagingRetrieveRequest
from imx.ports import BlobStore, MetadataStore
from imx.transactions.iti38_xca_query.codes import ErrorCode

__all__ = ["RetrieveItem", "RetrievePlan", "RetrieveService"]

# PS3.18 (2011) 6.4.4 / dcm4chee-arc ImageDocumentSource: "The requested instance(s) cannot be
# provided in the requested transfer syntax." RAD TF-3 4.69.4.2.3 leaves the code open.
TRANSFER_SYNTAX_NOT_PROVIDED = "urn:dicom:wado:0007"
# Instances up to this size are read whole (one at a time: memory stays bounded).
_WHOLE_READ_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrieveItem:
    answer: DocumentAnswer
    blob_key: str
    size_bytes: int = -1  # -1: unknown, stream in chunks
    study_instance_uid: str = ""
    stored_transfer_syntax_uid: str = ""
    send_transfer_syntax_uid: str = ""  # differs from stored: transcode while streaming


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrievePlan:
    items: tuple[RetrieveItem, ...]
    errors: tuple[RegistryErrorItem, ...]
    patient_ids: tuple[str, ...] = ()  # CX values, for the audit trail
    study_instance_uids: tuple[str, ...] = ()


def _new_content_id() -> str:
    return f"{uuid.uuid4().hex}@imx"


class RetrieveService:
    """Plans and streams ITI-39 and RAD-69/75 answers for this node's repository."""

    def __init__(self, *, metadata: MetadataStore, blobs: BlobStore, home_community_id: str,
                 repository_unique_id: str, strict_repository_check: bool = False,
                 content_id_factory: Callable[[], str] = _new_content_id) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._home = home_community_id
        self._repository = repository_unique_id
        # dicomtrolley hard-codes RepositoryUniqueId 1.3.6.1.4.1000 for RAD-69; a strict
        # check would refuse it. RAD-75 (cross-community) is always checked.
        self._strict = strict_repository_check
        self._content_id = content_id_factory

    def _error(self, code: str, context: str, location: str) -> RegistryErrorItem:
        return RegistryErrorItem(error_code=code, code_context=context, location=location)

    def _community_error(self, doc: DocumentRequest, *, required: bool) -> RegistryErrorItem | None:
        if doc.home_community_id is None:
            if required:
                return self._error(ErrorCode.MISSING_HOME_COMMUNITY_ID,
                                   "HomeCommunityId is required", self._home)
            return None
        if doc.home_community_id != self._home:
            return self._error(ErrorCode.UNKNOWN_COMMUNITY, "unknown HomeCommunityId", self._home)
        return None

    async def plan_documents(self, requests: list[DocumentRequest]) -> RetrievePlan:
        """ITI-39: manifests and reports by DocumentUniqueId (ITI TF-2b 3.39.4.1.3).

        RegistryError @location is the responding community (ITI TF-2b 3.39.4.1.3).
        """
        items: list[RetrieveItem] = []
        errors: list[RegistryErrorItem] = []
        patients: set[str] = set()
        for doc in requests:
            err = self._community_error(doc, required=True)
            if err is None and doc.repository_unique_id != self._repository:
                err = self._error(ErrorCode.UNKNOWN_REPOSITORY_ID, "unknown RepositoryUniqueId",
                                  self._home)
            entry = None if err else await self._metadata.get_document(doc.document_unique_id)
            if err is None and (entry is None or not entry.blob_key):
                err = self._error(ErrorCode.DOCUMENT_UNIQUE_ID_ERROR, "unknown DocumentUniqueId",
                                  self._home)
            if err is not None or entry is None:
                errors.append(err or self._error(ErrorCode.REPOSITORY_ERROR, "not found", self._home))
                continue
            patients.add(entry.patient_id.to_cx())
            items.append(RetrieveItem(
                answer=DocumentAnswer(home_community_id=self._home,
                                      repository_unique_id=self._repository,
                                      document_unique_id=entry.document_unique_id,
                                      mime_type=entry.mime_type, content_id=self._content_id()),
                blob_key=entry.blob_key, study_instance_uid=entry.study_instance_uid))
        return RetrievePlan(items=tuple(items), errors=tuple(errors),
                            patient_ids=tuple(sorted(patients)))

    async def plan_imaging(self, request: ImagingRetrieveRequest, *,
                           cross_gateway: bool) -> RetrievePlan:
        """RAD-69 (``cross_gateway=False``) or RAD-75: one DocumentResponse per SOP instance.

        RegistryError @location is the requested DocumentUniqueId (RAD TF-3 4.69.4.2.3,
        assertion RAD69-016).
        """
        items: list[RetrieveItem] = []
        errors: list[RegistryErrorItem] = []
        studies: set[str] = set()
        # One query for every requested instance (a series is hundreds of documents).
        found = {i.sop_instance_uid: i for i in await self._metadata.find_instances(ImagingQuery(
            level=QueryLevel.IMAGE,
            sop_instance_uids=tuple(d.document_unique_id for _st, _se, d in request.documents())))}
        for study_uid, series_uid, doc in request.documents():
            err = self._community_error(doc, required=cross_gateway)
            if err is None and (cross_gateway or self._strict) and (
                    doc.repository_unique_id != self._repository):
                err = self._error(ErrorCode.UNKNOWN_REPOSITORY_ID, "unknown RepositoryUniqueId",
                                  doc.document_unique_id)
            if err is not None:
                errors.append(RegistryErrorItem(error_code=err.error_code,
                                                code_context=err.code_context,
                                                location=doc.document_unique_id))
                continue
            inst = found.get(doc.document_unique_id)
            if (inst is None or inst.study_instance_uid != study_uid
                    or inst.series_instance_uid != series_uid):
                errors.append(self._error(ErrorCode.DOCUMENT_UNIQUE_ID_ERROR,
                                          "no such instance in the requested study and series",
                                          doc.document_unique_id))
                continue
            send_ts = choose_transfer_syntax(inst.transfer_syntax_uid,
                                             request.transfer_syntax_uids)
            if send_ts is None:
                errors.append(self._error(
                    TRANSFER_SYNTAX_NOT_PROVIDED,
                    "instance cannot be provided in a requested transfer syntax",
                    doc.document_unique_id))
                continue
            studies.add(study_uid)
            items.append(RetrieveItem(
                answer=DocumentAnswer(
                    home_community_id=doc.home_community_id or (self._home if cross_gateway
                                                                else None),
                    repository_unique_id=doc.repository_unique_id,
                    document_unique_id=doc.document_unique_id, mime_type="application/dicom",
                    content_id=self._content_id()),
                blob_key=inst.blob_key, size_bytes=inst.size_bytes, study_instance_uid=study_uid,
                stored_transfer_syntax_uid=inst.transfer_syntax_uid,
                send_transfer_syntax_uid=send_ts))
        patients = set()
        for study_uid in studies:
            study = await self._metadata.get_study(study_uid)
            if study is not None:
                patients.add(study.patient_id.to_cx())
        return RetrievePlan(items=tuple(items), errors=tuple(errors),
                            patient_ids=tuple(sorted(patients)),
                            study_instance_uids=tuple(sorted(studies)))

    def local_file(self, item: RetrieveItem) -> Path | None:
        """The stored file to send as is (zero-copy), or None: the item must be transcoded,
        or the blob store keeps no local files. ``open_item`` streams the same bytes."""
        if item.send_transfer_syntax_uid and (
                item.send_transfer_syntax_uid != item.stored_transfer_syntax_uid):
            return None
        return self._blobs.local_path(item.blob_key)

    async def open_item(self, item: RetrieveItem, *, chunk_bytes: int = 1 << 20
                        ) -> AsyncIterator[bytes]:
        """Stream one planned document; transcodes in a worker thread when needed."""
        if item.send_transfer_syntax_uid and (
                item.send_transfer_syntax_uid != item.stored_transfer_syntax_uid):
            data = await self._blobs.read_bytes(item.blob_key)
            out = await anyio.to_thread.run_sync(transcode_part10, data,
                                                 item.send_transfer_syntax_uid)
            for i in range(0, len(out), chunk_bytes):
                yield out[i:i + chunk_bytes]
            return
        if 0 <= item.size_bytes <= _WHOLE_READ_BYTES:
            # One worker-thread hop for a typical instance instead of one per chunk.
            yield await self._blobs.read_bytes(item.blob_key)
            return
        async for chunk in self._blobs.open_chunks(item.blob_key, chunk_bytes=chunk_bytes):
            yield chunk
