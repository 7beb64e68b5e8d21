"""``build_app``: the node's ASGI application.

DICOMweb and SOAP now; FHIR and the JSON API mount next to them in ``routes``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from imx import __version__
from imx.errors import GatewayError
from imx.http.api import api_routes
from imx.http.dicomweb import dicomweb_router
from imx.http.errors import problem_response
from imx.http.portal import portal_routes
from imx.http.soap import soap_routes
from imx.services.context import NodeServices

__all__ = ["build_app"]


def build_app(services: NodeServices) -> Starlette:
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__,
                             "node": services.settings.node.name})

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Mount(services.settings.dicomweb.prefix, app=dicomweb_router(services)),
        *soap_routes(services),
        *(api_routes(services) if services.network is not None else []),
        *portal_routes(services),
    ]
    app = Starlette(routes=routes, exception_handlers={GatewayError: problem_response,
                                                       Exception: problem_response})
    app.state.max_body_bytes = services.settings.http.max_body_bytes
    app.state.services = services
    return app
