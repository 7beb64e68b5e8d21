from __future__ import annotations

import pytest

from imx.directory.search import MAX_COUNT, parse_instant, parse_search, to_microseconds
from imx.errors import InvalidRequestError, MalformedMessageError


def _parse(*pairs: tuple[str, str]):  # type: ignore[no-untyped-def]
    return parse_search(list(pairs), resource_type="Organization")


def test_radius_around_a_zip_defaults_to_miles_and_sorts_by_distance() -> None:
    s = _parse(
        ("near-postalcode", "10001"),
        ("near-distance", "50"),
        ("transaction", "XCA-I RAD-75"),
        ("active", "true"),
    )
    assert s.near is not None and s.near[0] == pytest.approx(40.75, abs=0.01)
    assert (s.radius_miles, s.sort, s.active) == (50, "distance", True)
    assert s.transactions == frozenset({"RAD-75"})


def test_near_in_location_format_with_kilometres() -> None:
    s = _parse(("near", "40.7|-74.0|80.4672|km"))
    assert s.near == (40.7, -74.0)
    assert s.radius_miles == pytest.approx(50)


def test_connection_type_means_any_transaction_served_that_way() -> None:
    s = _parse(("connection-type", "ihe-xca"))
    assert s.transactions == frozenset({"ITI-38", "ITI-39", "RAD-75"})


def test_identifier_accepts_system_and_urn_forms() -> None:
    assert _parse(("identifier", "urn:ietf:rfc:3986|urn:oid:1.2.3")).ids == ("1.2.3",)
    assert _parse(("partof", "Organization/1.2.3")).part_of == "1.2.3"


def test_last_updated_prefixes_become_bounds() -> None:
    s = _parse(("_lastUpdated", "gt2026-01-01T00:00:00Z"), ("_lastUpdated", "le2026-02-01"))
    start = to_microseconds(parse_instant("2026-01-01T00:00:00Z"))
    assert s.last_updated[0] == ("gt", start)
    assert s.last_updated[1][0] == "le"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("near-postalcode", "99999")], "not a known US ZIP"),
        ([("near", "91|0|5|km")], "out of range"),
        ([("near", "40|-74|5|furlong")], "unit"),
        ([("near-distance", "5")], "needs near-postalcode"),
        ([("_count", str(MAX_COUNT + 1))], "_count"),
        ([("_count", "ten")], "integer"),
        ([("active", "yes")], "true or false"),
        ([("transaction", "ITI-99")], "unknown transaction"),
        ([("connection-type", "carrier-pigeon")], "unknown connection type"),
        ([("identifier", "not-an-oid")], "OID"),
        ([("_lastUpdated", "gtyesterday")], "dateTime"),
        ([("name", "a"), ("name", "b")], "more than once"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(
    pairs: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(MalformedMessageError, match=message):
        parse_search(pairs, resource_type="Organization")


def test_unsupported_include_and_sort_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="_include"):
        _parse(("_include", "Organization:partof"))
    with pytest.raises(InvalidRequestError, match="_sort"):
        _parse(("_sort", "distance"))  # distance needs a centre


def test_endpoint_search_refuses_the_organization_only_transaction_parameter() -> None:
    with pytest.raises(InvalidRequestError, match="connection-type"):
        parse_search([("transaction", "RAD-75")], resource_type="Endpoint")
    s = parse_search([("connection-type", "ihe-xca")], resource_type="Endpoint")
    assert s.connection_type == "ihe-xca"
