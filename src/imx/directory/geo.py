"""Distance on the Earth: US ZIP centroids (offline), bounding boxes and haversine.

The ``zipcodes`` package ships the US ZIP table with its coordinates, so a radius search around
a patient's ZIP needs no network. Search runs in two steps: a latitude/longitude bounding box
that indexed columns can answer, then the exact great-circle distance on what it lets through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import zipcodes

__all__ = [
    "EARTH_RADIUS_MILES",
    "BoundingBox",
    "all_postal_codes",
    "bounding_box",
    "haversine_miles",
    "postal_code_centroid",
]

EARTH_RADIUS_MILES = 3958.7613  # IUGG mean radius, 6371.0088 km
KM_PER_MILE = 1.609344


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundingBox:
    min_latitude: float
    max_latitude: float
    # When the box crosses the antimeridian, min_longitude > max_longitude.
    min_longitude: float
    max_longitude: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.min_longitude > self.max_longitude


def haversine_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in miles between two (latitude, longitude) points in degrees."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(center: tuple[float, float], radius_miles: float) -> BoundingBox:
    """A box that contains every point within ``radius_miles`` of ``center`` (never fewer).

    Latitude spans radius/R radians. Longitude widens with latitude: the half-width is
    asin(sin(d)/cos(lat)) (the tangent meridians of the circle), and the box covers every
    longitude when the circle reaches a pole.
    """
    lat, lon = center
    d = radius_miles / EARTH_RADIUS_MILES
    min_lat, max_lat = lat - math.degrees(d), lat + math.degrees(d)
    if max_lat >= 90 or min_lat <= -90:
        return BoundingBox(
            min_latitude=max(min_lat, -90),
            max_latitude=min(max_lat, 90),
            min_longitude=-180,
            max_longitude=180,
        )
    ratio = math.sin(d) / math.cos(math.radians(lat))
    dlon = 180.0 if ratio >= 1 else math.degrees(math.asin(ratio))
    min_lon, max_lon = lon - dlon, lon + dlon
    if dlon >= 180:
        min_lon, max_lon = -180, 180
    if min_lon < -180:
        min_lon += 360
    if max_lon > 180:
        max_lon -= 360
    return BoundingBox(
        min_latitude=min_lat, max_latitude=max_lat, min_longitude=min_lon, max_longitude=max_lon
    )


@lru_cache(maxsize=1)
def _zip_table() -> list[dict[str, Any]]:
    # Loading the table costs ~1 s; do it once per process, on first use.
    return list(zipcodes.list_all())  # type: ignore[no-untyped-call]


@lru_cache(maxsize=1)
def _centroids() -> dict[str, tuple[float, float]]:
    # zipcodes.matching() scans its list; one dict makes every later look-up O(1).
    out: dict[str, tuple[float, float]] = {}
    for z in _zip_table():
        if z.get("lat") and z.get("long"):
            out[z["zip_code"]] = (float(z["lat"]), float(z["long"]))
    return out


def postal_code_centroid(postal_code: str) -> tuple[float, float] | None:
    """(latitude, longitude) of a US ZIP (5 digits, ZIP+4 accepted), or None if unknown."""
    five = postal_code.strip()[:5]
    if len(five) != 5 or not five.isdigit():
        return None
    return _centroids().get(five)


@lru_cache(maxsize=1)
def all_postal_codes() -> tuple[tuple[str, str, str, float, float], ...]:
    """Every US ZIP with coordinates: (zip, city, state, latitude, longitude), sorted by ZIP."""
    rows = []
    for z in _zip_table():
        if z.get("lat") and z.get("long") and z.get("zip_code_type") == "STANDARD":
            rows.append((z["zip_code"], z["city"], z["state"], float(z["lat"]), float(z["long"])))
    return tuple(sorted(rows))
