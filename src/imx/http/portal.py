"""The clinician portal at ``/portal`` (docs/portal.md): a thin edge over the node's services.

Login against ``settings.portal.users`` (SHA-256 of the password, constant-time compare); an
HMAC-signed, HttpOnly, SameSite=Strict session cookie. Every network call is made with
``Requester(subject_id=<user>)`` so the user lands in the audit trail and in the outbound XUA
assertion. The browser side (static/portal/) is vanilla JS: pages talk to ``/portal/api/*``,
and the study viewer reads pixels from the node's own DICOMweb (QIDO-RS + WADO-RS frames).
Cross-community studies are viewed retrieve-then-view: "Retrieve" pulls the study into this
node's store (XCA-I), then the viewer opens it from the local DICOMweb.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from imx import __version__
from imx.errors import GatewayError
from imx.model.audit import AuditRecord
from imx.model.identifiers import PatientId
from imx.model.network import CommunityPatient, RemoteDocument, Requester
from imx.model.patient_discovery import PatientDemographics, PersonName
from imx.services.context import NodeServices
from imx.services.network import NetworkService
from imx.services.retrieval_jobs import RetrievalJob
from imx.settings import PortalUser

__all__ = ["portal_routes"]

PREFIX = "/portal"
COOKIE = "imx_portal"
_HERE = Path(__file__).parent
_TEMPLATES = _HERE / "templates" / "portal"
_STATIC = _HERE / "static" / "portal"
_PURPOSES = ("TREATMENT", "EMERGENCY", "OPERATIONS", "PUBLICHEALTH", "REQUEST")
_HEADERS = {
    # The viewer draws pixels into blob: images; nothing is loaded from elsewhere.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _DeniedError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class _Portal:
    def __init__(self, services: NodeServices, network: NetworkService) -> None:
        self.s = services
        self.cfg = services.settings.portal
        self.network = network
        self.jobs = services.jobs()  # shared with the JSON API
        secret = self.cfg.session_secret
        self._key = (
            secret.get_secret_value().encode() if secret is not None else secrets.token_bytes(32)
        )
        self._started = time.monotonic()

    # --- sessions --------------------------------------------------------------------------

    def _check_client(self, request: Request) -> None:
        if not self.cfg.loopback_only:
            return
        host = request.client.host if request.client else ""
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host in ("testclient", "localhost")
        if not ok:
            raise _DeniedError(
                403, "the portal accepts browsers on this host only (portal.loopback_only)"
            )

    def _cookie_for(self, user: PortalUser) -> str:
        expires = int(self.s.clock.now().timestamp()) + self.cfg.session_ttl_s
        body = base64.urlsafe_b64encode(json.dumps({"u": user.name, "e": expires}).encode())
        return body.decode() + "." + hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def user(self, request: Request) -> PortalUser | None:
        raw = request.cookies.get(COOKIE, "")
        body, _, sig = raw.partition(".")
        good = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        if not body or not hmac.compare_digest(good, sig):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
        except ValueError:
            return None
        if int(data.get("e", 0)) < self.s.clock.now().timestamp():
            return None
        return next((u for u in self.cfg.users if u.name == data.get("u")), None)

    def require(self, request: Request, *, admin: bool = False) -> PortalUser:
        self._check_client(request)
        user = self.user(request)
        if user is None:
            raise _DeniedError(401, "please sign in")
        if admin and user.role != "admin":
            raise _DeniedError(403, "administrators only")
        if request.method == "POST" and request.headers.get("x-imx-portal") != "1":
            # A cross-site form cannot set this header (CSRF), on top of SameSite=Strict.
            raise _DeniedError(403, "missing X-Imx-Portal header")
        return user

    def _authenticate(self, name: str, password: str) -> PortalUser | None:
        digest = hashlib.sha256(password.encode()).hexdigest()
        found = None
        for u in self.cfg.users:  # compare every entry: the time does not tell which name exists
            if hmac.compare_digest(u.name.encode(), name.encode()) & hmac.compare_digest(
                u.password_sha256.lower().encode(), digest.encode()
            ):
                found = u
        return found

    # --- pages -----------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        self._check_client(request)
        html = (_TEMPLATES / "login.html").read_text(encoding="utf-8")
        error = {
            "bad": "Unknown user name or wrong password.",
            "none": "No portal users are configured on this node (portal.users).",
        }.get(request.query_params.get("error", ""), "")
        html = html.replace("{{error}}", error).replace("{{node}}", _esc(self.s.settings.node.name))
        return Response(html, media_type="text/html", headers=_HEADERS)

    async def login(self, request: Request) -> Response:
        self._check_client(request)
        form = await request.form()
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        user = self._authenticate(name, password) if self.cfg.users else None
        await self._audit(
            user.name if user else "",
            "portal login",
            outcome="success" if user else "minor-failure",
        )
        if user is None:
            return RedirectResponse(
                f"{PREFIX}/login?error={'bad' if self.cfg.users else 'none'}", status_code=303
            )
        out = RedirectResponse(f"{PREFIX}/", status_code=303)
        out.set_cookie(
            COOKIE,
            self._cookie_for(user),
            max_age=self.cfg.session_ttl_s,
            httponly=True,
            samesite="strict",
            path=PREFIX,
            secure=self.s.settings.tls.enabled,
        )
        return out

    async def logout(self, request: Request) -> Response:
        out = RedirectResponse(f"{PREFIX}/login", status_code=303)
        out.delete_cookie(COOKIE, path=PREFIX)
        return out

    async def app_page(self, request: Request) -> Response:
        self._check_client(request)
        if self.user(request) is None:
            return RedirectResponse(f"{PREFIX}/login", status_code=303)
        return FileResponse(_TEMPLATES / "app.html", media_type="text/html", headers=_HEADERS)

    # --- JSON for the pages ---------------------------------------------------------------

    async def me(self, request: Request) -> dict[str, Any]:
        user = self.require(request)
        return {
            "name": user.name,
            "role": user.role,
            "node": self.s.settings.node.name,
            "dicomweb": self.s.settings.dicomweb.prefix,
            "destinations": [d.ae_title for d in self.s.settings.dimse.destinations],
            "purposes": list(_PURPOSES),
        }

    def _requester(self, user: PortalUser, purpose: str) -> Requester:
        return Requester(
            subject_id=user.name,
            role_code=user.role_code,
            purpose_of_use=purpose if purpose in _PURPOSES else "TREATMENT",
        )

    async def search(self, request: Request) -> dict[str, Any]:
        user = self.require(request)
        body = await _body(request)
        given, family = _text(body, "given"), _text(body, "family")
        birth = _date(body.get("birth_date"))
        if not given or not family or birth is None:
            raise _DeniedError(422, "given name, family name and birth date are required")
        gender = _text(body, "gender") if _text(body, "gender") in ("M", "F") else ""
        requester = self._requester(user, _text(body, "purpose"))
        demographics = PatientDemographics(
            names=(PersonName(given=(given,), family=family),), gender=gender, birth_date=birth
        )
        result = await self.network.search_patient(demographics, requester=requester)
        names = await self._names()
        await self._audit(
            user.name,
            "portal patient search",
            purpose=requester.purpose_of_use,
            patient_ids=tuple(p.patient_id.to_cx() for p in result.patients),
        )
        return {
            "patients": [_patient(p, names) for p in result.patients],
            "failures": [
                {
                    "organization": names.get(f.home_community_id, f.home_community_id),
                    "error": f.error_code,
                }
                for f in result.failures
            ],
            "searched": len(result.searched),
        }

    async def timeline(self, request: Request) -> dict[str, Any]:
        user = self.require(request)
        body = await _body(request)
        patients = [
            CommunityPatient(
                home_community_id=_text(p, "home_community_id"),
                patient_id=PatientId(
                    id=_text(p, "patient_id"), assigning_authority=_text(p, "assigning_authority")
                ),
            )
            for p in body.get("patients", [])[:50]
            if isinstance(p, dict)
        ]
        if not patients:
            raise _DeniedError(422, "no patients chosen")
        requester = self._requester(user, _text(body, "purpose"))
        result = await self.network.list_documents(patients, requester=requester)
        await self._audit(
            user.name,
            "portal patient record opened",
            purpose=requester.purpose_of_use,
            patient_ids=tuple(p.patient_id.to_cx() for p in patients),
        )
        names = await self._names()
        entries = [await self._entry(d, names) for d in result.documents]
        return {
            "status": result.status,
            "entries": entries,
            "failures": [
                {
                    "organization": names.get(f.home_community_id, f.home_community_id),
                    "error": f.error_code,
                }
                for f in result.failures
            ],
        }

    async def _entry(self, d: RemoteDocument, names: dict[str, str]) -> dict[str, Any]:
        when = d.service_start_time or d.creation_time
        studies = list(d.study_instance_uids)
        local = [s for s in studies if await self.s.metadata.get_study(s) is not None]
        return {
            "home_community_id": d.home_community_id,
            "organization": names.get(_urn(d.home_community_id), d.home_community_id),
            "repository_unique_id": d.repository_unique_id,
            "document_unique_id": d.document_unique_id,
            "kind": "study" if d.is_manifest else "report",
            "title": d.title,
            "mime_type": d.mime_type,
            "date": when.isoformat() if when else None,
            "study_instance_uids": studies,
            "local": bool(studies) and local == studies,
        }

    async def start_retrieval(self, request: Request) -> dict[str, Any]:
        user = self.require(request)
        body = await _body(request)
        forward = _text(body, "forward_to") or None
        if forward and forward not in {d.ae_title for d in self.s.settings.dimse.destinations}:
            raise _DeniedError(422, "unknown PACS destination")
        manifest = RemoteDocument(
            home_community_id=_urn(_text(body, "home_community_id")),
            repository_unique_id=_text(body, "repository_unique_id"),
            document_unique_id=_text(body, "document_unique_id"),
            entry_uuid="",
            mime_type="application/dicom",
        )
        job = self.jobs.start(
            manifest, requester=self._requester(user, _text(body, "purpose")), forward_to=forward
        )
        return _job(job)

    async def retrieval(self, request: Request) -> dict[str, Any]:
        self.require(request)
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise _DeniedError(404, "no such retrieval")
        return _job(job)

    async def retrievals(self, request: Request) -> list[dict[str, Any]]:
        self.require(request)
        return [_job(j) for j in self.jobs.list()[:100]]

    async def viewed(self, request: Request) -> dict[str, Any]:
        """The viewer says which study it opens: the access is audited with the user."""
        user = self.require(request)
        body = await _body(request)
        uid = _text(body, "study_instance_uid")
        study = await self.s.metadata.get_study(uid)
        if study is None:
            raise _DeniedError(404, "study not in this node's store")
        await self._audit(
            user.name,
            "portal study viewed",
            purpose=_text(body, "purpose"),
            patient_ids=(study.patient_id.to_cx(),),
            studies=(uid,),
        )
        return {
            "study_instance_uid": uid,
            "description": study.study_description,
            "date": study.study_date.isoformat() if study.study_date else None,
        }

    async def audit(self, request: Request) -> list[dict[str, Any]]:
        self.require(request, admin=True)
        lister = getattr(self.s.audit, "list_events", None)
        if lister is None:
            return []
        patient = request.query_params.get("patient_id") or None
        records: list[AuditRecord] = await lister(limit=300, patient_id=patient)
        return [
            {
                "time": r.occurred_at.isoformat(),
                "user": r.requester_user_id or r.source,
                "event": r.event,
                "transaction": r.transaction,
                "outcome": r.outcome,
                "purpose": r.purpose_of_use,
                "patients": list(r.patient_ids),
                "studies": list(r.study_instance_uids),
                "community": r.home_community_id or r.destination,
            }
            for r in records
        ]

    async def directory(self, request: Request) -> list[dict[str, Any]]:
        self.require(request, admin=True)
        return [
            {
                "name": c.name,
                "home_community_id": c.home_community_id,
                "active": c.active,
                "city": c.city,
                "state": c.state,
                "postal_code": c.postal_code,
                "capabilities": sorted({e.transaction for e in c.endpoints}),
            }
            for c in await self.network.organizations()
        ]

    async def health(self, request: Request) -> dict[str, Any]:
        self.require(request, admin=True)
        node = self.s.settings.node
        lister = getattr(self.s.audit, "list_events", None)
        records: list[AuditRecord] = await lister(limit=500) if lister is not None else []
        last: dict[str, dict[str, str]] = {}
        for r in records:  # newest first: the first initiator record per peer is its latest
            peer = r.home_community_id or r.destination
            if r.role == "initiator" and peer and peer not in last:
                last[peer] = {
                    "time": r.occurred_at.isoformat(),
                    "outcome": r.outcome,
                    "transaction": r.transaction,
                }
        names = await self._names()
        return {
            "node": node.name,
            "version": __version__,
            "home_community_id": node.home_community_id,
            "uptime_s": round(time.monotonic() - self._started),
            "dimse_ae_title": self.s.settings.dimse.ae_title,
            "jobs": dict(Counter(j.status for j in self.jobs.list())),
            "peers": [
                {"organization": names.get(k, k), "home_community_id": k, **v}
                for k, v in sorted(last.items())
            ],
        }

    # --- helpers ---------------------------------------------------------------------------

    async def _names(self) -> dict[str, str]:
        return {_urn(c.home_community_id): c.name for c in await self.network.organizations()}

    async def _audit(
        self,
        user: str,
        event: str,
        *,
        outcome: str = "success",
        purpose: str = "",
        patient_ids: tuple[str, ...] = (),
        studies: tuple[str, ...] = (),
    ) -> None:
        await self.s.audit.record(
            AuditRecord(
                event=event,
                outcome=outcome,
                occurred_at=self.s.clock.now(),
                source="portal",
                transaction="portal",
                requester_user_id=user,
                purpose_of_use=purpose,
                patient_ids=patient_ids,
                study_instance_uids=studies,
            )
        )


def portal_routes(services: NodeServices) -> list[BaseRoute]:
    if not services.settings.portal.enabled or services.network is None:
        return []
    portal = _Portal(services, services.network)

    def api(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request), headers=_HEADERS)
            except _DeniedError as exc:
                return JSONResponse(
                    {"detail": exc.detail}, status_code=exc.status, headers=_HEADERS
                )
            except GatewayError as exc:
                return JSONResponse({"detail": exc.detail}, status_code=502, headers=_HEADERS)

        return run

    def page(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)  # type: ignore[no-any-return]
            except _DeniedError as exc:
                return Response(exc.detail, status_code=exc.status, media_type="text/plain")

        return run

    a = f"{PREFIX}/api"
    return [
        Route(f"{PREFIX}/login", page(portal.login_page), methods=["GET"]),
        Route(f"{PREFIX}/login", page(portal.login), methods=["POST"]),
        Route(f"{PREFIX}/logout", portal.logout, methods=["POST"]),
        Route(f"{PREFIX}/", page(portal.app_page), methods=["GET"]),
        Route(PREFIX, lambda _r: RedirectResponse(f"{PREFIX}/"), methods=["GET"]),
        Mount(f"{PREFIX}/static", app=StaticFiles(directory=_STATIC), name="portal-static"),
        Route(f"{a}/me", api(portal.me), methods=["GET"]),
        Route(f"{a}/patients/search", api(portal.search), methods=["POST"]),
        Route(f"{a}/timeline", api(portal.timeline), methods=["POST"]),
        Route(f"{a}/retrievals", api(portal.start_retrieval), methods=["POST"]),
        Route(f"{a}/retrievals", api(portal.retrievals), methods=["GET"]),
        Route(f"{a}/retrievals/{{job_id}}", api(portal.retrieval), methods=["GET"]),
        Route(f"{a}/viewed", api(portal.viewed), methods=["POST"]),
        Route(f"{a}/audit", api(portal.audit), methods=["GET"]),
        Route(f"{a}/directory", api(portal.directory), methods=["GET"]),
        Route(f"{a}/health", api(portal.health), methods=["GET"]),
    ]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}") if len(raw) < 1 << 20 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _DeniedError(400, "the body is not a JSON object")
    return data


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    return value.strip()[:128] if isinstance(value, str) else ""


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _urn(home: str) -> str:
    return home if home.startswith("urn:oid:") else f"urn:oid:{home}"


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _patient(p: CommunityPatient, names: dict[str, str]) -> dict[str, Any]:
    d = p.demographics
    name = d.names[0] if d and d.names else PersonName()
    return {
        "home_community_id": p.home_community_id,
        "organization": names.get(_urn(p.home_community_id), p.home_community_id),
        "patient_id": p.patient_id.id,
        "assigning_authority": p.patient_id.assigning_authority,
        "given": " ".join(name.given),
        "family": name.family,
        "birth_date": d.birth_date.isoformat() if d and d.birth_date else None,
        "gender": d.gender if d else "",
        "score": p.score,
        "from_cache": p.from_cache,
    }


def _job(j: RetrievalJob) -> dict[str, Any]:
    p = j.progress
    return {
        "id": j.id,
        "status": j.status,
        "study_instance_uid": p.study_instance_uid,
        "total": p.total_instances,
        "present": p.already_present,
        "received": p.received_instances,
        "failed": p.failed_instances,
        "bytes": p.received_bytes,
        "error": j.error,
        "missing": len(j.report.missing_sop_instance_uids) if j.report else None,
    }
