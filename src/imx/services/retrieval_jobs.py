"""Retrievals as background jobs with live progress (for the JSON API, the portal and the CLI).

Jobs live in the node process; a job that dies with the process is simply started again and
resumes, because ``NetworkService.retrieve_study`` requests only what the store lacks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from imx.errors import GatewayError
from imx.model.identifiers import PatientId
from imx.model.network import RemoteDocument, Requester
from imx.ports import Clock
from imx.services.network import NetworkService, RetrievalProgress, RetrievalReport

__all__ = ["RetrievalJob", "RetrievalJobs"]

log = logging.getLogger(__name__)


@dataclass(slots=True, kw_only=True)
class RetrievalJob:
    id: str
    home_community_id: str
    repository_unique_id: str
    document_unique_id: str
    created_at: dt.datetime
    status: str = "queued"  # queued | running | done | incomplete | failed | cancelled
    progress: RetrievalProgress = field(default_factory=RetrievalProgress)
    report: RetrievalReport | None = None
    error: str = ""  # PHI-free
    finished_at: dt.datetime | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class RetrievalJobs:
    def __init__(
        self, network: NetworkService, clock: Clock, *, max_parallel: int = 2, keep: int = 500
    ) -> None:
        self._network = network
        self._clock = clock
        self._gate = asyncio.Semaphore(max_parallel)
        self._jobs: dict[str, RetrievalJob] = {}
        self._keep = keep

    def start(
        self,
        manifest: RemoteDocument,
        *,
        requester: Requester | None = None,
        reconcile_to: PatientId | None = None,
        forward_to: str | None = None,
    ) -> RetrievalJob:
        job = RetrievalJob(
            id=uuid.uuid4().hex,
            home_community_id=manifest.home_community_id,
            repository_unique_id=manifest.repository_unique_id,
            document_unique_id=manifest.document_unique_id,
            created_at=self._clock.now(),
        )
        self._jobs[job.id] = job
        self._trim()
        job.task = asyncio.create_task(
            self._run(job, manifest, requester, reconcile_to, forward_to)
        )
        return job

    def get(self, job_id: str) -> RetrievalJob | None:
        return self._jobs.get(job_id)

    def list(self) -> list[RetrievalJob]:
        return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def cancel(self, job_id: str) -> RetrievalJob | None:
        job = self._jobs.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            job.cancel.set()
        return job

    async def wait(self, job_id: str) -> RetrievalJob:
        job = self._jobs[job_id]
        if job.task is not None:
            await asyncio.shield(job.task)
        return job

    async def _run(
        self,
        job: RetrievalJob,
        manifest: RemoteDocument,
        requester: Requester | None,
        reconcile_to: PatientId | None,
        forward_to: str | None,
    ) -> None:
        async def progress(state: RetrievalProgress) -> None:
            job.progress = state

        async with self._gate:
            if job.cancel.is_set():
                job.status = "cancelled"
                job.finished_at = self._clock.now()
                return
            job.status = "running"
            try:
                job.report = await self._network.retrieve_study(
                    manifest.home_community_id,
                    manifest,
                    progress=progress,
                    cancel=job.cancel,
                    requester=requester,
                    reconcile_to=reconcile_to,
                    forward_to=forward_to,
                )
                job.status = (
                    "cancelled"
                    if job.cancel.is_set()
                    else "done"
                    if job.report.is_complete
                    else "incomplete"
                )
            except GatewayError as exc:
                job.status, job.error = "failed", exc.detail
            except Exception:
                log.exception("retrieval job failed", extra={"job": job.id})
                job.status, job.error = "failed", "internal error"
            finally:
                job.finished_at = self._clock.now()

    def _trim(self) -> None:
        done = [j for j in self.list() if j.status not in ("queued", "running")]
        for j in done[self._keep :]:
            self._jobs.pop(j.id, None)
