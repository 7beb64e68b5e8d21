"""Self-service: a node's own organisation, facilities and endpoints, and publishing them.

``node_entries`` builds the resources (pure) from a small description (``PublishSpec``, read
from TOML by the CLI); ``publish`` PUTs them with the node's token. Endpoints are separate
resources referenced by the Organization (plain FHIR REST), one per responding transaction;
facilities without endpoints inherit the node's gateway through ``partOf``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from imx.directory.builders import build_endpoint, build_organization
from imx.directory.geo import postal_code_centroid
from imx.directory.resources import is_oid
from imx.directory.sync import DirectoryClient
from imx.errors import MalformedMessageError

__all__ = ["NODE_PATHS", "FacilitySpec", "PublishSpec", "node_entries", "publish"]

# Where an imx node serves each responding transaction (mirrors imx.http.soap.PATHS and the
# DICOMweb prefix; the directory does not import the node's edge).
NODE_PATHS: Final = {
    "ITI-55": "/xcpd",
    "ITI-38": "/xca/query",
    "ITI-39": "/xca/retrieve",
    "RAD-69": "/xdsi/retrieve",
    "RAD-75": "/xcai/retrieve",
    "DICOMweb": "/dicom-web",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FacilitySpec:
    oid: str
    name: str
    city: str = ""
    state: str = ""
    postal_code: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishSpec:
    home_community_id: str  # urn:oid:... or a bare OID
    name: str
    base_url: str
    city: str = ""
    state: str = ""
    postal_code: str = ""
    transactions: tuple[str, ...] = tuple(NODE_PATHS)
    active: bool = True
    facilities: tuple[FacilitySpec, ...] = field(default=())


def _position(postal_code: str) -> tuple[float | None, float | None]:
    center = postal_code_centroid(postal_code) if postal_code else None
    return (center[0], center[1]) if center else (None, None)


def node_entries(spec: PublishSpec) -> list[dict[str, Any]]:
    """The node's Organization, its Endpoints, then its facilities, in publishing order."""
    oid = spec.home_community_id.removeprefix("urn:oid:")
    for candidate in (oid, *(f.oid.removeprefix("urn:oid:") for f in spec.facilities)):
        if not is_oid(candidate):
            raise MalformedMessageError(f"not an OID: {candidate[:64]!r}")
    unknown = [t for t in spec.transactions if t not in NODE_PATHS]
    if unknown:
        raise MalformedMessageError(f"no node path for {', '.join(unknown)}")
    base = spec.base_url.rstrip("/")
    endpoints = [
        build_endpoint(
            endpoint_id=f"{oid}-{t.lower()}",
            transaction=t,
            address=base + NODE_PATHS[t],
            organization_oid=oid,
        )
        for t in spec.transactions
    ]
    lat, lon = _position(spec.postal_code)
    org = build_organization(
        oid=oid,
        name=spec.name,
        active=spec.active,
        city=spec.city,
        state=spec.state,
        postal_code=spec.postal_code,
        latitude=lat,
        longitude=lon,
        organization_type="Implementer",
        endpoint_ids=[e["id"] for e in endpoints],
    )
    out = [org, *endpoints]
    for f in spec.facilities:
        flat, flon = _position(f.postal_code)
        out.append(
            build_organization(
                oid=f.oid.removeprefix("urn:oid:"),
                name=f.name,
                active=f.active,
                city=f.city,
                state=f.state,
                postal_code=f.postal_code,
                latitude=flat,
                longitude=flon,
                part_of=oid,
                managing_organization=oid,
            )
        )
    return out


async def publish(client: DirectoryClient, resources: list[dict[str, Any]]) -> list[str]:
    """PUT each resource (create or update); returns ``Type/id/_history/version`` lines."""
    done = []
    for resource in resources:
        stored = await client.request(
            "PUT", f"/{resource['resourceType']}/{resource['id']}", json=resource
        )
        done.append(
            f"{stored['resourceType']}/{stored['id']}/_history/"
            f"{stored.get('meta', {}).get('versionId', '?')}"
        )
    return done
