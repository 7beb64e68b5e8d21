"""``build_app``: the node's ASGI application (DICOMweb, SOAP, JSON API, portal).

SOAP requests (the network-facing Responding Gateway, up to hundreds per second) skip
Starlette's router and exception middleware: ``SoapEndpoint.handle`` answers every failure
itself with a SOAP fault, so the generic layers only cost time (~15 % of an XCPD query's
Python time at 1M patients, measured with py-spy).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from imx import __version__
from imx.errors import GatewayError
from imx.http.api import api_routes
from imx.http.dicomweb import dicomweb_router
from imx.http.errors import problem_response
from imx.http.portal import portal_routes
from imx.http.soap import PATHS as SOAP_PATHS
from imx.http.soap import SoapEndpoint
from imx.services.context import NodeServices
from imx.wire.faults import build_fault
from imx.wire.mtom import soap_content_type
from imx.wire.soap import build_envelope
from imx.wire.xml import serialize

__all__ = ["NodeApp", "build_app"]

log = logging.getLogger(__name__)


class NodeApp(Starlette):
    """Starlette, with a direct path for SOAP POSTs to the endpoint that answers them."""

    soap: SoapEndpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST"
                and scope["path"] in SOAP_PATHS):
            scope["app"] = self
            request = Request(scope, receive, send)
            try:
                response = await self.soap.handle(request)
            except Exception:  # the edge answers every failure (SOAP 1.2 Receiver fault)
                log.exception("SOAP request failed before dispatch")
                response = Response(
                    serialize(build_envelope(build_fault("Receiver", None, "internal error"))),
                    status_code=500, media_type=soap_content_type())
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@contextlib.asynccontextmanager
async def _serving(app: Starlette) -> AsyncIterator[None]:
    """Once the node is up: start the SOAP endpoint's XUA verifier process, then move
    everything built at start (modules, schemas, matching tables, ~140k objects) out of the
    collector's sight and collect the young generation less often. Full collections otherwise
    rescanned that heap every few seconds under load: 15-25 ms of a held GIL each, the largest
    part of the XCPD p99 (measured with gc.callbacks)."""
    soap = app.soap if isinstance(app, NodeApp) else None
    if soap is not None:
        soap.start()
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 20, 20)
    try:
        yield
    finally:
        if soap is not None:
            await soap.aclose()


def build_app(services: NodeServices) -> NodeApp:
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__,
                             "node": services.settings.node.name})

    soap = SoapEndpoint(services)

    async def soap_route(request: Request) -> Response:
        return await soap.handle(request)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Mount(services.settings.dicomweb.prefix, app=dicomweb_router(services)),
        # Listed for completeness (introspection, other methods get 405): POSTs take the
        # direct path in NodeApp.__call__.
        *(Route(path, soap_route, methods=["POST"]) for path in SOAP_PATHS),
        *(api_routes(services) if services.network is not None else []),
        *portal_routes(services),
    ]
    app = NodeApp(routes=routes, exception_handlers={GatewayError: problem_response,
                                                     Exception: problem_response},
                  lifespan=_serving)
    app.soap = soap
    app.state.max_body_bytes = services.settings.http.max_body_bytes
    app.state.services = services
    return app
