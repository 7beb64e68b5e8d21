"""Starlette routes serving ``organization_view`` from the node cache (for the JSON API).

``organization_routes(cache)`` returns routes to mount, e.g. ``Mount("/api", routes=...)``:
``GET /organizations?name=&state=&transaction=&near_postal_code=&radius_miles=`` and
``GET /organizations/{home_community_id}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from imx.directory.bundles import operation_outcome
from imx.directory.cache import DirectoryCache
from imx.directory.geo import postal_code_centroid
from imx.directory.view import organization_view
from imx.errors import MalformedMessageError

__all__ = ["organization_routes"]


def _bad(detail: str) -> JSONResponse:
    return JSONResponse(
        operation_outcome("invalid", detail), status_code=400, media_type="application/fhir+json"
    )


def organization_routes(cache: DirectoryCache) -> list[Route]:
    async def list_organizations(request: Request) -> JSONResponse:
        q = request.query_params
        radius: float | None = None
        if q.get("radius_miles"):
            try:
                radius = float(q["radius_miles"])
            except ValueError:
                return _bad("radius_miles must be a number")
        zip_code = q.get("near_postal_code") or None
        try:
            found = await cache.find_communities(
                transaction=q.get("transaction") or None,
                name=q.get("name") or None,
                state=q.get("state") or None,
                postal_code=q.get("postal_code") or None,
                near_postal_code=zip_code,
                radius_miles=radius,
                active=q.get("active", "true") != "false",
            )
        except MalformedMessageError as exc:
            return _bad(exc.detail)
        origin = postal_code_centroid(zip_code) if zip_code else None
        limit = min(int(q["limit"]) if q.get("limit", "").isdigit() else 100, 1000)
        return JSONResponse(
            {
                "total": len(found),
                "organizations": [organization_view(c, origin=origin) for c in found[:limit]],
            }
        )

    async def one_organization(request: Request) -> JSONResponse:
        community = await cache.get(request.path_params["home_community_id"])
        if community is None:
            return JSONResponse(
                operation_outcome("not-found", "unknown organization"),
                status_code=404,
                media_type="application/fhir+json",
            )
        return JSONResponse(organization_view(community))

    return [
        Route("/organizations", list_organizations, methods=["GET"]),
        Route("/organizations/{home_community_id}", one_organization, methods=["GET"]),
    ]
