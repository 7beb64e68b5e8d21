"""The simplified JSON API for local applications (issue: Initiating Gateway), under ``/api/v1``.

Organisations, patient search across the network, a patient's studies and reports, retrieval
jobs with progress. Authenticated with API keys (``Authorization: Bearer <key>`` or
``X-API-Key``), compared by SHA-256 in constant time. The OpenAPI 3.1 document is generated
from the pydantic models below and served at ``/api/v1/openapi.json``.

This is a convenience surface over the IHE transactions the node runs for the caller; it is
not a replacement for them on the network (those stay SOAP, see docs/conformance).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imx.errors import GatewayError
from imx.http.api_models import (
    PREFIX,
    AuditOut,
    DocumentOut,
    Failure,
    JobOut,
    OrganizationOut,
    PatientOut,
    PatientSearchIn,
    PatientSearchOut,
    RequesterIn,
    RetrievalIn,
    StudiesIn,
    StudiesOut,
    openapi_document,
)
from imx.model.community import Community
from imx.model.identifiers import PatientId
from imx.model.network import CommunityPatient, RemoteDocument, Requester
from imx.model.patient_discovery import Address, PatientDemographics, PersonName
from imx.services.context import NodeServices
from imx.services.network import NetworkService
from imx.services.retrieval_jobs import RetrievalJob
from imx.settings import ApiKeySettings

__all__ = ["api_routes", "openapi_document"]


# --- the routes -----------------------------------------------------------------------------


class _Api:
    def __init__(self, services: NodeServices) -> None:
        if services.network is None:
            raise ValueError("the JSON API needs the initiating gateway (services.network)")
        self.s = services
        self.network: NetworkService = services.network
        self.jobs = services.jobs()
        self.keys = {k.sha256.lower(): k for k in services.settings.api.keys}

    def _caller(self, request: Request) -> ApiKeySettings:
        raw = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if not raw and auth[:7].lower() == "bearer ":
            raw = auth[7:].strip()
        digest = hashlib.sha256(raw.encode()).hexdigest() if raw else ""
        for known, key in self.keys.items():
            if digest and hmac.compare_digest(known, digest):
                return key
        raise _UnauthorizedError

    def _requester(self, body: RequesterIn | None, key: ApiKeySettings) -> Requester:
        if body is not None:
            return Requester(
                subject_id=body.name,
                role_code=body.role_code,
                purpose_of_use=body.purpose_of_use,
                npi=body.npi,
            )
        return Requester(subject_id=key.requester_name or key.name, role_code=key.role_code)

    async def _names(self) -> dict[str, str]:
        # one directory read for every organisation name an answer may need
        return {c.home_community_id: c.name for c in await self.network.organizations()}

    async def organizations(self, request: Request) -> Response:
        self._caller(request)
        name = (request.query_params.get("name") or "").casefold()
        state = request.query_params.get("state") or None
        transaction = request.query_params.get("transaction") or None
        found = await self.network.organizations(transaction=transaction, state=state)
        out = [_organization(c) for c in found if name in c.name.casefold()]
        return _json([o.model_dump(mode="json") for o in out])

    async def search_patients(self, request: Request) -> Response:
        key = self._caller(request)
        body = PatientSearchIn.model_validate(await _body(request))
        demographics = PatientDemographics(
            names=(PersonName(given=(body.given,), family=body.family),),
            gender=body.gender,
            birth_date=body.birth_date,
            addresses=(
                Address(
                    street_lines=(body.street,) if body.street else (),
                    city=body.city,
                    state=body.state,
                    postal_code=body.postal_code,
                ),
            )
            if (body.street or body.city or body.postal_code)
            else (),
            telecoms=(f"tel:{body.phone}",) if body.phone else (),
        )
        result = await self.network.search_patient(
            demographics,
            communities=body.communities,
            state=body.near_state,
            use_cache=body.use_cache,
            requester=self._requester(body.requester, key),
        )
        names = await self._names()
        out = PatientSearchOut(
            patients=[_patient(p, names) for p in result.patients],
            failures=[
                Failure(
                    home_community_id=f.home_community_id, error_code=f.error_code, detail=f.detail
                )
                for f in result.failures
            ],
            searched=list(result.searched),
            xcpd_sent=result.xcpd_sent,
        )
        return _json(out.model_dump(mode="json"))

    async def studies(self, request: Request) -> Response:
        key = self._caller(request)
        body = StudiesIn.model_validate(await _body(request))
        patients = [
            CommunityPatient(
                home_community_id=_urn(p.home_community_id),
                patient_id=PatientId(id=p.patient_id, assigning_authority=p.assigning_authority),
            )
            for p in body.patients
        ]
        result = await self.network.list_documents(
            patients, requester=self._requester(body.requester, key)
        )
        names = await self._names()
        out = StudiesOut(
            status=result.status,  # type: ignore[arg-type]
            documents=[_document(d, names) for d in result.documents],
            failures=[
                Failure(
                    home_community_id=f.home_community_id, error_code=f.error_code, detail=f.detail
                )
                for f in result.failures
            ],
        )
        return _json(out.model_dump(mode="json"))

    async def start_retrieval(self, request: Request) -> Response:
        key = self._caller(request)
        body = RetrievalIn.model_validate(await _body(request))
        manifest = RemoteDocument(
            home_community_id=_urn(body.home_community_id),
            repository_unique_id=body.repository_unique_id,
            document_unique_id=body.document_unique_id,
            entry_uuid="",
            mime_type="application/dicom",
        )
        reconcile = None
        if body.reconcile_to is not None:
            reconcile = PatientId(
                id=body.reconcile_to.patient_id,
                assigning_authority=body.reconcile_to.assigning_authority,
            )
        job = self.jobs.start(
            manifest,
            requester=self._requester(body.requester, key),
            reconcile_to=reconcile,
            forward_to=body.forward_to,
        )
        return _json(
            _job(job).model_dump(mode="json"),
            status=202,
            headers={"Location": f"{PREFIX}/retrievals/{job.id}"},
        )

    async def list_retrievals(self, request: Request) -> Response:
        self._caller(request)
        return _json([_job(j).model_dump(mode="json") for j in self.jobs.list()[:200]])

    async def retrieval(self, request: Request) -> Response:
        self._caller(request)
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return _problem(404, "Not Found", "no such retrieval job")
        if request.method == "DELETE":
            self.jobs.cancel(job.id)
        return _json(_job(job).model_dump(mode="json"))

    async def audit(self, request: Request) -> Response:
        """The node's audit trail (who saw which patient, when, why); ``format=fhir`` gives a
        FHIR R4 Bundle of AuditEvent (DICOM codes, as shipped to the audit repository)."""
        self._caller(request)
        lister = getattr(self.s.audit, "list_entries", None)
        if lister is None:
            return _problem(501, "Not Implemented", "this node's audit sink cannot be listed")
        q = request.query_params
        try:
            since = dt.datetime.fromisoformat(q["since"]) if q.get("since") else None
            limit = min(int(q.get("limit", "100")), 1000)
        except ValueError:
            return _problem(400, "Bad Request", "since must be ISO 8601, limit an integer")
        entries = await lister(
            limit=limit,
            patient_id=q.get("patient") or None,
            since=since,
            event=q.get("event") or None,
        )
        if q.get("format") == "fhir":
            from imx.audit.fhir import to_fhir_audit_event
            from imx.audit.setup import audit_source

            source = audit_source(self.s.settings)
            return JSONResponse(
                {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "total": len(entries),
                    "entry": [
                        {"resource": to_fhir_audit_event(r, source=source, resource_id=str(pk))}
                        for pk, r in entries
                    ],
                },
                media_type="application/fhir+json",
            )
        return _json(
            [
                AuditOut(
                    id=pk,
                    occurred_at=r.occurred_at,
                    event=r.event,
                    outcome=r.outcome,
                    transaction=r.transaction,
                    role=r.role,
                    source=r.source,
                    destination=r.destination,
                    requester_user_id=r.requester_user_id,
                    requester_organization=r.requester_organization,
                    purpose_of_use=r.purpose_of_use,
                    patient_ids=list(r.patient_ids),
                    study_instance_uids=list(r.study_instance_uids),
                    detail=r.detail,
                ).model_dump(mode="json")
                for pk, r in entries
            ]
        )

    async def openapi(self, request: Request) -> Response:
        return _json(openapi_document())


class _UnauthorizedError(Exception):
    pass


def api_routes(services: NodeServices) -> list[Route]:
    api = _Api(services)

    def guarded(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except _UnauthorizedError:
                return _problem(
                    401,
                    "Unauthorized",
                    "a valid API key is required",
                    headers={"WWW-Authenticate": 'Bearer realm="imx"'},
                )
            except ValidationError as exc:
                fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
                return _problem(422, "Unprocessable Content", f"invalid fields: {fields}")
            except _BadJsonError:
                return _problem(400, "Bad Request", "the body is not a JSON object")
            except GatewayError as exc:
                return _problem(
                    404
                    if type(exc).__name__ in ("NotFoundError", "UnknownCommunityError")
                    else 502,
                    type(exc).__name__,
                    exc.detail,
                )

        return run

    if not services.settings.api.enabled:
        return []
    return [
        Route(f"{PREFIX}/openapi.json", api.openapi, methods=["GET"]),
        Route(f"{PREFIX}/organizations", guarded(api.organizations), methods=["GET"]),
        Route(f"{PREFIX}/patients/search", guarded(api.search_patients), methods=["POST"]),
        Route(f"{PREFIX}/studies/search", guarded(api.studies), methods=["POST"]),
        Route(f"{PREFIX}/retrievals", guarded(api.start_retrieval), methods=["POST"]),
        Route(f"{PREFIX}/retrievals", guarded(api.list_retrievals), methods=["GET"]),
        Route(f"{PREFIX}/retrievals/{{job_id}}", guarded(api.retrieval), methods=["GET", "DELETE"]),
        Route(f"{PREFIX}/audit", guarded(api.audit), methods=["GET"]),
    ]


class _BadJsonError(Exception):
    pass


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 1 << 20:
        raise _BadJsonError
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise _BadJsonError from None
    if not isinstance(data, dict):
        raise _BadJsonError
    return data


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers=headers)


def _problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _urn(home: str) -> str:
    return home if home.startswith("urn:oid:") else f"urn:oid:{home}"


def _organization(c: Community) -> OrganizationOut:
    return OrganizationOut(
        home_community_id=c.home_community_id,
        name=c.name,
        city=c.city,
        state=c.state,
        postal_code=c.postal_code,
        capabilities=sorted({e.transaction for e in c.endpoints}),
    )


def _patient(p: CommunityPatient, names: dict[str, str]) -> PatientOut:
    d = p.demographics
    name = d.names[0] if d and d.names else PersonName()
    return PatientOut(
        home_community_id=p.home_community_id,
        organization=names.get(p.home_community_id, ""),
        patient_id=p.patient_id.id,
        assigning_authority=p.patient_id.assigning_authority,
        given=list(name.given),
        family=name.family,
        birth_date=d.birth_date if d else None,
        gender=d.gender if d else "",
        responder_score=p.score,
        local_score=p.local_score,
        from_cache=p.from_cache,
    )


def _document(d: RemoteDocument, names: dict[str, str]) -> DocumentOut:
    kind: Literal["manifest", "report", "other"] = (
        "manifest"
        if d.is_manifest
        else (
            "report"
            if (d.class_code is not None and d.class_code.code.upper() in ("REPORTS", "REPORT"))
            or d.mime_type in ("application/pdf", "text/xml", "text/plain")
            else "other"
        )
    )
    return DocumentOut(
        home_community_id=d.home_community_id,
        organization=names.get(_urn(d.home_community_id), ""),
        repository_unique_id=d.repository_unique_id,
        document_unique_id=d.document_unique_id,
        kind=kind,
        title=d.title,
        mime_type=d.mime_type,
        study_instance_uids=list(d.study_instance_uids),
        service_start_time=d.service_start_time,
        creation_time=d.creation_time,
    )


def _job(j: RetrievalJob) -> JobOut:
    p = j.progress
    return JobOut(
        id=j.id,
        status=j.status,
        home_community_id=j.home_community_id,
        document_unique_id=j.document_unique_id,
        created_at=j.created_at,
        finished_at=j.finished_at,
        study_instance_uid=p.study_instance_uid,
        total_instances=p.total_instances,
        already_present=p.already_present,
        received_instances=p.received_instances,
        received_bytes=p.received_bytes,
        failed_instances=p.failed_instances,
        missing_instances=len(j.report.missing_sop_instance_uids) if j.report else None,
        error=j.error,
    )
