"""The SOAP 1.2 edge: one endpoint per service name, dispatch on wsa:Action only.

Responding Gateway (ITI-55, ITI-38, ITI-39, RAD-75) and Imaging Document Source (RAD-69).
Bodies are read as streams (MTOM or plain SOAP), parsed by the hardened parser, validated
against the shipped XSDs; retrieve answers stream every document as an MTOM part straight
from the blob store. Faults follow SOAP 1.2 Part 1 §5.4 and the HTTP binding (Sender → 400,
Receiver → 500); business errors are RegistryErrors / HL7 acks inside a 200 answer.
"""

from __future__ import annotations

import base64
import logging
import uuid
from functools import partial
from typing import Any

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response

from imx.errors import GatewayError, MalformedMessageError, MissingParameterError, UnsupportedError
from imx.http.soap_errors import registry_error_code
from imx.http.soap_trust import SoapTrust
from imx.http.zerocopy import MultipartFileResponse, PartBody
from imx.model.audit import AuditRecord
from imx.model.patient_discovery import InstanceIdentifier, PatientDiscoveryAnswer, QueryResponseCode
from imx.model.registry import RegistryErrorItem
from imx.security.xua import SecurityHeaderError, VerifiedAssertion
from imx.security.xua.errors import RateLimitedError
from imx.services.context import NodeServices
from imx.services.retrieve import RetrievePlan
from imx.transactions import Transaction, find_transaction
from imx.transactions.iti38_xca_query import request as iti38_request
from imx.transactions.iti38_xca_query import response as iti38_response
from imx.transactions.iti39_xca_retrieve import request as iti39_request
from imx.transactions.iti39_xca_retrieve import response as retrieve_response
from imx.transactions.iti55_xcpd import request as iti55_request
from imx.transactions.iti55_xcpd.ack import UNSUPPORTED_MODE, build_accept_ack
from imx.transactions.iti55_xcpd import response as iti55_response
from imx.transactions.rad69_retrieve_imaging import request as rad69_request
from imx.wire.addressing import UNDERSTOOD_HEADERS, build_response_headers, parse_addressing
from imx.wire.faults import (
    build_fault,
    build_must_understand_envelope,
    build_version_mismatch_envelope,
)
from imx.wire.mtom import (
    content_type_header,
    mtom_framing,
    new_boundary,
    parse_http_body,
    soap_content_type,
)
from imx.wire.schemas import validate
from imx.wire.soap import (
    MustUnderstandError,
    VersionMismatchError,
    build_envelope,
    check_must_understand,
    parse_envelope,
)
from imx.wire.xml import serialize

__all__ = ["PATHS", "SoapEndpoint"]

log = logging.getLogger(__name__)

NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
# WS-Security is accepted here; verifying it is the trust layer's job (issue: Trust).
UNDERSTOOD = frozenset({*UNDERSTOOD_HEADERS, f"{{{NS_WSSE}}}Security"})
_SCHEMA = {"ITI-55": "prpa-201305", "ITI-55-deferred": "prpa-201305", "ITI-38": "query", "ITI-39": "xds-b", "RAD-69": "xdsi-b",
           "RAD-75": "xdsi-b"}
PATHS = ("/soap", "/xcpd", "/xca/query", "/xca/retrieve", "/xdsi/retrieve", "/xcai/retrieve")


def _soap_response(body: etree._Element, *, action: str, relates_to: str | None,
                   status: int = 200) -> Response:
    env = build_envelope(body, build_response_headers(action, relates_to,
                                                      f"urn:uuid:{uuid.uuid4()}"))
    return Response(serialize(env), status_code=status, media_type=soap_content_type())


_SUBCODE_NS = {"wsa": "http://www.w3.org/2005/08/addressing", "wsse": NS_WSSE}


def _fault(code: str, reason: str, *, subcode: str | None = None, status: int = 400,
           headers: dict[str, str] | None = None) -> Response:
    prefix = subcode.partition(":")[0] if subcode else ""
    nsmap = {prefix: _SUBCODE_NS[prefix]} if prefix in _SUBCODE_NS else None
    fault = build_fault(code, subcode, reason, nsmap=nsmap)  # type: ignore[arg-type]
    return Response(serialize(build_envelope(fault)), status_code=status,
                    media_type=soap_content_type(), headers=headers)


