"""Build Sequoia-shaped Organization and Endpoint JSON (SPEC-NOTES §7.2/§7.3), pure.

Used by ``publish`` (a node's own entries) and ``synth``. Codes come from ``codes``.
"""

from __future__ import annotations

from typing import Any

from imx.directory import codes

__all__ = ["build_endpoint", "build_organization"]


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def build_endpoint(
    *,
    endpoint_id: str,
    transaction: str,
    address: str,
    organization_oid: str,
    purposes_of_use: tuple[str, ...] = ("TREATMENT",),
    active: bool = True,
) -> dict[str, Any]:
    """An Endpoint serving ``transaction`` (a routing key of ``codes.TRANSACTION_CODES``)."""
    code, connection_type, name = codes.TRANSACTION_CODES[transaction]
    extensions: list[dict[str, Any]] = [
        {
            "url": codes.EXT_TRANSACTION,
            "valueCodeableConcept": _concept(codes.TRANSACTION_CODES_SYSTEM, code),
        },
        {"url": codes.EXT_VERSION, "valueString": "2.0"},
    ]
    extensions += [
        {
            "url": codes.EXT_PURPOSES_OF_USE,
            "valueCodeableConcept": _concept(codes.PURPOSE_OF_USE_SYSTEM, p),
        }
        for p in purposes_of_use
    ]
    return {
        "resourceType": "Endpoint",
        "id": endpoint_id,
        "extension": extensions,
        "status": "active" if active else "off",
        "connectionType": {"system": codes.CONNECTION_TYPE_SYSTEM, "code": connection_type},
        "name": name,
        "managingOrganization": {"reference": f"Organization/{organization_oid}"},
        "payloadType": [_concept("urn:oid:1.3.6.1.4.1.19376.1.2.3", "urn:ihe:iti:xds-b:2007")],
        "payloadMimeType": ["application/soap+xml"]
        if connection_type.startswith("ihe")
        else [
            "application/dicom+json"
            if connection_type.startswith("dicom")
            else "application/fhir+json"
        ],
        "address": address,
    }


def build_organization(
    *,
    oid: str,
    name: str,
    active: bool = True,
    city: str = "",
    state: str = "",
    postal_code: str = "",
    lines: list[str] | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    part_of: str = "",
    managing_organization: str = "",
    organization_type: str = "Connection",
    contained_endpoints: list[dict[str, Any]] | None = None,
    endpoint_ids: list[str] | None = None,
) -> dict[str, Any]:
    """An Organization; endpoints either contained (Carequality) or referenced by id."""
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": oid,
        "identifier": [
            {
                "use": "official",
                "type": _concept(codes.IDENTIFIER_CODES_SYSTEM, codes.HCID),
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:oid:{oid}",
            }
        ],
        "active": active,
        "type": [_concept(f"{codes.SEQUOIA}/CodeSystem/OrganizationType", organization_type)],
        "name": name,
    }
    extensions: list[dict[str, Any]] = [
        {
            "url": codes.EXT_DOMAINS,
            "valueCoding": {"system": f"{codes.SEQUOIA}/CodeSystem/Domains", "code": "CQ"},
        }
    ]
    if managing_organization:
        extensions.append(
            {
                "url": codes.EXT_MANAGING_ORG,
                "valueReference": {"reference": f"Organization/{managing_organization}"},
            }
        )
    org["extension"] = extensions
    contained: list[dict[str, Any]] = []
    address: dict[str, Any] = {
        "line": lines or [],
        "city": city,
        "state": state,
        "postalCode": postal_code,
        "country": "US",
    }
    if latitude is not None and longitude is not None:
        contained.append(
            {
                "resourceType": "Location",
                "id": "OrgLoc",
                "status": "active",
                "position": {"latitude": latitude, "longitude": longitude},
            }
        )
        address["extension"] = [
            {"url": codes.EXT_ORG_LOCATION, "valueReference": {"reference": "#OrgLoc"}}
        ]
    if not address["line"]:
        del address["line"]
    org["address"] = [{k: v for k, v in address.items() if v != ""}]
    if part_of:
        org["partOf"] = {"reference": f"Organization/{part_of}"}
    references = [{"reference": f"#{e['id']}"} for e in contained_endpoints or []]
    references += [{"reference": f"Endpoint/{i}"} for i in endpoint_ids or []]
    if references:
        org["endpoint"] = references
    contained += contained_endpoints or []
    if contained:
        org["contained"] = contained
    return org
