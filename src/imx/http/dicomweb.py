"""The DICOMweb router (PS3.18): QIDO-RS, WADO-RS, STOW-RS under ``dicomweb.prefix``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from imx.http import qido, stow, wado
from imx.services.context import NodeServices

__all__ = ["dicomweb_router"]

Handler = Callable[[Request, NodeServices], Awaitable[Response]]

ST = "/studies/{study}"
SE = ST + "/series/{series}"
IN = SE + "/instances/{instance}"


def dicomweb_router(services: NodeServices) -> Router:
    def bind(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(request, services)

        return endpoint

    routes = [
        Route("/studies", bind(qido.search_studies), methods=["GET"]),
        Route("/studies", bind(stow.store_instances), methods=["POST"]),
        Route("/series", bind(qido.search_series), methods=["GET"]),
        Route("/instances", bind(qido.search_instances), methods=["GET"]),
        Route(ST, bind(wado.retrieve_instances), methods=["GET"]),
        Route(ST, bind(stow.store_instances), methods=["POST"]),
        Route(ST + "/metadata", bind(wado.retrieve_metadata), methods=["GET"]),
        Route(ST + "/series", bind(qido.search_series), methods=["GET"]),
        Route(ST + "/instances", bind(qido.search_instances), methods=["GET"]),
        Route(SE, bind(wado.retrieve_instances), methods=["GET"]),
        Route(SE + "/metadata", bind(wado.retrieve_metadata), methods=["GET"]),
        Route(SE + "/instances", bind(qido.search_instances), methods=["GET"]),
        Route(IN, bind(wado.retrieve_instances), methods=["GET"]),
        Route(IN + "/metadata", bind(wado.retrieve_metadata), methods=["GET"]),
        Route(IN + "/rendered", bind(wado.retrieve_rendered), methods=["GET"]),
        Route(IN + "/frames/{frames}", bind(wado.retrieve_frames), methods=["GET"]),
        Route(IN + "/frames/{frame:int}/rendered", bind(wado.retrieve_rendered), methods=["GET"]),
        Route(IN + "/bulkdata/{tag}", bind(wado.retrieve_bulkdata), methods=["GET"]),
    ]
    return Router(routes=routes)
