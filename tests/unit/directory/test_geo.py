from __future__ import annotations

import math
import random

import pytest

from imx.directory.geo import bounding_box, haversine_miles, postal_code_centroid


def test_haversine_jfk_to_lax_matches_the_published_distance() -> None:
    # JFK (40.6413, -73.7781) to LAX (33.9416, -118.4085): 2,475 statute miles on the WGS-84
    # ellipsoid; a sphere is within 0.5 % of it, plenty for "within 50 miles".
    assert haversine_miles((40.6413, -73.7781), (33.9416, -118.4085)) == pytest.approx(
        2475, rel=0.005
    )
    assert haversine_miles((10.0, 20.0), (10.0, 20.0)) == 0


def test_zip_centroids_are_known_offline() -> None:
    lat, lon = postal_code_centroid("10001")  # type: ignore[misc]
    assert (round(lat, 2), round(lon, 2)) == (40.75, -74.0)
    assert postal_code_centroid("10001-1234") == postal_code_centroid("10001")
    assert postal_code_centroid("00000") is None
    assert postal_code_centroid("ABCDE") is None


@pytest.mark.parametrize(
    "center",
    [(40.75, -74.0), (64.8, -147.7), (21.3, -157.8), (-33.9, 151.2), (51.5, 179.9), (89.5, 0.0)],
)
def test_bounding_box_never_drops_a_point_inside_the_radius(center: tuple[float, float]) -> None:
    rng = random.Random(7)
    radius = 250.0
    box = bounding_box(center, radius)
    for _ in range(3000):
        # random points at distance <= radius, in every direction
        bearing = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(0, radius) / 3958.7613
        lat1, lon1 = math.radians(center[0]), math.radians(center[1])
        lat2 = math.asin(
            math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing)
        )
        lon2 = lon1 + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(lat1),
            math.cos(d) - math.sin(lat1) * math.sin(lat2),
        )
        lat, lon = math.degrees(lat2), (math.degrees(lon2) + 540) % 360 - 180
        assert haversine_miles(center, (lat, lon)) <= radius + 1e-6
        assert box.min_latitude - 1e-9 <= lat <= box.max_latitude + 1e-9
        if box.crosses_antimeridian:
            assert lon >= box.min_longitude - 1e-9 or lon <= box.max_longitude + 1e-9
        else:
            assert box.min_longitude - 1e-9 <= lon <= box.max_longitude + 1e-9
