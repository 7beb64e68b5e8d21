"""Organization and Endpoint FHIR JSON (Sequoia shapes, SPEC-NOTES §7.2/§7.3) as entries.

``parse_*`` take a decoded JSON object and return a frozen entry or raise
``MalformedMessageError`` naming what is wrong (directory data is about organisations, never
patients, so details may quote it). Endpoints may be contained (Carequality) or separate
resources referenced as ``Endpoint/<id>`` (plain FHIR REST); both parse to ``EndpointEntry``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from imx.directory import codes
from imx.directory.geo import postal_code_centroid
from imx.errors import MalformedMessageError

__all__ = [
    "EndpointEntry",
    "OrganizationEntry",
    "StoredResource",
    "fold",
    "is_oid",
    "parse_endpoint",
    "parse_organization",
    "reference_id",
]

# ITU-T X.660 dotted decimal, no leading zeros; FHIR ids cap at 64 characters.
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def is_oid(value: str) -> bool:
    return len(value) <= 64 and _OID.fullmatch(value) is not None


def fold(text: str) -> str:
    """Accent- and case-insensitive form for matching (FHIR string search, R4 3.1.1.5.7)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def reference_id(reference: str, resource_type: str) -> str | None:
    """``Organization/1.2.3`` (relative or absolute URL, optional _history) -> ``1.2.3``."""
    parts = reference.split("/")
    for i in range(len(parts) - 1):
        if parts[i] == resource_type and _FHIR_ID.fullmatch(parts[i + 1]):
            return parts[i + 1]
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredResource:
    """A resource as stored: its JSON text goes into answers without a decode/encode trip."""

    resource_type: str
    id: str
    json: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointEntry:
    id: str
    transaction: str | None  # routing key (codes.TRANSACTION_CODES), None if unknown
    transaction_code: str  # as sent in the Sequoia Transaction extension
    connection_type: str
    address: str
    is_active: bool
    purposes_of_use: tuple[str, ...] = ()
    managing_organization: str = ""  # OID, "" if none

    def problem(self) -> str | None:
        """Why routing cannot use this endpoint, or None when it can."""
        if self.connection_type not in codes.CONNECTION_TYPES:
            return f"unknown connection type {self.connection_type!r}"
        if self.transaction is None:
            return f"no known transaction ({self.transaction_code or self.connection_type})"
        if not self.address.startswith(("https://", "http://")):
            return "address is not an http(s) URL"
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationEntry:
    id: str  # the OID (Sequoia uses the home community OID as the resource id)
    name: str
    is_active: bool
    city: str = ""
    state: str = ""
    postal_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    part_of: str = ""  # OID of partOf
    managing_organization: str = ""  # OID from the org-managing-org extension
    endpoint_references: tuple[str, ...] = ()  # ids of separate Endpoint resources
    contained_endpoints: tuple[EndpointEntry, ...] = ()
    last_updated: str = ""

    @property
    def home_community_id(self) -> str:
        return f"urn:oid:{self.id}"

    @property
    def parent(self) -> str:
        """Where a facility without endpoints gets its gateway (SPEC-NOTES §7.3)."""
        return self.part_of or self.managing_organization


def _codings(concept: Any) -> list[dict[str, Any]]:
    if isinstance(concept, dict):
        codings = concept.get("coding")
        if isinstance(codings, list):
            return [c for c in codings if isinstance(c, dict)]
    return []


def _extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    exts = resource.get("extension")
    if not isinstance(exts, list):
        return []
    return [e for e in exts if isinstance(e, dict) and e.get("url") == url]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _ref_oid(reference: Any, resource_type: str, what: str) -> str:
    if not isinstance(reference, dict) or "reference" not in reference:
        return ""
    found = reference_id(_str(reference.get("reference")), resource_type)
    if found is None or not is_oid(found):
        raise MalformedMessageError(
            f"{what} is not a reference to an OID-identified {resource_type}"
        )
    return found


