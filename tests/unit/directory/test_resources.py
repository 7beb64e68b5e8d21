from __future__ import annotations

import copy
from typing import Any

import pytest

from imx.directory import codes
from imx.directory.builders import build_endpoint, build_organization
from imx.directory.resources import fold, parse_endpoint, parse_organization
from imx.errors import MalformedMessageError

OID = "1.2.840.113619.6.197"


def _sequoia_org() -> dict[str, Any]:
    """The SPEC-NOTES §7.2 template, filled in (Carequality shape, contained endpoint)."""
    return {
        "resourceType": "Organization",
        "id": OID,
        "identifier": [
            {
                "use": "official",
                "type": {"coding": [{"system": codes.IDENTIFIER_CODES_SYSTEM, "code": "HCID"}]},
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:oid:{OID}",
            }
        ],
        "active": True,
        "name": "Hôpital Sainte-Thérèse",
        "extension": [
            {"url": codes.EXT_MANAGING_ORG, "valueReference": {"reference": "Organization/1.2.3.4"}}
        ],
        "address": [
            {
                "line": ["1 Main St"],
                "city": "Albany",
                "state": "NY",
                "postalCode": "12207",
                "country": "US",
            }
        ],
        "partOf": {"reference": "Organization/1.2.3"},
        "endpoint": [{"reference": "#endpoint-1"}],
        "contained": [
            {
                "resourceType": "Location",
                "id": "OrgLoc",
                "position": {"latitude": 42.65, "longitude": -73.75},
            },
            {
                "resourceType": "Endpoint",
                "id": "endpoint-1",
                "status": "active",
                "connectionType": {"system": codes.CONNECTION_TYPE_SYSTEM, "code": "ihe-xca"},
                "address": "https://gw.example.org/xcai",
                "extension": [
                    {
                        "url": codes.EXT_TRANSACTION,
                        "valueCodeableConcept": {
                            "coding": [
                                {"system": codes.TRANSACTION_CODES_SYSTEM, "code": "XCA-I RAD-75"}
                            ]
                        },
                    }
                ],
                "managingOrganization": {"reference": f"Organization/{OID}"},
            },
        ],
    }


def test_a_carequality_organization_parses_to_its_routing_fields() -> None:
    org = parse_organization(_sequoia_org())
    assert org.home_community_id == f"urn:oid:{OID}"
    assert (org.name, org.city, org.state, org.postal_code) == (
        "Hôpital Sainte-Thérèse",
        "Albany",
        "NY",
        "12207",
    )
    assert (org.latitude, org.longitude) == (42.65, -73.75)
    assert (org.part_of, org.managing_organization, org.parent) == ("1.2.3", "1.2.3.4", "1.2.3")
    [endpoint] = org.contained_endpoints
    assert endpoint.transaction == "RAD-75"
    assert endpoint.problem() is None


def test_without_a_location_the_zip_centroid_is_the_position() -> None:
    resource = _sequoia_org()
    resource["contained"] = resource["contained"][1:]
    org = parse_organization(resource)
    assert org.latitude == pytest.approx(42.65, abs=0.05)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(id="1.2.03"), "differs"),
        (lambda r: r["identifier"][0].update(value="urn:oid:1.02.3"), "not a valid OID"),
        (lambda r: (r.pop("identifier"), r.update(id="not-an-oid")), "not an OID"),
        (lambda r: r.pop("name"), "name"),
        (lambda r: r.update(partOf={"reference": "Organization/abc"}), "partOf"),
        (lambda r: r.update(endpoint=[{"reference": "Patient/1"}]), "Endpoint reference"),
        (lambda r: r["contained"][0].update(position={"latitude": 91, "longitude": 0}), "range"),
    ],
)
def test_malformed_organizations_are_refused_with_the_reason(mutate: Any, message: str) -> None:
    resource = copy.deepcopy(_sequoia_org())
    mutate(resource)
    with pytest.raises(MalformedMessageError, match=message):
        parse_organization(resource)


@pytest.mark.parametrize(
    ("code", "connection_type", "key"),
    [
        ("XCPD ITI-55", "ihe-xcpd", "ITI-55"),
        ("XCA ITI-38", "ihe-xca", "ITI-38"),
        ("ITI-39", "ihe-xca", "ITI-39"),
        ("XCA-I RAD-75", "ihe-xca", "RAD-75"),
        ("XDS-I RAD-69", "ihe-xds", "RAD-69"),
        ("", "dicom-wado-rs", "DICOMweb"),
        ("", "hl7-fhir-rest", "FHIR"),
        ("", "ihe-xca", None),
    ],
)
def test_the_transaction_comes_from_the_sequoia_code_then_the_connection_type(
    code: str, connection_type: str, key: str | None
) -> None:
    assert codes.routing_key(transaction_code=code, connection_type=connection_type) == key


def test_an_unknown_connection_type_is_a_problem_not_an_exception() -> None:
    resource = build_endpoint(
        endpoint_id="e1",
        transaction="ITI-55",
        address="https://x.example/xcpd",
        organization_oid=OID,
    )
    resource["connectionType"] = {"system": codes.CONNECTION_TYPE_SYSTEM, "code": "direct-project"}
    assert "unknown connection type" in (parse_endpoint(resource).problem() or "")


def test_builders_round_trip_through_the_parser() -> None:
    endpoint = build_endpoint(
        endpoint_id=f"{OID}-rad-75",
        transaction="RAD-75",
        address="https://gw.example.org/rad-75",
        organization_oid=OID,
    )
    org = build_organization(
        oid=OID,
        name="X",
        city="Albany",
        state="NY",
        postal_code="12207",
        endpoint_ids=[endpoint["id"]],
    )
    assert parse_organization(org).endpoint_references == (f"{OID}-rad-75",)
    parsed = parse_endpoint(endpoint)
    assert (parsed.transaction, parsed.transaction_code, parsed.managing_organization) == (
        "RAD-75",
        "XCA-I RAD-75",
        OID,
    )


def test_fold_removes_accents_and_case() -> None:
    assert fold("  Hôpital SAINTE-Thérèse ") == "hopital sainte-therese"