def _trust_fault(exc: SecurityHeaderError | RateLimitedError) -> Response:
    """WSS 1.1 §12 faults as SOAP 1.2 Sender faults; a rate limit as HTTP 429 (RFC 6585 §4)."""
    if isinstance(exc, RateLimitedError):
        return _fault("Sender", exc.detail, status=429,
                      headers={"Retry-After": str(max(1, round(exc.retry_after_s)))})
    return _fault("Sender", exc.detail, subcode=f"wsse:{exc.fault}")


def _requester_fields(request: Request) -> dict[str, str]:
    """The verified requester (XUA attributes) for audit records; empty when unknown."""
    who: VerifiedAssertion | None = getattr(request.state, "requester", None)
    if who is None:
        return {}
    return {"requester_user_id": who.subject_id, "requester_organization_id": who.organization_id,
            "requester_organization": who.organization,
            "requester_home_community_id": who.home_community_id,
            "purpose_of_use": who.purpose_of_use.value, "requester_role": who.role.code}


_HL7 = "{urn:hl7-org:v3}"
_RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"


def _stored_query_id(body: etree._Element) -> str:
    # ITI TF-2b 3.38.5.1: the query's ParticipantObjectID is the stored query id
    adhoc = body.find(f"{_RIM}AdhocQuery")
    return adhoc.get("id", "") if adhoc is not None else ""


def _atna_fields(request: Request, query: etree._Element | None = None) -> dict[str, str]:
    """Our side, the peer's address and the query (base64) for the ATNA message (imx.audit).

    ITI TF-2b 3.55.5.1 (ParticipantObjectQuery = queryByParameter), 3.38.5.1 (the
    AdhocQueryRequest); the responder is the destination, addressed by its endpoint URL.
    """
    fields = {"role": "responder", "destination_endpoint": str(request.url.replace(query=""))}
    if request.client:
        fields["source_address"] = request.client.host
    if query is not None:
        fields["query_payload_b64"] = base64.b64encode(etree.tostring(query)).decode("ascii")
    return fields