def parse_endpoint(resource: Any) -> EndpointEntry:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Endpoint":
        raise MalformedMessageError("not an Endpoint resource")
    endpoint_id = _str(resource.get("id"))
    if not _FHIR_ID.fullmatch(endpoint_id):
        raise MalformedMessageError("Endpoint.id is missing or not a FHIR id")
    connection_type = next(
        (_str(c.get("code")) for c in _codings_or_coding(resource.get("connectionType"))), ""
    )
    transaction_code = next(
        (
            _str(c.get("code"))
            for e in _extensions(resource, codes.EXT_TRANSACTION)
            for c in _codings(e.get("valueCodeableConcept"))
        ),
        "",
    )
    purposes = tuple(
        _str(c.get("code"))
        for e in _extensions(resource, codes.EXT_PURPOSES_OF_USE)
        for c in _codings(e.get("valueCodeableConcept"))
    )
    return EndpointEntry(
        id=endpoint_id,
        transaction=codes.routing_key(
            transaction_code=transaction_code, connection_type=connection_type
        ),
        transaction_code=transaction_code,
        connection_type=connection_type,
        address=_str(resource.get("address")),
        is_active=resource.get("status", "active") == "active",
        purposes_of_use=tuple(p for p in purposes if p),
        managing_organization=_ref_oid(
            resource.get("managingOrganization"), "Organization", "Endpoint.managingOrganization"
        ),
    )


def _codings_or_coding(value: Any) -> list[dict[str, Any]]:
    # R4 Endpoint.connectionType is a Coding; R5 made it a CodeableConcept list. Accept both.
    if isinstance(value, dict) and "code" in value:
        return [value]
    if isinstance(value, list):
        return [c for v in value for c in _codings(v)]
    return _codings(value)


def _organization_oid(resource: dict[str, Any]) -> str:
    resource_id = _str(resource.get("id"))
    for ident in _list(resource.get("identifier")):
        if not isinstance(ident, dict):
            continue
        value = _str(ident.get("value")).removeprefix("urn:oid:")
        is_hcid = any(c.get("code") == codes.HCID for c in _codings(ident.get("type")))
        if is_hcid:
            if not is_oid(value):
                raise MalformedMessageError("the HCID identifier is not a valid OID")
            if resource_id and resource_id != value:
                raise MalformedMessageError("Organization.id differs from its HCID identifier")
            return value
    if not is_oid(resource_id):
        raise MalformedMessageError("Organization.id is not an OID and there is no HCID identifier")
    return resource_id


def _position(resource: dict[str, Any]) -> tuple[float, float] | None:
    for item in _list(resource.get("contained")):
        if isinstance(item, dict) and item.get("resourceType") == "Location":
            pos = item.get("position")
            if isinstance(pos, dict):
                lat, lon = pos.get("latitude"), pos.get("longitude")
                if isinstance(lat, int | float) and isinstance(lon, int | float):
                    if -90 <= lat <= 90 and -180 <= lon <= 180:
                        return float(lat), float(lon)
                    raise MalformedMessageError("Location.position is out of range")
    return None


def parse_organization(resource: Any) -> OrganizationEntry:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Organization":
        raise MalformedMessageError("not an Organization resource")
    oid = _organization_oid(resource)
    name = _str(resource.get("name"))
    if not name:
        raise MalformedMessageError("Organization.name is missing")
    addresses = [a for a in _list(resource.get("address")) if isinstance(a, dict)]
    address = addresses[0] if addresses else {}
    postal_code = _str(address.get("postalCode"))
    # No contained Location: fall back to the ZIP centroid, so the org still sorts by distance.
    position = _position(resource) or postal_code_centroid(postal_code)
    managing = next(
        (
            _ref_oid(e.get("valueReference"), "Organization", "org-managing-org")
            for e in _extensions(resource, codes.EXT_MANAGING_ORG)
        ),
        "",
    )
    references: list[str] = []
    for ref in _list(resource.get("endpoint")):
        text = _str(ref.get("reference")) if isinstance(ref, dict) else ""
        if text.startswith("#"):
            continue  # contained, parsed below
        endpoint_id = reference_id(text, "Endpoint")
        if endpoint_id is None:
            raise MalformedMessageError("Organization.endpoint is not an Endpoint reference")
        references.append(endpoint_id)
    contained = tuple(
        parse_endpoint(item)
        for item in _list(resource.get("contained"))
        if isinstance(item, dict) and item.get("resourceType") == "Endpoint"
    )
    meta_value = resource.get("meta")
    meta: dict[str, Any] = meta_value if isinstance(meta_value, dict) else {}
    return OrganizationEntry(
        id=oid,
        name=name,
        is_active=resource.get("active", True) is not False,
        city=_str(address.get("city")),
        state=_str(address.get("state")),
        postal_code=postal_code,
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
        part_of=_ref_oid(resource.get("partOf"), "Organization", "Organization.partOf"),
        managing_organization=managing,
        endpoint_references=tuple(references),
        contained_endpoints=contained,
        last_updated=_str(meta.get("lastUpdated")),
    )
