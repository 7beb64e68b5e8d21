"""Ports: the small interfaces services see (CONVENTIONS §1).

Adapters in ``imx.storage`` / ``imx.audit`` implement them; tests use the
``InMemory*`` doubles in ``tests/fakes.py``. Everything is async.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from imx.model.audit import AuditRecord
from imx.model.document import DocumentEntry
from imx.model.identifiers import PatientId
from imx.model.imaging import (
    InstanceRecord,
    PatientRecord,
    SeriesRecord,
    StoredInstance,
    StoreOutcome,
    StudyRecord,
)
from imx.model.mpi import MpiCandidate, MpiPatient, PatientCorrelation
from imx.model.community import Community
from imx.model.network import CommunityPatient, RemoteDiscovery, RemoteQueryResult, RetrievedPart
from imx.model.patient_discovery import PatientDemographics
from imx.model.query import ImagingQuery
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentRequest, ImagingRetrieveRequest

__all__ = [
    "AuditSink",
    "BlobStore",
    "Clock",
    "CorrelationCache",
    "InstanceForwarder",
    "MetadataStore",
    "PatientIndex",
    "PeerDirectory",
    "PeerGateway",
    "Quarantine",
]


@runtime_checkable
class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Timezone-aware current time."""
        ...


@runtime_checkable
class BlobStore(Protocol):
    """Immutable byte objects addressed by a validated key (e.g. ``ab/cd/<sha>.dcm``).

    Writes are atomic: a reader sees the whole object or nothing (temp file,
    fsync, rename for the file adapter). Keys are built by the adapter's
    ``key_for`` from validated UIDs, never from raw input.
    """

    def key_for(self, *, study_instance_uid: str, series_instance_uid: str,
                sop_instance_uid: str, sha256: str) -> str:
        """Build a safe key; raises MalformedMessageError for an invalid UID."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (overwrites atomically if present)."""
        ...

    def put_bytes_blocking(self, key: str, data: bytes) -> None:
        """``put_bytes`` for callers already on a worker thread (blocks; never on the loop)."""
        ...

    async def put_file(self, key: str, source: Path) -> None:
        """Store the contents of a local file atomically (may move/copy it)."""
        ...

    def open_chunks(self, key: str, *, chunk_bytes: int = 1 << 20) -> AsyncIterator[bytes]:
        """Stream the object (an async generator); raises NotFoundError if absent."""
        ...

    async def read_bytes(self, key: str) -> bytes:
        """Read a (small) object whole; raises NotFoundError if absent."""
        ...

    async def size(self, key: str) -> int:
        """Size in bytes; raises NotFoundError if absent."""
        ...

    async def exists(self, key: str) -> bool:
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; no error if absent."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for zero-copy sends, or None if the adapter has none."""
        ...


@runtime_checkable
class MetadataStore(Protocol):
    """Patients, studies, series, instances and XDS document entries."""

    async def store_instance(self, item: StoredInstance, *, replace: bool = True) -> StoreOutcome:
        """Upsert patient/study/series and insert the instance, in one transaction.

        If an instance with the same SOP Instance UID exists: same sha256, nothing is
        written; different, it is replaced when ``replace`` else nothing is written.
        ``StoreOutcome.previous`` holds the existing record in both cases, ``written`` says
        whether anything changed. Study/series counters and modalities are kept current.
        """
        ...

    async def store_instances(self, items: Sequence[StoredInstance], *,
                              replace: bool = True) -> list[StoreOutcome]:
        """Batch form of ``store_instance`` (one transaction)."""
        ...

    async def get_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        ...

    async def get_instance_json(self, sop_instance_uid: str) -> bytes | None:
        """The stored DICOM JSON header of one instance."""
        ...

    async def set_instance_json(self, sop_instance_uid: str, dicom_json: bytes) -> None:
        """Store the DICOM JSON header of an instance (filled in after the ingest commit)."""
        ...

    async def get_study(self, study_instance_uid: str) -> StudyRecord | None:
        ...

    async def get_patient(self, patient_id: PatientId) -> PatientRecord | None:
        ...

    async def upsert_patient(self, patient: PatientRecord) -> None:
        """Insert or update a patient's demographics (registration feed, ITI-8)."""
        ...

    async def merge_patient(self, *, surviving: PatientId, retired: PatientId) -> int:
        """Move the retired patient's studies to the surviving one and drop the retired
        record (ADT A40); returns how many studies moved. The surviving patient must exist."""
        ...

    async def list_series(self, study_instance_uid: str) -> list[SeriesRecord]:
        ...

    async def list_instances(self, study_instance_uid: str,
                             series_instance_uid: str | None = None) -> list[InstanceRecord]:
        """Instances of a study (or one series), ordered by series then instance number."""
        ...

    async def delete_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        ...

    async def find_patients(self, query: ImagingQuery) -> list[PatientRecord]:
        ...

    async def find_studies(self, query: ImagingQuery) -> list[StudyRecord]:
        ...

    async def find_series(self, query: ImagingQuery) -> list[SeriesRecord]:
        ...

    async def find_instances(self, query: ImagingQuery) -> list[InstanceRecord]:
        ...

    async def put_document(self, entry: DocumentEntry) -> None:
        """Insert or replace a document entry (keyed by document_unique_id)."""
        ...

    async def get_document(self, document_unique_id: str) -> DocumentEntry | None:
        ...

    async def find_documents(self, *, patient_id: PatientId | None = None,
                             study_instance_uid: str | None = None,
                             kinds: Sequence[str] = (),
                             entry_uuids: Sequence[str] = ()) -> list[DocumentEntry]:
        """Entries matching every given filter (no filter: all), oldest first."""
        ...

    async def deprecate_document(self, document_unique_id: str) -> None:
        """Mark an entry Deprecated (a replaced manifest is never deleted)."""
        ...


