"""The initiating gateway's decisions, with scripted peers: what is trusted, what is cached,
what a failure looks like, and that nothing is asked twice when the cache knows."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence

import pytest

from imx.errors import PeerUnavailableError
from imx.model.community import Community, CommunityEndpoint
from imx.model.document import Code
from imx.model.identifiers import PatientId
from imx.model.network import (
    KOS_FORMAT_CODE,
    CommunityPatient,
    RemoteDiscovery,
    RemoteDocument,
    RemoteQueryResult,
    RetrievedPart,
)
from imx.model.patient_discovery import PatientDemographics, PersonName, QueryResponseCode
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentRequest, ImagingRetrieveRequest
from imx.peers.static_directory import StaticDirectory
from imx.services.network import NetworkService
from imx.settings import InitiatingSettings
from tests.fakes import FakeClock, RecordingAuditSink

ANA = PatientDemographics(names=(PersonName(given=("Ana",), family="Silva"),), gender="F",
                          birth_date=dt.date(1970, 3, 4))
OTHER = PatientDemographics(names=(PersonName(given=("Bruno",), family="Costa"),), gender="M",
                            birth_date=dt.date(1955, 9, 1))


def community(n: int) -> Community:
    return Community(home_community_id=f"urn:oid:1.2.3.{n}", name=f"C{n}", endpoints=tuple(
        CommunityEndpoint(transaction=t, address=f"https://c{n}.example/{t}")
        for t in ("ITI-55", "ITI-38", "ITI-39", "RAD-75")))


class ScriptedPeers:
    """Answers per community: a demographics to return, an exception, or a delay."""

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers
        self.xcpd_calls: list[str] = []
        self.query_calls: list[str] = []

    async def discover_patient(self, c: Community, demographics: PatientDemographics) -> RemoteDiscovery:
        self.xcpd_calls.append(c.home_community_id)
        a = self.answers[c.home_community_id]
        if isinstance(a, float):
            await asyncio.sleep(a)
            a = ANA
        if isinstance(a, Exception):
            raise a
        if a is None:
            return RemoteDiscovery(response_code=QueryResponseCode.NO_MATCH)
        theirs = PatientDemographics(names=a.names, gender=a.gender, birth_date=a.birth_date,  # type: ignore[attr-defined]
                                     ids=(PatientId(id="X" + c.name, assigning_authority="1.9"),))
        return RemoteDiscovery(response_code=QueryResponseCode.OK, patients=(CommunityPatient(
            home_community_id=c.home_community_id, patient_id=theirs.ids[0],
            demographics=theirs, score=90),))

    async def query_documents(self, c: Community, patient_id: PatientId) -> RemoteQueryResult:
        self.query_calls.append(c.home_community_id)
        a = self.answers[c.home_community_id]
        if isinstance(a, Exception):
            raise a
        doc = RemoteDocument(home_community_id=c.home_community_id, repository_unique_id="1.1",
                             document_unique_id="2.2", entry_uuid="urn:uuid:x",
                             mime_type="application/dicom",
                             format_code=Code(code=KOS_FORMAT_CODE, scheme="1.2.840.10008.2.6.1"),
                             reference_ids=("1.2.840.99^^^^urn:ihe:iti:xds:2016:studyInstanceUID",))
        return RemoteQueryResult(status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success",
                                 documents=(doc, doc))

    async def retrieve_documents(self, c: Community, documents: Sequence[DocumentRequest]
                                 ) -> AsyncIterator[RetrievedPart | RegistryErrorItem]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def retrieve_imaging(self, c: Community, request: ImagingRetrieveRequest
                               ) -> AsyncIterator[RetrievedPart | RegistryErrorItem]:
        raise NotImplementedError
        yield  # pragma: no cover


class DictCache:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[CommunityPatient | None, dt.datetime]] = {}

    async def get_correlations(self, key: str, *, now: dt.datetime) -> dict[str, CommunityPatient | None]:
        return {home: p for (k, home), (p, exp) in self.rows.items() if k == key and exp > now}

    async def put_correlation(self, key: str, home: str, patient: CommunityPatient | None, *,
                              expires_at: dt.datetime) -> None:
        self.rows[(key, home)] = (patient, expires_at)

    async def forget(self, key: str) -> int:
        return 0


def service(peers: ScriptedPeers, communities: list[Community], clock: FakeClock,
            **settings: object) -> tuple[NetworkService, RecordingAuditSink]:
    audit = RecordingAuditSink()
    return NetworkService(
        settings=InitiatingSettings(**settings), home_community_id="urn:oid:1.2.3.0",  # type: ignore[arg-type]
        directory=StaticDirectory([*communities, Community(home_community_id="urn:oid:1.2.3.0",
                                                           name="us", endpoints=communities[0].endpoints)]),
        peers=peers, correlations=DictCache(), metadata=None, ingest=None,  # type: ignore[arg-type]
        audit=audit, clock=clock), audit


def test_found_trusted_failed_and_never_ourselves() -> None:
    cs = [community(i) for i in (1, 2, 3, 4)]
    peers = ScriptedPeers({cs[0].home_community_id: ANA, cs[1].home_community_id: OTHER,
                           cs[2].home_community_id: PeerUnavailableError("ITI-55 to x failed: ConnectError"),
                           cs[3].home_community_id: None})
    net, audit = service(peers, cs, FakeClock())
    result = asyncio.run(net.search_patient(ANA))
    assert [p.home_community_id for p in result.patients] == [cs[0].home_community_id]
    assert result.patients[0].local_score is not None and result.patients[0].local_score > 12
    # C2 answered someone else: not trusted, named
    assert result.rejected_by_local_check == (cs[1].home_community_id,)
    assert [(f.home_community_id, f.error_code) for f in result.failures] == [
        (cs[2].home_community_id, "XDSUnavailableCommunity")]
    assert "urn:oid:1.2.3.0" not in peers.xcpd_calls and result.xcpd_sent == 4
    assert {r.destination for r in audit.records if r.transaction == "ITI-55"} == {
        c.home_community_id for c in cs}
    assert all(r.role == "initiator" for r in audit.records)


def test_cache_answers_repeats_but_not_failures_and_expires() -> None:
    cs = [community(i) for i in (1, 2, 3)]
    peers = ScriptedPeers({cs[0].home_community_id: ANA, cs[1].home_community_id: None,
                           cs[2].home_community_id: PeerUnavailableError("down")})
    clock = FakeClock()
    net, _ = service(peers, cs, clock, correlation_ttl_s=3600, negative_ttl_s=60)
    asyncio.run(net.search_patient(ANA))
    peers.xcpd_calls.clear()
    again = asyncio.run(net.search_patient(ANA))
    assert peers.xcpd_calls == [cs[2].home_community_id]  # only the one that failed
    assert again.patients[0].from_cache
    clock.advance(120)  # the "not found" answer expired, the match did not
    peers.xcpd_calls.clear()
    asyncio.run(net.search_patient(ANA))
    assert sorted(peers.xcpd_calls) == sorted([cs[1].home_community_id, cs[2].home_community_id])
    clock.advance(3600)
    peers.xcpd_calls.clear()
    asyncio.run(net.search_patient(ANA, use_cache=False))
    assert len(peers.xcpd_calls) == 3


def test_slow_community_is_cut_at_its_deadline_without_delaying_the_rest() -> None:
    cs = [community(i) for i in (1, 2)]
    peers = ScriptedPeers({cs[0].home_community_id: ANA, cs[1].home_community_id: 5.0})
    net, _ = service(peers, cs, FakeClock(), xcpd_timeout_s=0.3)

    async def run() -> tuple[object, float]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        out = await net.search_patient(ANA)
        return out, loop.time() - t0

    result, seconds = asyncio.run(run())
    assert seconds < 1.5
    assert [f.detail for f in result.failures] == ["timed out"]  # type: ignore[attr-defined]
    assert len(result.patients) == 1  # type: ignore[attr-defined]


def test_documents_merged_deduplicated_and_a_failed_community_is_partial() -> None:
    cs = [community(i) for i in (1, 2)]
    peers = ScriptedPeers({cs[0].home_community_id: ANA,
                           cs[1].home_community_id: PeerUnavailableError("ITI-38 timed out")})
    net, _ = service(peers, cs, FakeClock())
    patients = [CommunityPatient(home_community_id=c.home_community_id,
                                 patient_id=PatientId(id="P", assigning_authority="1.9")) for c in cs]
    docs = asyncio.run(net.list_documents(patients))
    assert docs.status == "PartialSuccess"
    assert len(docs.documents) == 1 and docs.documents[0].study_instance_uids == ("1.2.840.99",)
    assert [f.home_community_id for f in docs.failures] == [cs[1].home_community_id]


@pytest.mark.parametrize("unknown", ["urn:oid:9.9.9"])
def test_a_community_not_in_the_directory_is_a_failure_not_a_crash(unknown: str) -> None:
    cs = [community(1)]
    net, _ = service(ScriptedPeers({cs[0].home_community_id: ANA}), cs, FakeClock())
    docs = asyncio.run(net.list_documents([CommunityPatient(
        home_community_id=unknown, patient_id=PatientId(id="P", assigning_authority="1.9"))]))
    assert docs.status == "Failure"
    assert docs.failures[0].error_code == "XDSUnknownCommunity"
