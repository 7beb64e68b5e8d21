"""The Initiating Gateway's use cases: find a patient across the network, list their studies and
reports, retrieve a study into the local store (issue: Initiating Gateway).

- ``search_patient``: XCPD (ITI-55) fan-out to the communities routing picks, bounded
  concurrency, a hard deadline per community; returned demographics are re-checked locally
  before a match is trusted (a wrong match shows another person's images); answers are kept in
  the correlation cache so a repeat search within its lifetime sends no XCPD.
- ``list_documents``: ITI-38 fan-out to the communities where the patient was found; one merged,
  de-duplicated list; one RegistryError per failed or timed-out community, never a failed call.
- ``retrieve_study``: ITI-39 for the KOS manifest, then RAD-75 per series (or N instances per
  request), each instance streamed into the local store; instances already stored are not
  requested again (resume), completeness is checked against the KOS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from imx.dicom.kos import ManifestContent
from imx.errors import (
    GatewayError,
    PeerUnavailableError,
)
from imx.matching import prepare, score
from imx.model.audit import AuditRecord
from imx.model.community import Community
from imx.model.identifiers import PatientId
from imx.model.network import (
    CommunityFailure,
    CommunityPatient,
    RemoteDocument,
    Requester,
    current_requester,
)
from imx.model.patient_discovery import PatientDemographics, QueryResponseCode
from imx.model.registry import RegistryErrorItem
from imx.ports import (
    AuditSink,
    Clock,
    CorrelationCache,
    InstanceForwarder,
    MetadataStore,
    PeerDirectory,
    PeerGateway,
)
from imx.services.ingest import IngestService
from imx.services.patient_discovery import to_demographics
from imx.services.study_retrieval import (
    RetrievalProgress,
    RetrievalReport,
    StudyRetrieval,
)
from imx.settings import InitiatingSettings

__all__ = [
    "DocumentList",
    "NetworkService",
    "PatientSearch",
    "RetrievalProgress",
    "RetrievalReport",
    "patient_key_for",
]

log = logging.getLogger(__name__)


def patient_key_for(
    demographics: PatientDemographics, local_patient_id: PatientId | None = None
) -> str:
    """The correlation-cache key: our patient ID when known, else a digest of the normalised
    demographics (no PHI in the key itself)."""
    if local_patient_id is not None:
        return f"pid:{local_patient_id.to_cx()}"
    p = prepare(to_demographics(demographics))
    basis = "|".join([p.family, p.first, str(p.birth_date), p.sex])
    return "demo:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientSearch:
    patients: tuple[CommunityPatient, ...]
    failures: tuple[CommunityFailure, ...]
    searched: tuple[str, ...]  # every community considered (home community IDs)
    xcpd_sent: int  # how many ITI-55 requests went out (0 when all came from the cache)
    rejected_by_local_check: tuple[str, ...] = ()  # communities whose match we did not trust


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentList:
    documents: tuple[RemoteDocument, ...]
    failures: tuple[CommunityFailure, ...]
    warnings: tuple[RegistryErrorItem, ...] = ()

    @property
    def status(self) -> str:
        if not self.failures:
            return "Success"
        return "PartialSuccess" if self.documents else "Failure"


class NetworkService:
    def __init__(
        self,
        *,
        settings: InitiatingSettings,
        home_community_id: str,
        directory: PeerDirectory,
        peers: PeerGateway,
        correlations: CorrelationCache,
        metadata: MetadataStore,
        ingest: IngestService,
        audit: AuditSink,
        clock: Clock,
        forwarder: InstanceForwarder | None = None,
    ) -> None:
        self._s = settings
        self._home = home_community_id
        self._directory = directory
        self._peers = peers
        self._correlations = correlations
        self._metadata = metadata
        self._ingest = ingest
        self._audit = audit
        self._clock = clock
        self._forwarder = forwarder
        self._gate = asyncio.Semaphore(settings.max_concurrency)
        self._retrieval = StudyRetrieval(
            settings=settings,
            directory=directory,
            peers=peers,
            metadata=metadata,
            ingest=ingest,
            clock=clock,
            record=self._record,
            forwarder=forwarder,
        )

    # --- routing ----------------------------------------------------------------------------------

    @property
    def directory(self) -> PeerDirectory:
        """Who is on the network (the directory cache and ``[[communities]]``)."""
        return self._directory

    async def communities(
        self,
        *,
        transaction: str,
        only: Sequence[str] | None = None,
        state: str | None = None,
        near_postal_code: str | None = None,
        radius_miles: float | None = None,
    ) -> list[Community]:
        """Communities to ask, from the directory cache only; never ourselves."""
        found = await self._directory.find_communities(
            transaction=transaction,
            state=state,
            near_postal_code=near_postal_code,
            radius_miles=radius_miles,
        )
        wanted = {_urn(c) for c in only} if only else None
        return [
            c
            for c in found
            if _urn(c.home_community_id) != _urn(self._home)
            and (wanted is None or _urn(c.home_community_id) in wanted)
        ]

    async def organizations(
        self, *, transaction: str | None = None, state: str | None = None
    ) -> list[Community]:
        """Everyone on the network the directory cache knows (ourselves included)."""
        return await self._directory.find_communities(transaction=transaction, state=state)

    # --- ITI-55 ---------------------------------------------------------------------------------

    async def search_patient(
        self,
        demographics: PatientDemographics,
        *,
        local_patient_id: PatientId | None = None,
        communities: Sequence[str] | None = None,
        state: str | None = None,
        near_postal_code: str | None = None,
        radius_miles: float | None = None,
        use_cache: bool = True,
        user: str = "",
        requester: Requester | None = None,
    ) -> PatientSearch:
        if requester is not None:
            current_requester.set(requester)
            user = user or requester.subject_id
        targets = await self.communities(
            transaction="ITI-55",
            only=communities,
            state=state,
            near_postal_code=near_postal_code,
            radius_miles=radius_miles,
        )
        key = patient_key_for(demographics, local_patient_id)
        now = self._clock.now()
        cached = await self._correlations.get_correlations(key, now=now) if use_cache else {}
        patients: list[CommunityPatient] = []
        ask: list[Community] = []
        for c in targets:
            hit = cached.get(_urn(c.home_community_id), _MISSING)
            if hit is _MISSING:
                ask.append(c)
            elif hit is not None:
                patients.append(replace(hit, from_cache=True))
        # The initiator's own patient ID travels as livingSubjectId (Query and Feed, ITI TF-2b
        # 3.55.4.1.2.4) so the responder can correlate the reverse direction.
        query = demographics
        if local_patient_id is not None and local_patient_id not in demographics.ids:
            query = replace(demographics, ids=(*demographics.ids, local_patient_id))
        results = await asyncio.gather(*(self._discover_one(c, query, user) for c in ask))
        failures: list[CommunityFailure] = []
        rejected: list[str] = []
        wanted = prepare(to_demographics(demographics))
        for community, outcome in zip(ask, results, strict=True):
            if isinstance(outcome, CommunityFailure):
                failures.append(outcome)
                continue
            trusted = []
            for p in outcome:
                checked = self._local_check(wanted, p)
                if checked is None:
                    rejected.append(community.home_community_id)
                else:
                    trusted.append(checked)
            expires = now + dt.timedelta(
                seconds=self._s.correlation_ttl_s if trusted else self._s.negative_ttl_s
            )
            if len(trusted) == 1:
                await self._correlations.put_correlation(
                    key, _urn(community.home_community_id), trusted[0], expires_at=expires
                )
            elif not trusted:
                await self._correlations.put_correlation(
                    key, _urn(community.home_community_id), None, expires_at=expires
                )
            patients.extend(trusted)
        return PatientSearch(
            patients=tuple(patients),
            failures=tuple(failures),
            searched=tuple(c.home_community_id for c in targets),
            xcpd_sent=len(ask),
            rejected_by_local_check=tuple(rejected),
        )

    async def _discover_one(
        self, community: Community, demographics: PatientDemographics, user: str
    ) -> list[CommunityPatient] | CommunityFailure:
        async with self._gate:
            try:
                answer = await asyncio.wait_for(
                    self._peers.discover_patient(community, demographics),
                    timeout=self._s.xcpd_timeout_s,
                )
            except (TimeoutError, PeerUnavailableError) as exc:
                detail = exc.detail if isinstance(exc, GatewayError) else "timed out"
                await self._record(
                    "ITI-55", community, outcome="serious-failure", detail=detail, user=user
                )
                return CommunityFailure(
                    home_community_id=community.home_community_id,
                    error_code="XDSUnavailableCommunity",
                    detail=detail,
                )
        if answer.response_code in (
            QueryResponseCode.QUERY_ERROR,
            QueryResponseCode.APPLICATION_ERROR,
        ):
            await self._record(
                "ITI-55",
                community,
                outcome="minor-failure",
                detail=f"answered {answer.response_code.value}",
                user=user,
            )
            return CommunityFailure(
                home_community_id=community.home_community_id,
                error_code="XDSRegistryError",
                detail=f"XCPD answered {answer.response_code.value}",
            )
        await self._record(
            "ITI-55",
            community,
            outcome="success",
            user=user,
            patient_ids=tuple(p.patient_id.to_cx() for p in answer.patients),
            detail=f"{len(answer.patients)} matches, issues "
            f"{','.join(i.value for i in answer.detected_issues) or 'none'}",
        )
        # Only the patient at the community we asked (or its HDL-listed others) is kept.
        return list(answer.patients)

    def _local_check(self, wanted: object, p: CommunityPatient) -> CommunityPatient | None:
        if p.demographics is None or not p.demographics.names:
            return None  # nothing to check against: not trusted
        theirs = prepare(to_demographics(p.demographics))
        total = score(wanted, theirs).total  # type: ignore[arg-type]
        if total < self._s.min_local_match_weight:
            return None
        return CommunityPatient(
            home_community_id=p.home_community_id,
            patient_id=p.patient_id,
            demographics=p.demographics,
            score=p.score,
            local_score=round(total, 2),
        )

    # --- ITI-38 ----------------------------------------------------------------------------------

    async def list_documents(
        self,
        patients: Sequence[CommunityPatient],
        *,
        user: str = "",
        requester: Requester | None = None,
    ) -> DocumentList:
        if requester is not None:
            current_requester.set(requester)
            user = user or requester.subject_id

        async def one(p: CommunityPatient) -> RemoteQueryOutcome:
            community = await self._directory.get(p.home_community_id)
            if community is None:
                return CommunityFailure(
                    home_community_id=p.home_community_id,
                    error_code="XDSUnknownCommunity",
                    detail="community not in the directory",
                )
            async with self._gate:
                try:
                    result = await asyncio.wait_for(
                        self._peers.query_documents(community, p.patient_id),
                        timeout=self._s.query_timeout_s * (self._s.retries + 1),
                    )
                except (TimeoutError, PeerUnavailableError) as exc:
                    detail = exc.detail if isinstance(exc, GatewayError) else "timed out"
                    await self._record(
                        "ITI-38",
                        community,
                        outcome="serious-failure",
                        detail=detail,
                        user=user,
                        patient_ids=(p.patient_id.to_cx(),),
                    )
                    return CommunityFailure(
                        home_community_id=p.home_community_id,
                        error_code="XDSUnavailableCommunity",
                        detail=detail,
                    )
            await self._record(
                "ITI-38",
                community,
                user=user,
                patient_ids=(p.patient_id.to_cx(),),
                outcome="success"
                if result.status.endswith("Success")
                and not result.status.endswith("PartialSuccess")
                else "minor-failure",
                detail=f"{len(result.documents)} entries",
            )
            docs = tuple(
                d
                if d.home_community_id
                else replace(d, home_community_id=community.home_community_id)
                for d in result.documents
            )
            return docs, result.errors, community

        outcomes = await asyncio.gather(*(one(p) for p in patients))
        seen: set[tuple[str, str]] = set()
        documents: list[RemoteDocument] = []
        failures: list[CommunityFailure] = []
        warnings: list[RegistryErrorItem] = []
        for outcome in outcomes:
            if isinstance(outcome, CommunityFailure):
                failures.append(outcome)
                continue
            docs, errors, community = outcome
            for e in errors:
                if e.is_warning or docs:
                    warnings.append(e)
                else:
                    failures.append(
                        CommunityFailure(
                            home_community_id=community.home_community_id,
                            error_code=e.error_code,
                            detail=e.code_context,
                        )
                    )
            for d in docs:
                k = (_urn(d.home_community_id), d.document_unique_id)
                if k not in seen:
                    seen.add(k)
                    documents.append(d)
        documents.sort(
            key=lambda d: (
                d.service_start_time or d.creation_time or dt.datetime.min.replace(tzinfo=dt.UTC)
            ),
            reverse=True,
        )
        return DocumentList(
            documents=tuple(documents), failures=tuple(failures), warnings=tuple(warnings)
        )

    # --- ITI-39 + RAD-75 (services/study_retrieval.py) ----------------------------------------

    async def retrieve_manifest(
        self, community: Community, manifest: RemoteDocument
    ) -> ManifestContent:
        return await self._retrieval.retrieve_manifest(community, manifest)

    async def retrieve_study(
        self, home_community_id: str, manifest: RemoteDocument, **options: Any
    ) -> RetrievalReport:
        """Retrieve the study a KOS manifest describes into the local store (see
        ``StudyRetrieval.retrieve_study`` for the options: progress, cancel, requester,
        reconcile_to, forward_to)."""
        return await self._retrieval.retrieve_study(home_community_id, manifest, **options)

    # --- audit ---------------------------------------------------------------------------------

    async def _record(
        self,
        transaction: str,
        community: Community,
        *,
        outcome: str,
        detail: str,
        user: str = "",
        patient_ids: tuple[str, ...] = (),
        studies: tuple[str, ...] = (),
    ) -> None:
        await self._audit.record(
            AuditRecord(
                event=f"{transaction} initiated",
                outcome=outcome,
                occurred_at=self._clock.now(),
                source=self._home,
                destination=community.home_community_id,
                transaction=transaction,
                patient_ids=patient_ids,
                study_instance_uids=studies,
                detail=detail[:200],
                role="initiator",
                home_community_id=community.home_community_id,
                requester_user_id=user,
                destination_endpoint=community.endpoint(transaction) or "",
            )
        )


RemoteQueryOutcome = (
    CommunityFailure | tuple[tuple[RemoteDocument, ...], tuple[RegistryErrorItem, ...], Community]
)
_MISSING: Final = object()


def _urn(home_community_id: str) -> str:
    return (
        home_community_id
        if home_community_id.startswith("urn:oid:")
        else f"urn:oid:{home_community_id}"
    )
