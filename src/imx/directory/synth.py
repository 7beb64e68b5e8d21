"""Synthetic directory: N organisations over real US ZIP codes, as Carequality-shaped FHIR JSON.

Deterministic for a seed. About a tenth are networks (implementers) with a gateway of their own;
facilities hang under a network (``partOf`` + ``org-managing-org``) and most of them inherit the
network's gateway; the rest are standalone organisations with their own endpoints. A few are
inactive. Used by tests, ``bench/directory_sync.py`` and the demo.
"""

from __future__ import annotations

import random
from typing import Any

from imx.directory.builders import build_endpoint, build_organization
from imx.directory.geo import all_postal_codes

__all__ = ["OID_ROOT", "generate_organizations"]

OID_ROOT = "2.16.840.1.113883.3.7204"  # synthetic test arc; never a real participant
_KINDS = (
    "Medical Center",
    "Imaging",
    "Clinic",
    "Radiology",
    "Health",
    "Hospital",
    "Orthopedics",
    "Cardiology",
    "Health System",
)
_NAMES = (
    "Saint Mary",
    "Mercy",
    "Good Samaritan",
    "Riverside",
    "Lakeview",
    "Summit",
    "Clínica São José",
    "Hôpital Sainte-Thérèse",
    "Nuestra Señora",
    "Zoë Memorial",
    "Valley",
    "Pioneer",
    "Harbor",
    "Cedar",
    "Northwind",
    "Bayside",
)
_GATEWAY = ("ITI-55", "ITI-38", "ITI-39")
_IMAGING = ("RAD-75", "RAD-69", "DICOMweb")


def _endpoints(rng: random.Random, oid: str, host: str) -> list[dict[str, Any]]:
    keys = list(_GATEWAY)
    if rng.random() < 0.5:
        keys.append("RAD-75")
    if rng.random() < 0.3:
        keys.append("RAD-69")
    if rng.random() < 0.3:
        keys.append("DICOMweb")
    if rng.random() < 0.2:
        keys.append("FHIR")
    return [
        build_endpoint(
            endpoint_id=f"{oid}-{key.lower()}",
            transaction=key,
            address=f"https://{host}/{key.lower()}",
            organization_oid=oid,
        )
        for key in keys
    ]


def generate_organizations(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` Organization resources (endpoints contained), same seed same output."""
    rng = random.Random(seed)  # noqa: S311 - synthetic test data, not security
    zips = all_postal_codes()
    out: list[dict[str, Any]] = []
    networks: list[tuple[str, str]] = []  # (oid, state)
    for i in range(n):
        oid = f"{OID_ROOT}.{seed}.{i + 1}"
        zip_code, city, state, lat, lon = zips[rng.randrange(len(zips))]
        roll = rng.random()
        part_of = ""
        if i < 3 or roll < 0.1:
            kind = "Implementer"
        elif roll < 0.65 and networks:
            kind = "Connection"
            part_of = networks[rng.randrange(len(networks))][0]
        else:
            kind = "Standalone"
        name = f"{rng.choice(_NAMES)} {rng.choice(_KINDS)} of {city.title()}"
        host = f"gw{i + 1}.seed{seed}.example.org"
        endpoints: list[dict[str, Any]] = []
        if kind != "Connection":
            endpoints = _endpoints(rng, oid, host)
        elif rng.random() < 0.2:  # a facility with its own imaging endpoint
            endpoints = [
                build_endpoint(
                    endpoint_id=f"{oid}-rad-75",
                    transaction="RAD-75",
                    address=f"https://{host}/rad-75",
                    organization_oid=oid,
                )
            ]
        jitter_lat, jitter_lon = rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02)
        org = build_organization(
            # Networks stay active: an inactive one would orphan its facilities (they would be
            # skipped by the sync), and tests add broken entries on purpose instead.
            oid=oid,
            name=name,
            active=kind == "Implementer" or rng.random() >= 0.05,
            city=city.title(),
            state=state,
            postal_code=zip_code,
            lines=[f"{rng.randint(1, 9999)} Main Street"],
            latitude=round(lat + jitter_lat, 5),
            longitude=round(lon + jitter_lon, 5),
            part_of=part_of,
            managing_organization=part_of,
            organization_type="Implementer" if kind == "Implementer" else "Connection",
            contained_endpoints=endpoints,
        )
        if kind == "Implementer":
            networks.append((oid, state))
        out.append(org)
    return out
