"""FHIR R4 envelopes the directory answers with: Bundle, OperationOutcome, CapabilityStatement.

Pure builders; links use Sequoia's ``_start``/``_count`` offset paging (SPEC-NOTES §7.1).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from imx.directory.resources import StoredResource

__all__ = [
    "capability_statement",
    "history_bundle",
    "operation_outcome",
    "searchset_bundle",
]

# R4 "location-distance" extension, used on Bundle.entry.search by Location?near searches.
EXT_DISTANCE = "http://hl7.org/fhir/StructureDefinition/location-distance"


def operation_outcome(code: str, diagnostics: str, *, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics[:500]}],
    }


def _link(base: str, path: str, params: list[tuple[str, str]], start: int, count: int) -> str:
    kept = [(k, v) for k, v in params if k not in ("_start", "_offset", "_count")]
    query = urlencode([*kept, ("_count", str(count)), ("_start", str(start))])
    return f"{base}/{path}?{query}"


def searchset_bundle(
    *,
    base: str,
    resource_type: str,
    params: list[tuple[str, str]],
    total: int,
    start: int,
    count: int,
    resources: list[tuple[StoredResource, float | None]],
    included: list[StoredResource],
    now: str,
) -> str:
    """The searchset Bundle as JSON text.

    Stored resources are spliced in as the JSON text they were stored as (written by
    ``json.dumps``, so valid): a 5000-entry page skips 5000 decodes and re-encodes.
    """
    links = [{"relation": "self", "url": _link(base, resource_type, params, start, count)}]
    if count and start + count < total:
        links.append(
            {"relation": "next", "url": _link(base, resource_type, params, start + count, count)}
        )
    if count and start > 0:
        links.append(
            {
                "relation": "previous",
                "url": _link(base, resource_type, params, max(0, start - count), count),
            }
        )
    entries = [_entry(base, stored, _search(distance)) for stored, distance in resources] + [
        _entry(base, stored, {"mode": "include"}) for stored in included
    ]
    head = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    text = json.dumps(head, separators=(",", ":"), ensure_ascii=False)
    if not entries:
        return text
    return text[:-1] + ',"entry":[' + ",".join(entries) + "]}"


def _search(distance: float | None) -> dict[str, Any]:
    search: dict[str, Any] = {"mode": "match"}
    if distance is not None:
        search["extension"] = [
            {
                "url": EXT_DISTANCE,
                "valueDistance": {
                    "value": round(distance, 3),
                    "unit": "mi",
                    "system": "http://unitsofmeasure.org",
                    "code": "[mi_i]",
                },
            }
        ]
    return search


def _entry(base: str, stored: StoredResource, search: dict[str, Any]) -> str:
    url = json.dumps(f"{base}/{stored.resource_type}/{stored.id}", ensure_ascii=False)
    mode = json.dumps(search, separators=(",", ":"))
    return f'{{"fullUrl":{url},"resource":{stored.json},"search":{mode}}}'


def history_bundle(
    *, base: str, total: int, resources: list[dict[str, Any]], now: str
) -> dict[str, Any]:
    entries = []
    for r in resources:
        version = r.get("meta", {}).get("versionId", "1")
        url = f"{r['resourceType']}/{r['id']}"
        entries.append(
            {
                "fullUrl": f"{base}/{url}",
                "resource": r,
                "request": {
                    "method": "PUT" if version != "1" else "POST",
                    "url": url if version != "1" else r["resourceType"],
                },
                "response": {
                    "status": "200 OK" if version != "1" else "201 Created",
                    "etag": f'W/"{version}"',
                    "lastModified": r.get("meta", {}).get("lastUpdated"),
                },
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now},
        "type": "history",
        "total": total,
    }
    if entries:
        bundle["entry"] = entries
    return bundle


_ORG_PARAMS = [
    ("_id", "token", "Logical id (the home community OID)"),
    ("identifier", "token", "HCID, urn:oid:<oid>"),
    ("name", "string", "Contains, accent- and case-insensitive"),
    ("address-postalcode", "string", "Starts with"),
    ("address-city", "string", "Starts with, accent- and case-insensitive"),
    ("address-state", "string", "Starts with"),
    ("partof", "reference", "Facilities of a network"),
    ("active", "token", "true or false"),
    (
        "transaction",
        "token",
        "Serves a responding transaction, own or inherited gateway: ITI-55, ITI-38, ITI-39, "
        "RAD-75 (XCA-I), RAD-69, DICOMweb, FHIR; Sequoia codes such as 'XCA-I RAD-75' accepted",
    ),
    ("connection-type", "token", "HL7 endpoint-connection-type of an endpoint it is reached by"),
    ("near", "special", "latitude|longitude|distance|unit (mi_us or km), as Location near"),
    ("near-postalcode", "string", "US ZIP whose centroid is the centre of a radius search"),
    ("near-distance", "quantity", "Radius for near-postalcode: 50, 50|mi_us or 80|km"),
    ("_lastUpdated", "date", "gt/ge/lt/le instant (incremental sync)"),
]
_ENDPOINT_PARAMS = [
    ("_id", "token", "Logical id"),
    ("organization", "reference", "managingOrganization"),
    ("connection-type", "token", "HL7 endpoint-connection-type code"),
    ("status", "token", "active or off"),
    ("_lastUpdated", "date", "gt/ge/lt/le instant"),
]


def capability_statement(*, base: str, now: str, software_version: str) -> dict[str, Any]:
    def resource(kind: str, params: list[tuple[str, str, str]]) -> dict[str, Any]:
        return {
            "type": kind,
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": True,
            "interaction": [
                {"code": c}
                for c in (
                    "read",
                    "vread",
                    "search-type",
                    "create",
                    "update",
                    "history-instance",
                    "history-type",
                )
            ],
            "searchInclude": ["Organization:endpoint"] if kind == "Organization" else [],
            "searchParam": [{"name": n, "type": t, "documentation": d} for n, t, d in params],
        }

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now,
        "publisher": "imx",
        "kind": "instance",
        "software": {"name": "imx participant directory", "version": software_version},
        "implementation": {
            "description": "Participant directory (Sequoia/Carequality shapes)",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Paging with _start/_count (max 5000). No DELETE: PUT active=false."
                ),
                "security": {
                    "description": "Writes: Authorization: Bearer <token> (or api-key "
                    "<token>) or a client certificate mapped to an OID."
                },
                "resource": [
                    resource("Organization", _ORG_PARAMS),
                    resource("Endpoint", _ENDPOINT_PARAMS),
                ],
            }
        ],
    }
