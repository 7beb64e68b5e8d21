"""The directory's FHIR R4 REST edge (Starlette): Organization and Endpoint.

``build_directory_app(store, authenticator)`` returns an ASGI app to serve alone
(``imx directory serve``) or mount inside a node. Thin: parse via ``search``/``resources``,
call the store, answer FHIR JSON; every error becomes an OperationOutcome (one table below).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imx import __version__
from imx.directory.auth import AuthenticationRequiredError, Identity, check_write
from imx.directory.bundles import (
    capability_statement,
    history_bundle,
    operation_outcome,
    searchset_bundle,
)
from imx.directory.resources import parse_endpoint, parse_organization
from imx.directory.search import parse_instant, parse_search, to_microseconds
from imx.directory.store import DirectoryStore
from imx.directory.tokens import Authenticator
from imx.errors import (
    GatewayError,
    InvalidRequestError,
    MalformedMessageError,
    NotAuthorizedError,
    NotFoundError,
    StoreError,
    TooManyResultsError,
    UnsupportedError,
)

__all__ = ["FHIR_JSON", "build_directory_app"]

log = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
MAX_BODY_BYTES = 1_000_000
_TYPES = ("Organization", "Endpoint")


class ConflictError(InvalidRequestError):
    """Create of an id that exists (use PUT), or a body id that differs from the URL."""


# exception -> (HTTP status, OperationOutcome issue code); looked up along the MRO.
_STATUS: dict[type[BaseException], tuple[int, str]] = {
    AuthenticationRequiredError: (401, "login"),
    NotAuthorizedError: (403, "forbidden"),
    NotFoundError: (404, "not-found"),
    ConflictError: (409, "conflict"),
    UnsupportedError: (400, "not-supported"),
    MalformedMessageError: (400, "invalid"),
    TooManyResultsError: (400, "too-costly"),
    InvalidRequestError: (400, "invalid"),
    StoreError: (503, "transient"),
    GatewayError: (500, "exception"),
}


def _fhir(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _error(request: Request, exc: Exception) -> Response:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            status, code = _STATUS[cls]
            break
    else:
        status, code = 500, "exception"
    if status >= 500:
        log.error(
            "directory request failed",
            exc_info=exc,
            extra={"path": request.url.path, "method": request.method},
        )
    detail = exc.detail if isinstance(exc, GatewayError) else "internal error"
    headers = {"WWW-Authenticate": 'Bearer realm="imx-directory"'} if status == 401 else None
    return _fhir(operation_outcome(code, detail or code), status, headers)


def _resource_type(request: Request) -> str:
    kind = str(request.path_params["resource_type"])
    if kind not in _TYPES:
        raise NotFoundError(f"this directory serves {', '.join(_TYPES)} only")
    return kind


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _identity_inputs(request: Request) -> tuple[str | None, str | None]:
    # ASGI TLS extension: client_cert_name is the verified client certificate's RFC 4514
    # subject, set by a TLS-terminating server that verified the chain.
    tls = request.scope.get("extensions", {}).get("tls", {})
    subject = tls.get("client_cert_name") if isinstance(tls, dict) else None
    return request.headers.get("authorization"), subject if isinstance(subject, str) else None


class _Handlers:
    """The request handlers, sharing the store and the authenticator."""

    def __init__(self, store: DirectoryStore, authenticator: Authenticator) -> None:
        self.store = store
        self.auth = authenticator

    async def metadata(self, request: Request) -> Response:
        return _fhir(
            capability_statement(base=_base(request), now=_now(), software_version=__version__)
        )

    async def search(self, request: Request) -> Response:
        kind = _resource_type(request)
        params = list(request.query_params.multi_items())
        s = parse_search(params, resource_type=kind)
        page = await self.store.search(kind, s)
        body = searchset_bundle(
            base=_base(request),
            resource_type=kind,
            params=params,
            total=page.total,
            start=s.start,
            count=s.count,
            resources=page.resources,
            included=page.included,
            now=_now(),
        )
        return Response(body.encode(), media_type=FHIR_JSON)

    async def read(self, request: Request) -> Response:
        kind = _resource_type(request)
        resource = await self.store.read(kind, request.path_params["id"])
        if resource is None:
            raise NotFoundError(f"{kind}/{request.path_params['id'][:64]} is not known")
        return _fhir(resource, headers=_version_headers(resource))

    async def vread(self, request: Request) -> Response:
        kind = _resource_type(request)
        version = request.path_params["version"]
        resource = (
            await self.store.read_version(kind, request.path_params["id"], int(version))
            if version.isdigit()
            else None
        )
        if resource is None:
            raise NotFoundError("no such version")
        return _fhir(resource, headers=_version_headers(resource))

    async def history(self, request: Request) -> Response:
        kind = _resource_type(request)
        since = request.query_params.get("_since")
        since_us = to_microseconds(parse_instant(since)) if since else 0
        s = parse_search(
            [(k, v) for k, v in request.query_params.multi_items() if k in ("_count", "_start")],
            resource_type=kind,
        )
        total, resources = await self.store.history(
            kind, request.path_params.get("id"), since_us=since_us, start=s.start, count=s.count
        )
        if request.path_params.get("id") and total == 0:
            raise NotFoundError(f"{kind} is not known")
        return _fhir(
            history_bundle(base=_base(request), total=total, resources=resources, now=_now())
        )

    async def update(self, request: Request) -> Response:
        kind = _resource_type(request)
        resource = await _body(request, kind)
        resource_id = request.path_params["id"]
        if resource.get("id") != resource_id:
            raise ConflictError("the resource id must equal the id in the URL")
        return await self._write(request, kind, resource, creating=False)

    async def create(self, request: Request) -> Response:
        kind = _resource_type(request)
        resource = await _body(request, kind)
        if kind == "Organization":
            resource["id"] = parse_organization({**resource, "id": ""}).id
        else:
            resource["id"] = str(uuid.uuid4())
        return await self._write(request, kind, resource, creating=True)

    async def _write(
        self, request: Request, kind: str, resource: dict[str, Any], *, creating: bool
    ) -> Response:
        authorization, subject = _identity_inputs(request)
        identity = await self.auth.identify(
            authorization=authorization, certificate_subject=subject
        )
        before = await self.store.read(kind, resource["id"])
        if creating and before is not None:
            raise ConflictError(f"{kind}/{resource['id']} exists: update it with PUT")
        await self._authorize(identity, kind, resource, before)
        stored, created = await self.store.put(resource)
        log.info(
            "directory write",
            extra={
                "resource_type": kind,
                "id": stored["id"],
                "by": identity.organization if identity else "",
                "version": stored["meta"]["versionId"],
            },
        )
        headers = _version_headers(stored)
        headers["Location"] = (
            f"{_base(request)}/{kind}/{stored['id']}/_history/{stored['meta']['versionId']}"
        )
        return _fhir(stored, 201 if created else 200, headers)

    async def _authorize(
        self,
        identity: Identity | None,
        kind: str,
        resource: dict[str, Any],
        before: dict[str, Any] | None,
    ) -> None:
        if identity is None:
            raise AuthenticationRequiredError("writes need an API token or a client certificate")
        if kind == "Organization":
            entry = parse_organization(resource)
            after = {entry.id} | await self.store.owners(
                [entry.part_of, entry.managing_organization]
            )
            owners_before = await self.store.owners([entry.id]) if before is not None else None
        else:
            endpoint = parse_endpoint(resource)
            after = await self.store.owners([endpoint.managing_organization])
            owners_before = (
                await self.store.owners([parse_endpoint(before).managing_organization])
                if before is not None
                else None
            )
        check_write(identity, owners_before=owners_before, owners_after=after)

    async def delete(self, request: Request) -> Response:
        # Sequoia directory: no DELETE; deactivate by PUT with active=false (SPEC-NOTES §7.1).
        return _fhir(
            operation_outcome(
                "not-supported",
                "no DELETE: PUT the resource with active=false (Endpoint: status=off)",
            ),
            405,
            {"Allow": "GET, PUT"},
        )


def build_directory_app(store: DirectoryStore, authenticator: Authenticator) -> Starlette:
    """An ASGI app serving the directory at its root (mount it under ``/directory/fhir``)."""
    h = _Handlers(store, authenticator)
    routes = [
        Route("/metadata", h.metadata, methods=["GET"]),
        Route("/{resource_type}/_history", h.history, methods=["GET"]),
        Route("/{resource_type}", h.search, methods=["GET"]),
        Route("/{resource_type}", h.create, methods=["POST"]),
        Route("/{resource_type}/{id}", h.read, methods=["GET"]),
        Route("/{resource_type}/{id}", h.update, methods=["PUT"]),
        Route("/{resource_type}/{id}", h.delete, methods=["DELETE"]),
        Route("/{resource_type}/{id}/_history", h.history, methods=["GET"]),
        Route("/{resource_type}/{id}/_history/{version}", h.vread, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={GatewayError: _error, Exception: _error})


def _version_headers(resource: dict[str, Any]) -> dict[str, str]:
    meta = resource.get("meta", {})
    return {"ETag": f'W/"{meta.get("versionId", "1")}"'}


async def _body(request: Request, kind: str) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise MalformedMessageError("request body is too large")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedMessageError("request body is too large")
    try:
        resource = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedMessageError("the body is not JSON") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != kind:
        raise MalformedMessageError(f"the body must be a {kind} resource")
    return resource