class SoapEndpoint:
    def __init__(self, services: NodeServices) -> None:
        self._s = services
        self._home = services.settings.node.home_community_id
        self._trust = SoapTrust(services.settings, services.clock, paths=PATHS,
                                directory=(services.network.directory
                                           if services.network is not None else None))

    def start(self) -> None:
        """Once serving: start what the endpoint runs beside it (the XUA verifier process)."""
        self._trust.start()

    async def aclose(self) -> None:
        await self._trust.aclose()

    async def handle(self, request: Request) -> Response:
        settings = self._s.settings.http
        try:
            inbound = await parse_http_body(request.headers.get("content-type"), request.stream(),
                                            max_root_bytes=settings.max_xml_bytes,
                                            max_total_bytes=settings.max_body_bytes)
        except GatewayError as exc:
            await self._audit_failure(request, "", exc)
            return _fault("Sender", exc.detail)
        with inbound:
            try:
                message = parse_envelope(inbound.root)
                check_must_understand(message, UNDERSTOOD)
                addressing = parse_addressing(message.headers)
            except VersionMismatchError:
                # SOAP 1.2 Part 1 §5.4.7: with the env:Upgrade header naming SOAP 1.2
                return Response(serialize(build_version_mismatch_envelope()), status_code=500,
                                media_type=soap_content_type())
            except MustUnderstandError as exc:
                # §5.4.8: one env:NotUnderstood header per block we did not understand
                return Response(serialize(build_must_understand_envelope(exc.not_understood)),
                                status_code=500, media_type=soap_content_type())
            except GatewayError as exc:
                await self._audit_failure(request, "", exc)
                return _fault("Sender", exc.detail)
            transaction = find_transaction(addressing.action)
            try:
                # XUA (SPEC-NOTES §5.5): before anything in the body is looked at
                request.state.requester = await self._trust.authenticate(message.headers)
                self._trust.authorize(request.scope, request.state.requester)
            except (SecurityHeaderError, RateLimitedError) as exc:
                await self._audit_failure(request, transaction.id if transaction else "", exc)
                return _trust_fault(exc)
            if transaction is None:
                # WS-Addressing SOAP Binding §6.4.4 ActionNotSupported
                return _fault("Sender", "the wsa:Action is not supported by this endpoint",
                              subcode="wsa:ActionNotSupported")
            try:
                validate(message.body_child, _SCHEMA[transaction.id])
            except MalformedMessageError as exc:
                await self._audit_failure(request, transaction.id, exc)
                return _fault("Sender", exc.detail)
            try:
                return await self._dispatch(request, transaction, message.body_child,
                                            addressing.message_id)
            except MalformedMessageError as exc:
                await self._audit_failure(request, transaction.id, exc)
                return _fault("Sender", exc.detail)
            except Exception as exc:  # noqa: BLE001 - the edge answers every failure
                log.exception("SOAP request failed", extra={"transaction": transaction.id})
                await self._audit_failure(request, transaction.id, exc)
                return _fault("Receiver", "internal error", status=500)

    async def _dispatch(self, request: Request, t: Transaction, body: etree._Element,
                        relates_to: str | None) -> Response:
        if t.id == "ITI-55":
            return await self._iti55(request, t, body, relates_to)
        if t.id == "ITI-55-deferred":
            return await self._iti55_deferred(request, t, body, relates_to)
        if t.id == "ITI-38":
            return await self._iti38(request, t, body, relates_to)
        if t.id == "ITI-39":
            plan = await self._s.retrieve.plan_documents(iti39_request.parse_request(body))
        else:
            plan = await self._s.retrieve.plan_imaging(rad69_request.parse_request(body),
                                                       cross_gateway=t.id == "RAD-75")
        await self._audit(request, t, plan.patient_ids, plan.study_instance_uids,
                          detail=f"{len(plan.items)} documents, {len(plan.errors)} errors",
                          atna={"repository_unique_id":
                                self._s.settings.node.repository_unique_id,
                                "document_unique_ids": tuple(
                                    i.answer.document_unique_id for i in plan.items
                                ) if t.id == "ITI-39" else ()})
        return self._retrieve_response(t, plan, relates_to)

    async def _iti55(self, request: Request, t: Transaction, body: etree._Element,
                     relates_to: str | None) -> Response:
        discovery = iti55_request.parse_request
        try:
            parsed = discovery(body)
        except MissingParameterError as exc:
            # ITI TF-2b 3.55.4.2.2.6: a query that lacks required parameters is answered
            # AE / QE, not faulted. The request must still parse structurally for the echo.
            return await self._iti55_query_error(t, body, exc.detail, relates_to)
        if parsed.response_priority == "D":
            # Deferred priority on the immediate action: the same refusal, in the response.
            return self._iti55_answer(t, parsed, PatientDiscoveryAnswer(
                response_code=QueryResponseCode.APPLICATION_ERROR, error_text=UNSUPPORTED_MODE),
                relates_to)
        answer = await self._s.patient_discovery.discover_patient(
            parsed, audit_fields={**_requester_fields(request), **_atna_fields(
                request, body.find(f"{_HL7}controlActProcess/{_HL7}queryByParameter")),
                "query_id": relates_to or "", "home_community_id": self._home})
        return self._iti55_answer(t, parsed, answer, relates_to)

    async def _iti55_deferred(self, request: Request, t: Transaction, body: etree._Element,
                              relates_to: str | None) -> Response:
        # SPEC-NOTES §2.1 (ITI55-008): without the Deferred Response Option, an application
        # error in the accept acknowledgement; nothing is matched, nothing about a patient said.
        parsed = iti55_request.parse_request(body, require_demographics=False)
        home = self._home.removeprefix("urn:oid:")
        ack = build_accept_ack(request=parsed, responder_home_community_id=home,
                               message_id=InstanceIdentifier(root=home, extension=uuid.uuid4().hex),
                               created_at=self._s.clock.now())
        await self._audit_failure(request, t.id, UnsupportedError(UNSUPPORTED_MODE))
        return _soap_response(ack, action=t.response_action, relates_to=relates_to)

    async def _iti55_query_error(self, t: Transaction, body: etree._Element, detail: str,
                                 relates_to: str | None) -> Response:
        parsed = iti55_request.parse_request(body, require_demographics=False)
        answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.QUERY_ERROR,
                                        error_text=detail)
        return self._iti55_answer(t, parsed, answer, relates_to)

    def _iti55_answer(self, t: Transaction, parsed: object, answer: PatientDiscoveryAnswer,
                      relates_to: str | None) -> Response:
        node = self._s.settings.node
        home = node.home_community_id.removeprefix("urn:oid:")
        out = iti55_response.build_response(
            request=parsed, answer=answer,  # type: ignore[arg-type]
            responder=iti55_response.ResponderIdentity(home_community_id=home,
                                                       organization_name=node.institution_name,
                                                       device_id=home),
            message_id=InstanceIdentifier(root=home, extension=uuid.uuid4().hex),
            created_at=self._s.clock.now())
        return _soap_response(out, action=t.response_action, relates_to=relates_to)

    async def _iti38(self, request: Request, t: Transaction, body: etree._Element,
                     relates_to: str | None) -> Response:
        return_type = "LeafClass"
        try:
            query = iti38_request.parse_request(body)
            return_type = query.return_type
            result = await self._s.document_query.query_documents(query)
            out = iti38_response.build_response(entries=result.entries, return_type=return_type,
                                                home_community_id=self._home,
                                                submission_sets=result.submission_sets,
                                                associations=result.associations)
            await self._audit(request, t, result.patient_ids, (),
                              detail=f"{len(result.entries)} entries",
                              atna={**_atna_fields(request, body),
                                    "query_id": _stored_query_id(body)})
        except GatewayError as exc:
            if isinstance(exc, MalformedMessageError) and not isinstance(exc, MissingParameterError):
                raise
            error = RegistryErrorItem(error_code=registry_error_code(exc), code_context=exc.detail,
                                      location=self._home)
            out = iti38_response.build_response(entries=(), return_type=return_type,
                                                home_community_id=self._home, errors=[error])
            await self._audit(request, t, (), (), detail=f"error {error.error_code}",
                              outcome="minor-failure",
                              atna={**_atna_fields(request, body),
                                    "query_id": _stored_query_id(body)})
        return _soap_response(out, action=t.response_action, relates_to=relates_to)

    def _retrieve_response(self, t: Transaction, plan: RetrievePlan,
                           relates_to: str | None) -> Response:
        body = retrieve_response.build_response(answers=[i.answer for i in plan.items],
                                                errors=plan.errors, home_community_id=self._home)
        if not plan.items:
            # No document: a plain SOAP answer (dicomtrolley reads its RegistryErrorList).
            return _soap_response(body, action=t.response_action, relates_to=relates_to)
        env = build_envelope(body, build_response_headers(t.response_action, relates_to,
                                                          f"urn:uuid:{uuid.uuid4()}"))
        boundary = new_boundary()
        root_cid = f"root.{uuid.uuid4().hex}@imx"
        retrieve = self._s.retrieve
        framing = mtom_framing(serialize(env),
                               [(i.answer.content_id, i.answer.mime_type) for i in plan.items],
                               boundary, root_content_id=root_cid)
        # Stored, untranscoded instances go out by sendfile(2) where the server offers ASGI
        # Zero Copy Send (plain HTTP); the rest (TLS, transcoding) is read and streamed.
        bodies = [PartBody(path=retrieve.local_file(item), stream=partial(retrieve.open_item, item),
                           size=item.size_bytes if item.size_bytes >= 0 else None)
                  for item in plan.items]
        return MultipartFileResponse(framing, bodies,
                                     media_type=content_type_header(boundary, root_cid))

    async def _audit(self, request: Request, t: Transaction, patients: tuple[str, ...],
                     studies: tuple[str, ...], *, detail: str, outcome: str = "success",
                     atna: dict[str, Any] | None = None) -> None:
        await self._s.audit.record(AuditRecord(
            event=t.name, outcome=outcome, occurred_at=self._s.clock.now(),
            source=request.client.host if request.client else "?", destination=self._home,
            transaction=t.id, patient_ids=patients, study_instance_uids=studies, detail=detail,
            **_requester_fields(request),
            **{"home_community_id": self._home, **_atna_fields(request), **(atna or {})}))

    async def _audit_failure(self, request: Request, transaction: str, exc: BaseException) -> None:
        await self._s.audit.record(AuditRecord(
            event="soap-request-refused", outcome="serious-failure", occurred_at=self._s.clock.now(),
            source=request.client.host if request.client else "?", transaction=transaction,
            detail=type(exc).__name__
            + (f" wsse:{exc.fault}" if isinstance(exc, SecurityHeaderError) else ""),
            **_requester_fields(request), **_atna_fields(request)))
