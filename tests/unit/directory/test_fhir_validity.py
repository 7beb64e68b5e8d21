"""Everything the directory emits parses strictly as FHIR R4 (fhir.resources R4B models)."""

from __future__ import annotations

from fhir.resources.R4B.endpoint import Endpoint
from fhir.resources.R4B.organization import Organization

from imx.directory.synth import generate_organizations


def test_synthetic_organizations_and_their_endpoints_are_valid_fhir() -> None:
    orgs = generate_organizations(300, seed=5)
    for resource in orgs:
        Organization.model_validate(resource)
        for contained in resource.get("contained", []):
            if contained["resourceType"] == "Endpoint":
                Endpoint.model_validate(contained)


def test_synthetic_directory_is_deterministic_and_has_networks_with_facilities() -> None:
    a, b = generate_organizations(500, seed=9), generate_organizations(500, seed=9)
    assert a == b
    assert a != generate_organizations(500, seed=10)
    facilities = [o for o in a if "partOf" in o]
    inheriting = [o for o in facilities if "endpoint" not in o]
    assert len(facilities) > 100 and len(inheriting) > 50
    ids = {o["id"] for o in a}
    assert all(o["partOf"]["reference"].split("/")[1] in ids for o in facilities)
    zips = {o["address"][0]["postalCode"] for o in a}
    assert len(zips) > 400  # spread over real ZIPs, not a handful
