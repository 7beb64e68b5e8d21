"""Outbound SOAP 1.2 client for ITI-55, ITI-38, ITI-39 and RAD-75/69 (the Initiating Gateway).

httpx (async) with an optional mutual-TLS ``ssl.SSLContext``; per-transaction timeouts with
network-realistic defaults (XCPD 60 s, query and retrieve 120 s, SPEC-NOTES §8); retries with
exponential back-off and jitter for query and retrieve only (XCPD is not idempotent for a
Query-and-Feed responder, and Carequality guidance is not to re-send discovery); bounded
concurrency per client. Answers are read with the streaming MTOM reader, so a retrieved
study goes from the socket to the caller in 64 KiB pieces.

Requests are plain SOAP 1.2 (``application/soap+xml``): responders must accept that (SPEC-NOTES
§1.4) and no request here carries a document. Nothing from a request or answer is logged but
the community, the transaction and the outcome.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import httpx
from lxml import etree

from imx.errors import GatewayError, MalformedMessageError, PeerUnavailableError
from imx.model.community import Community
from imx.model.document_query import DocumentQuery, FindDocumentsQuery
from imx.model.identifiers import PatientId
from imx.model.network import (
    CommunityPatient,
    RemoteDiscovery,
    RemoteQueryResult,
    RetrievedPart,
)
from imx.model.patient_discovery import InstanceIdentifier, PatientDemographics
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentRequest, ImagingRetrieveRequest
from imx.transactions.iti38_xca_query import TRANSACTION as ITI38
from imx.transactions.iti38_xca_query import request as iti38_request
from imx.transactions.iti38_xca_query import response as iti38_response
from imx.transactions.iti38_xca_query.codes import StoredQuery
from imx.transactions.iti39_xca_retrieve import TRANSACTION as ITI39
from imx.transactions.iti39_xca_retrieve import request as iti39_request
from imx.transactions.iti39_xca_retrieve import response as retrieve_response
from imx.transactions.iti55_xcpd import TRANSACTION as ITI55
from imx.transactions.iti55_xcpd import request as iti55_request
from imx.transactions.iti55_xcpd import response as iti55_response
from imx.transactions.rad69_retrieve_imaging import TRANSACTION as RAD69
from imx.transactions.rad69_retrieve_imaging import request as rad69_request
from imx.transactions.rad75_xcai_retrieve import TRANSACTION as RAD75
from imx.transactions.transaction import Transaction
from imx.wire.addressing import build_request_headers
from imx.wire.faults import parse_fault
from imx.wire.mtom_stream import StreamedPart, mtom_parts
from imx.wire.soap import build_envelope, parse_envelope, soap
from imx.wire.xml import serialize

__all__ = ["SecurityHeaderFactory", "SoapClientSettings", "SoapPeerGateway"]

log = logging.getLogger(__name__)

APPROVED: Final = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
# Builds the wsse:Security header (XUA assertion) for one outbound request, or None.
SecurityHeaderFactory = Callable[[Community, Transaction], "etree._Element | None"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SoapClientSettings:
    home_community_id: str  # ours, "urn:oid:..."
    organization_name: str = ""
    xcpd_timeout_s: float = 60.0
    query_timeout_s: float = 120.0
    retrieve_timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    retries: int = 2  # query and retrieve only
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_connections: int = 64
    max_root_bytes: int = 64 << 20  # a query answer with many entries is large XML


class SoapPeerGateway:
    """``PeerGateway`` over SOAP 1.2 / WS-Addressing / MTOM (implements ``imx.ports.PeerGateway``)."""

    def __init__(
        self,
        settings: SoapClientSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        security_header: SecurityHeaderFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._s = settings
        self._security = security_header
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        )
        self._client = httpx.AsyncClient(
            verify=ssl_context if ssl_context is not None else True,
            limits=limits,
            transport=transport,
            timeout=httpx.Timeout(settings.query_timeout_s, connect=settings.connect_timeout_s),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- ITI-55 -------------------------------------------------------------------------------

    async def discover_patient(
        self, community: Community, demographics: PatientDemographics
    ) -> RemoteDiscovery:
        url = _endpoint(community, "ITI-55")
        home = self._s.home_community_id.removeprefix("urn:oid:")
        body = iti55_request.build_request(
            message_id=InstanceIdentifier(root=home, extension=uuid.uuid4().hex),
            created_at=_now(),
            sender_device_id=home,
            sender_home_community_id=home,
            receiver_device_id=community.home_community_id,
            receiver_endpoint=url,
            query_id=InstanceIdentifier(root=home, extension=uuid.uuid4().hex),
            demographics=demographics,
            organization_name=self._s.organization_name,
        )
        async with self._exchange(
            community, ITI55, url, body, self._s.xcpd_timeout_s, retries=0
        ) as (root, _parts):
            parsed = iti55_response.parse_response(root)
        patients = []
        for match, custodian in zip(parsed.answer.matches, parsed.custodians, strict=True):
            home_id = f"urn:oid:{custodian}" if custodian else community.home_community_id
            patients.append(
                CommunityPatient(
                    home_community_id=home_id,
                    patient_id=match.demographics.ids[0],
                    demographics=match.demographics,
                    score=match.score,
                )
            )
        return RemoteDiscovery(
            response_code=parsed.answer.response_code,
            patients=tuple(patients),
            detected_issues=parsed.answer.detected_issues,
            error_text=parsed.answer.error_text,
        )

    # --- ITI-38 -------------------------------------------------------------------------------

    async def query_documents(
        self, community: Community, patient_id: PatientId
    ) -> RemoteQueryResult:
        url = _endpoint(community, "ITI-38")
        # ITI TF-2b 3.38.4.1.2.1: homeCommunityId on the AdhocQuery names the target community.
        query = DocumentQuery(
            stored_query_id=StoredQuery.FIND_DOCUMENTS.value,
            return_type="LeafClass",
            home_community_id=community.home_community_id,
            find=FindDocumentsQuery(patient_id=patient_id, statuses=(APPROVED,)),
        )
        body = iti38_request.build_request(query)
        async with self._exchange(
            community, ITI38, url, body, self._s.query_timeout_s, retries=self._s.retries
        ) as (root, _parts):
            return iti38_response.parse_response(root)

    # --- ITI-39 / RAD-75 ------------------------------------------------------------------------

    async def retrieve_documents(
        self, community: Community, documents: Sequence[DocumentRequest]
    ) -> AsyncIterator[RetrievedPart | RegistryErrorItem]:
        url = _endpoint(community, "ITI-39")
        body = iti39_request.build_request(documents)
        async for item in self._retrieve(community, ITI39, url, body):
            yield item

    async def retrieve_imaging(
        self, community: Community, request: ImagingRetrieveRequest
    ) -> AsyncIterator[RetrievedPart | RegistryErrorItem]:
        url = community.endpoint("RAD-75")
        transaction = RAD75
        if url is None:
            url = _endpoint(community, "RAD-69")
            transaction = RAD69
        body = rad69_request.build_request(request)
        async for item in self._retrieve(community, transaction, url, body):
            yield item

    async def _retrieve(
        self, community: Community, t: Transaction, url: str, body: etree._Element
    ) -> AsyncIterator[RetrievedPart | RegistryErrorItem]:
        async with self._exchange(
            community, t, url, body, self._s.retrieve_timeout_s, retries=self._s.retries
        ) as (root, parts):
            result = retrieve_response.parse_response(root)
            by_cid = {d.content_id: d for d in result.documents if d.content_id}
            for d in result.documents:
                if d.inline is not None:
                    yield RetrievedPart(
                        home_community_id=d.home_community_id,
                        repository_unique_id=d.repository_unique_id,
                        document_unique_id=d.document_unique_id,
                        mime_type=d.mime_type,
                        chunks=_one(d.inline),
                    )
            seen = 0
            async for part in parts:
                ref = by_cid.get(part.content_id)
                if ref is None:
                    continue  # a part no DocumentResponse points at: skipped (XOP 1.0 §3)
                seen += 1
                yield RetrievedPart(
                    home_community_id=ref.home_community_id,
                    repository_unique_id=ref.repository_unique_id,
                    document_unique_id=ref.document_unique_id,
                    mime_type=ref.mime_type,
                    chunks=part.chunks,
                )
            if seen < len(by_cid):
                raise PeerUnavailableError(
                    f"{t.id} answer from {community.home_community_id} lacks "
                    f"{len(by_cid) - seen} of its MTOM parts"
                )
            for error in result.errors:
                yield error

    # --- the exchange -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _exchange(
        self,
        community: Community,
        t: Transaction,
        url: str,
        body: etree._Element,
        timeout_s: float,
        *,
        retries: int,
    ) -> AsyncIterator[tuple[etree._Element, AsyncIterator[StreamedPart]]]:
        """POST one request; yield the answer's Body child and its attachment parts.

        Retries happen only before any answer byte reached the caller.
        """
        attempt = 0
        while True:
            try:
                async with self._open(community, t, url, body, timeout_s) as answer:
                    yield answer
                return
            except _RetryableError as exc:
                if attempt >= retries:
                    raise PeerUnavailableError(
                        f"{t.id} to {community.home_community_id} failed: {exc.reason}"
                    ) from None
                delay = min(self._s.max_backoff_s, self._s.backoff_s * 2**attempt)
                attempt += 1
                log.info(
                    "retrying outbound request",
                    extra={
                        "transaction": t.id,
                        "community": community.home_community_id,
                        "attempt": attempt,
                        "reason": exc.reason,
                    },
                )
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter

    @asynccontextmanager
    async def _open(
        self, community: Community, t: Transaction, url: str, body: etree._Element, timeout_s: float
    ) -> AsyncIterator[tuple[etree._Element, AsyncIterator[StreamedPart]]]:
        headers = build_request_headers(t.request_action, url, f"urn:uuid:{uuid.uuid4()}")
        if self._security is not None and (security := self._security(community, t)) is not None:
            headers.insert(0, security)
        envelope = build_envelope(body, headers)
        content_type = f'application/soap+xml; charset=UTF-8; action="{t.request_action}"'
        timeout = httpx.Timeout(timeout_s, connect=self._s.connect_timeout_s)
        try:
            request = self._client.build_request(
                "POST",
                url,
                content=serialize(envelope),
                headers={"Content-Type": content_type},
                timeout=timeout,
            )
            response = await self._client.send(request, stream=True)
        except (httpx.TimeoutException, httpx.NetworkError) as exc:
            raise _RetryableError(type(exc).__name__) from None
        except httpx.HTTPError as exc:
            raise PeerUnavailableError(
                f"{t.id} to {community.home_community_id} failed: {type(exc).__name__}"
            ) from None
        try:
            if response.status_code in (502, 503, 504):
                raise _RetryableError(f"HTTP {response.status_code}")
            stream = mtom_parts(
                response.headers.get("content-type"),
                _body(response),
                max_root_bytes=self._s.max_root_bytes,
            )
            try:
                first = await anext(stream)
            except (StopAsyncIteration, GatewayError) as exc:
                raise PeerUnavailableError(
                    f"{t.id} answer from {community.home_community_id} unreadable "
                    f"(HTTP {response.status_code}, {type(exc).__name__})"
                ) from None
            assert not isinstance(first, StreamedPart)
            message = parse_envelope(first)
            body_child = message.body_child
            if body_child.tag == soap("Fault"):
                fault = parse_fault(body_child)
                raise PeerUnavailableError(
                    f"{t.id} to {community.home_community_id}: SOAP fault {fault.code} "
                    f"{' '.join(s.rpartition('}')[2] for s in fault.subcodes)}".strip()
                )
            if response.status_code >= 400:
                raise PeerUnavailableError(
                    f"{t.id} to {community.home_community_id}: HTTP {response.status_code}"
                )
            yield body_child, _parts_only(stream)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise PeerUnavailableError(
                f"{t.id} answer from {community.home_community_id} broken off: {type(exc).__name__}"
            ) from None
        except MalformedMessageError as exc:
            raise PeerUnavailableError(
                f"{t.id} answer from {community.home_community_id} malformed: {exc.detail}"
            ) from None
        finally:
            await response.aclose()


class _RetryableError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _endpoint(community: Community, transaction: str) -> str:
    url = community.endpoint(transaction)
    if url is None:
        raise PeerUnavailableError(
            f"{community.home_community_id} publishes no {transaction} endpoint"
        )
    return url


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in response.aiter_bytes(64 * 1024):
        yield chunk


async def _parts_only(
    stream: AsyncIterator[etree._Element | StreamedPart],
) -> AsyncIterator[StreamedPart]:
    async for item in stream:
        if isinstance(item, StreamedPart):
            yield item


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
