"""The organisation view for people and the JSON API, in the spirit of Redox's Organization.

Pure: a ``Community`` (and optionally a search centre) in, a plain JSON-able dict out. The
route factory that serves it lives in ``view_routes``.
"""

from __future__ import annotations

from typing import Any, Final

from imx.directory.geo import haversine_miles
from imx.model.community import Community

__all__ = ["CAPABILITY_LABELS", "organization_view"]

CAPABILITY_LABELS: Final = {
    "ITI-55": "Patient discovery (XCPD)",
    "ITI-38": "Document query (XCA)",
    "ITI-39": "Document retrieve (XCA)",
    "RAD-75": "Imaging retrieve (XCA-I)",
    "RAD-69": "Imaging retrieve (XDS-I)",
    "DICOMweb": "DICOMweb",
    "FHIR": "FHIR R4",
}


def organization_view(
    community: Community, *, origin: tuple[float, float] | None = None
) -> dict[str, Any]:
    """Name, address, distance from ``origin`` (miles, 1 decimal) and capabilities."""
    distance = None
    if origin is not None and community.latitude is not None and community.longitude is not None:
        distance = round(haversine_miles(origin, (community.latitude, community.longitude)), 1)
    keys = sorted({e.transaction for e in community.endpoints})
    return {
        "id": community.home_community_id,
        "name": community.name,
        "active": community.active,
        "address": {
            "city": community.city,
            "state": community.state,
            "postal_code": community.postal_code,
        },
        "position": (
            {"latitude": community.latitude, "longitude": community.longitude}
            if community.latitude is not None
            else None
        ),
        "distance_miles": distance,
        "managing_organization": community.managing_organization or None,
        "capabilities": [{"transaction": k, "label": CAPABILITY_LABELS.get(k, k)} for k in keys],
        "endpoints": [
            {
                "transaction": e.transaction,
                "address": e.address,
                "purposes_of_use": list(e.purposes_of_use),
            }
            for e in community.endpoints
        ],
    }
