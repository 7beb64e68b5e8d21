"""FHIR search parameters of the directory, parsed into a ``DirectorySearch`` (no I/O).

Standard Organization parameters (R4 Organization "Search Parameters"): ``_id``,
``identifier``, ``name``, ``address-postalcode``, ``address-city``, ``address-state``,
``partof``, ``active``, ``_lastUpdated``. Directory parameters (declared in /metadata):
``transaction`` (routing key, Sequoia code or alias: ``RAD-75``, ``XCA-I RAD-75``, ``xca-i``),
``connection-type`` (HL7 endpoint-connection-type), ``near`` (``lat|lon|distance|unit``, as
R4 Location's ``near``) and ``near-postalcode`` + ``near-distance``. Paging is Sequoia's
``_start``/``_count`` (SPEC-NOTES §7.1), ``_count`` at most 5000.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from imx.directory import codes
from imx.directory.geo import KM_PER_MILE, postal_code_centroid
from imx.directory.resources import fold, is_oid, reference_id
from imx.errors import InvalidRequestError, MalformedMessageError, UnsupportedError

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "DirectorySearch",
    "parse_instant",
    "parse_search",
    "to_microseconds",
]

DEFAULT_COUNT = 100
MAX_COUNT = 5000  # Sequoia's page limit (SPEC-NOTES §7.1)
_PREFIXES = ("gt", "ge", "lt", "le", "eq")
_SORTS = {"_id", "-_id", "name", "-name", "_lastUpdated", "-_lastUpdated", "distance"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_IGNORED = {"_format", "_total", "_summary", "_pretty", "_elements"}


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectorySearch:
    ids: tuple[str, ...] = ()
    name: str = ""  # folded; contains (accent/case-insensitive)
    name_exact: str = ""
    postal_code: str = ""  # prefix
    city: str = ""  # folded prefix
    state: str = ""  # folded prefix
    part_of: str = ""
    active: bool | None = None
    transactions: frozenset[str] = frozenset()  # any of these routing keys
    near: tuple[float, float] | None = None
    radius_miles: float | None = None
    last_updated: tuple[tuple[str, int], ...] = ()  # (gt|ge|lt|le, microseconds since epoch)
    count: int = DEFAULT_COUNT
    start: int = 0
    sort: str = "_id"
    include_endpoints: bool = False
    # Endpoint search only
    organization: str = ""
    connection_type: str = ""
    status: str = ""


def to_microseconds(instant: dt.datetime) -> int:
    """Microseconds since the Unix epoch, exact (no float rounding)."""
    return (instant - _EPOCH) // dt.timedelta(microseconds=1)


def parse_instant(value: str) -> dt.datetime:
    """A FHIR instant/dateTime/date; dates and naive times are taken as UTC."""
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MalformedMessageError(f"not a FHIR dateTime: {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _date_params(values: Iterable[str]) -> tuple[tuple[str, int], ...]:
    out = []
    for value in values:
        op = value[:2] if value[:2] in _PREFIXES else "eq"
        instant = to_microseconds(parse_instant(value[2:] if value[:2] in _PREFIXES else value))
        if op == "eq":
            out += [("ge", instant), ("le", instant)]
        else:
            out.append((op, instant))
    return tuple(out)


def _bool(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise MalformedMessageError(f"{name} must be true or false")
    return value == "true"


def _int(name: str, value: str, *, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise MalformedMessageError(f"{name} must be an integer") from None
    if not low <= number <= high:
        raise MalformedMessageError(f"{name} must be between {low} and {high}")
    return number


def _distance_miles(value: str) -> float:
    # "50", "50|mi_us", "80|km" (UCUM units as in Location near, R4 Location search)
    number, _, unit = value.partition("|")
    try:
        distance = float(number)
    except ValueError:
        raise MalformedMessageError("distance must be a number") from None
    if distance <= 0 or distance > 5000:
        raise MalformedMessageError("distance must be > 0 and at most 5000")
    unit = unit.strip("|").lower() or "mi_us"
    if unit in ("mi_us", "[mi_us]", "mi"):
        return distance
    if unit == "km":
        return distance / KM_PER_MILE
    raise MalformedMessageError("distance unit must be mi_us or km")


def _near(value: str) -> tuple[tuple[float, float], float]:
    parts = value.split("|", 2)
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        raise MalformedMessageError("near must be latitude|longitude|distance|unit") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise MalformedMessageError("near: coordinates out of range")
    return (lat, lon), _distance_miles(parts[2] if len(parts) > 2 else "50")


def _oid_param(name: str, value: str) -> str:
    raw = value.rsplit("|", 1)[-1].removeprefix("urn:oid:")
    raw = reference_id(raw, "Organization") or raw
    if not is_oid(raw):
        raise MalformedMessageError(f"{name} must be an OID")
    return raw


def _transactions(values: list[str], connection_types: list[str]) -> frozenset[str]:
    keys: set[str] = set()
    for value in (v for vs in values for v in vs.split(",")):
        key = codes.parse_transaction_param(value)
        if key is None:
            raise MalformedMessageError(f"unknown transaction {value[:40]!r}")
        keys.add(key)
    for value in (v for vs in connection_types for v in vs.split(",")):
        code = value.rsplit("|", 1)[-1]
        matched = {k for k, (_, ct, _) in codes.TRANSACTION_CODES.items() if ct == code}
        if not matched:
            raise MalformedMessageError(f"unknown connection type {code[:40]!r}")
        keys |= matched
    return frozenset(keys)


# Single-valued parameters: name -> (DirectorySearch field, conversion of the raw value).
_SIMPLE: dict[str, tuple[str, Callable[[str], object]]] = {
    "_id": ("ids", lambda v: tuple(i for i in v.split(",") if i)),
    "identifier": ("ids", lambda v: (_oid_param("identifier", v),)),
    "name": ("name", fold),
    "name:exact": ("name_exact", str),
    "address-city": ("city", fold),
    "address-state": ("state", fold),
    "address-postalcode": ("postal_code", str.strip),
    "partof": ("part_of", lambda v: _oid_param("partof", v)),
    "organization": ("organization", lambda v: _oid_param("organization", v)),
    "active": ("active", lambda v: _bool("active", v)),
    "status": ("status", str),
    "_count": ("count", lambda v: _int("_count", v, low=0, high=MAX_COUNT)),
    "_start": ("start", lambda v: _int("_start", v, low=0, high=10_000_000)),
    "_offset": ("start", lambda v: _int("_offset", v, low=0, high=10_000_000)),
}


def parse_search(params: list[tuple[str, str]], *, resource_type: str) -> DirectorySearch:
    """Parse query parameters; raises ``InvalidRequestError`` subclasses for bad values."""
    by: dict[str, list[str]] = {}
    for key, value in params:
        by.setdefault(key, []).append(value)

    def one(key: str) -> str:
        values = by.get(key, [])
        if len(values) > 1:
            raise MalformedMessageError(f"{key} given more than once")
        return values[0] if values else ""

    fields: dict[str, object] = {}
    for param, (field, convert) in _SIMPLE.items():
        if value := one(param):
            fields[field] = convert(value)
    if resource_type == "Endpoint" and "transaction" in by:
        raise UnsupportedError("Endpoint search takes connection-type, not transaction")
    if "transaction" in by or "connection-type" in by:
        if resource_type == "Endpoint":
            fields["connection_type"] = one("connection-type").rsplit("|", 1)[-1]
        fields["transactions"] = _transactions(
            by.get("transaction", []), by.get("connection-type", [])
        )
    _near_fields(one("near"), one("near-postalcode"), one("near-distance"), fields)
    fields["last_updated"] = _date_params(by.get("_lastUpdated", []))
    sort = one("_sort") or ("distance" if "near" in fields else "_id")
    if sort not in _SORTS or (sort == "distance" and "near" not in fields):
        raise InvalidRequestError(f"unsupported _sort {sort[:40]!r}")
    fields["sort"] = sort
    includes = by.get("_include", [])
    if any(i != "Organization:endpoint" for i in includes):
        raise InvalidRequestError("only _include=Organization:endpoint is supported")
    fields["include_endpoints"] = bool(includes)
    return DirectorySearch(**fields)  # type: ignore[arg-type]


def _near_fields(near: str, postal: str, distance: str, fields: dict[str, object]) -> None:
    if near and postal:
        raise MalformedMessageError("give near or near-postalcode, not both")
    if near:
        fields["near"], fields["radius_miles"] = _near(near)
    elif postal:
        center = postal_code_centroid(postal)
        if center is None:
            raise MalformedMessageError("near-postalcode is not a known US ZIP code")
        fields["near"] = center
        fields["radius_miles"] = _distance_miles(distance or "50")
    elif distance:
        raise MalformedMessageError("near-distance needs near-postalcode")


def known_parameters() -> frozenset[str]:
    return frozenset(
        {
            "_id",
            "identifier",
            "name",
            "name:exact",
            "address-city",
            "address-state",
            "address-postalcode",
            "partof",
            "organization",
            "active",
            "status",
            "transaction",
            "connection-type",
            "near",
            "near-postalcode",
            "near-distance",
            "_lastUpdated",
            "_count",
            "_start",
            "_offset",
            "_sort",
            "_include",
            *_IGNORED,
        }
    )
