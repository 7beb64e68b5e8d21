"""The bundle of ports and services that edges (HTTP, DIMSE, CLI) are handed.

Built by ``imx.runtime`` (the composition root) or by tests with fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imx.ports import AuditSink, BlobStore, Clock, MetadataStore
from imx.settings import Settings

if TYPE_CHECKING:
    from imx.services.document_query import DocumentQueryService
    from imx.services.ingest import IngestService
    from imx.services.manifests import ManifestService
    from imx.services.network import NetworkService
    from imx.services.retrieval_jobs import RetrievalJobs
    from imx.services.patient_discovery import PatientDiscoveryService
    from imx.services.patient_feed import PatientFeedService
    from imx.services.retrieve import RetrieveService

__all__ = ["NodeServices"]


@dataclass(slots=True, kw_only=True)
class NodeServices:
    settings: Settings
    clock: Clock
    metadata: MetadataStore
    blobs: BlobStore
    audit: AuditSink
    ingest: IngestService
    manifests: ManifestService
    patient_discovery: PatientDiscoveryService
    document_query: DocumentQueryService
    retrieve: RetrieveService
    patient_feed: PatientFeedService
    network: NetworkService | None = None  # the initiating gateway (outbound), when configured
    retrieval_jobs: RetrievalJobs | None = None  # one job list for the JSON API and the portal

    def jobs(self) -> RetrievalJobs:
        """The node's retrieval jobs (made on first use where no runtime built them)."""
        if self.retrieval_jobs is None:
            from imx.services.retrieval_jobs import RetrievalJobs

            if self.network is None:
                raise ValueError("retrieval jobs need the initiating gateway")
            self.retrieval_jobs = RetrievalJobs(
                self.network, self.clock,
                max_parallel=self.settings.initiating.max_parallel_retrievals)
        return self.retrieval_jobs