@runtime_checkable
class PatientIndex(Protocol):
    """The responder's MPI: demographics with their blocking keys, and correlations.

    Candidate retrieval is an indexed lookup of blocking keys (``imx.matching.blocking``),
    never a scan. Ingest (DICOM headers) creates entries; the ADT feed and imports update them.
    """

    async def upsert_mpi_patient(self, patient: MpiPatient) -> None:
        """Insert or replace an entry (its blocking keys are recomputed).

        An entry from the ADT feed or an import is not replaced by DICOM-header data.
        """
        ...

    async def upsert_mpi_patients(self, patients: Sequence[MpiPatient]) -> int:
        """Batch form of ``upsert_mpi_patient`` in one transaction; returns how many."""
        ...

    async def get_mpi_patient(self, patient_id: PatientId) -> MpiPatient | None:
        ...

    async def find_mpi_candidates(self, keys: Collection[str], *, limit: int = 2000,
                                  min_kinds: int = 1,
                                  strong_kinds: Collection[str] = ()) -> list[MpiCandidate]:
        """Entries sharing blocking keys with ``keys``, at most ``limit`` (arbitrary order).

        An entry qualifies when the keys it shares are of at least ``min_kinds`` different
        kinds (``imx.matching.blocking.key_kind``), or when one of them is of a kind in
        ``strong_kinds``.
        """
        ...

    async def merge_mpi_patient(self, *, surviving: PatientId, retired: PatientId) -> None:
        """Drop the retired entry and move its correlations to the surviving one (ADT A40)."""
        ...

    async def count_mpi_patients(self) -> int:
        ...

    async def add_correlation(self, correlation: PatientCorrelation) -> bool:
        """Record a correlation (idempotent); False if it was known already."""
        ...

    async def resolve_correlation(self, remote_patient_id: PatientId) -> PatientId | None:
        """Our patient for another community's identifier, if correlated."""
        ...

    async def list_correlations(self, local_patient_id: PatientId) -> list[PatientCorrelation]:
        """Every remote identifier correlated with one of our patients."""
        ...


@runtime_checkable
class AuditSink(Protocol):
    async def record(self, record: AuditRecord) -> None:
        """Persist/ship one audit record; must not raise for transient sink trouble."""
        ...


@runtime_checkable
class Quarantine(Protocol):
    """Where rejected inputs are kept, with a PHI-free reason, for an administrator to review."""

    async def keep(self, *, data: bytes | None, source_path: Path | None, reason: str,
                   detail: str, source: str) -> Path:
        ...


# --- the initiating gateway's view of the network (issue: Initiating Gateway) ---------------

@runtime_checkable
class PeerDirectory(Protocol):
    """Who is on the network: the directory cache, or the configured community list."""

    async def find_communities(self, *, transaction: str | None = None,
                               state: str | None = None, near_postal_code: str | None = None,
                               radius_miles: float | None = None,
                               active: bool = True) -> list[Community]:
        ...

    async def get(self, home_community_id: str) -> Community | None:
        ...


@runtime_checkable
class PeerGateway(Protocol):
    """Outbound IHE transactions to one community's responding gateway.

    Every method raises ``PeerUnavailableError`` when the peer cannot be reached, times out,
    faults, or answers something unreadable; never with PHI in the detail.
    """

    async def discover_patient(self, community: Community,
                               demographics: PatientDemographics) -> RemoteDiscovery:
        ...

    async def query_documents(self, community: Community, patient_id: PatientId) -> RemoteQueryResult:
        ...

    def retrieve_documents(self, community: Community, documents: Sequence[DocumentRequest]
                           ) -> AsyncIterator[RetrievedPart | RegistryErrorItem]:
        """ITI-39; parts stream in the peer's order, then its RegistryErrors."""
        ...

    def retrieve_imaging(self, community: Community, request: ImagingRetrieveRequest
                         ) -> AsyncIterator[RetrievedPart | RegistryErrorItem]:
        """RAD-75 (RAD-69 for a source inside our community)."""
        ...


@runtime_checkable
class CorrelationCache(Protocol):
    """Our patient ↔ their patient ID per community, with expiry (who was found where)."""

    async def get_correlations(self, patient_key: str, *, now: dt.datetime
                               ) -> dict[str, CommunityPatient | None]:
        """Fresh entries by home community ID; None = searched there, not found."""
        ...

    async def put_correlation(self, patient_key: str, home_community_id: str,
                              patient: CommunityPatient | None, *, expires_at: dt.datetime) -> None:
        ...

    async def forget(self, patient_key: str) -> int:
        ...


@runtime_checkable
class InstanceForwarder(Protocol):
    """Hands stored instances to a local system (PACS by C-STORE, or STOW-RS)."""

    def destinations(self) -> list[str]:
        ...

    async def forward(self, destination_ae_title: str, sop_instance_uids: Sequence[str]) -> object:
        """Returns a result with ``sent`` and ``failed``; raises PeerUnavailableError."""
        ...
