"""Stored query parameter values (ITI TF-2a 3.18.4.1.2.3.5-3.18.4.1.2.3.7).

Readers over ``slot_values`` of an ``rim:AdhocQuery``: quoted single values, parenthesised
lists, ``code^^scheme`` codes, DTM times, CX patient IDs. Each raises the error the
standard names: XDSStoredQueryMissingParam (MissingParameterError), XDSStoredQueryParamNumber
(ParameterNumberError); a value that does not parse is a MalformedMessageError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from imx.errors import MalformedMessageError, MissingParameterError, ParameterNumberError
from imx.model.document_query import CodeMatch, EntryFilter, TimeRange
from imx.model.identifiers import PatientId, parse_cx
from imx.wire.dtm import parse_dtm
from imx.wire.ebrim import parse_query_list, parse_query_value

__all__ = [
    "Slots",
    "codes",
    "entry_filter",
    "one_of",
    "patient_id",
    "required_list",
    "single",
    "text_list",
    "time",
    "time_range",
]

Slots = dict[str, list[str]]


def single(slots: Slots, name: str) -> str | None:
    """A single-valued parameter, or None when absent.

    Raises:
        ParameterNumberError: the parameter has more than one value.
    """
    values = slots.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ParameterNumberError(f"{name} takes one value")
    return parse_query_value(values[0])


def text_list(slots: Slots, name: str) -> tuple[str, ...]:
    """Every value of a multi-valued parameter: all slot occurrences, each ``('a','b')``."""
    return tuple(v for raw in slots.get(name, []) for v in parse_query_list(raw))


def required_list(slots: Slots, name: str) -> tuple[str, ...]:
    """A required multi-valued parameter (a status list, ``$uuid``, ``$AssociationTypes``)."""
    values = text_list(slots, name)
    if not values:
        raise MissingParameterError(f"{name} is required")
    return values


def codes(values: Sequence[str]) -> tuple[CodeMatch, ...]:
    """``('code^^scheme', ...)`` values as code matches (OR)."""
    out: list[CodeMatch] = []
    for raw in values:
        for item in parse_query_list(raw):
            code, _, scheme = item.partition("^^")
            if not code:
                raise MalformedMessageError("empty code in a code parameter")
            out.append(CodeMatch(code=code, scheme=scheme))
    return tuple(out)


def time(slots: Slots, name: str) -> dt.datetime | None:
    raw = single(slots, name)
    return parse_dtm(raw) if raw else None


def time_range(slots: Slots, start: str, end: str) -> TimeRange:
    """``...From`` (inclusive) and ``...To`` (exclusive) as one range."""
    return TimeRange(start=time(slots, start), end=time(slots, end))


def patient_id(slots: Slots, name: str) -> PatientId:
    """A required CX patient ID parameter."""
    raw = single(slots, name)
    if raw is None:
        raise MissingParameterError(f"{name} is required")
    try:
        return parse_cx(raw)
    except ValueError as exc:
        raise MalformedMessageError(f"{name} is not a valid CX") from exc


def one_of(slots: Slots, uuid_name: str, unique_id_name: str, *,
           is_single: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Exactly one of an entryUUID and a uniqueId parameter (ITI TF-2a 3.18.4.1.2.3.7).

    Returns ``(entry_uuids, unique_ids)``, one of them empty. ``is_single``: the query takes
    one object (GetSubmissionSetAndContents, GetRelatedDocuments, ...).

    Raises:
        MissingParameterError: neither is given.
        ParameterNumberError: both are given, or several values where one is allowed.
    """
    uuids, unique_ids = text_list(slots, uuid_name), text_list(slots, unique_id_name)
    if not uuids and not unique_ids:
        raise MissingParameterError(f"{uuid_name} or {unique_id_name} is required")
    if uuids and unique_ids:
        raise ParameterNumberError(f"{uuid_name} and {unique_id_name} are exclusive")
    if is_single and len(uuids) + len(unique_ids) > 1:
        name = uuid_name if uuids else unique_id_name
        raise ParameterNumberError(f"{name} takes one value")
    return uuids, unique_ids


def entry_filter(slots: Slots) -> EntryFilter:
    """The optional DocumentEntry filters shared by GetAll and the *AndContents queries."""
    return EntryFilter(
        format_codes=codes(slots.get("$XDSDocumentEntryFormatCode", [])),
        # AND of ORs: each slot occurrence is one OR-list (ITI TF-2a 3.18.4.1.2.3.5).
        confidentiality_codes=tuple(
            codes([raw]) for raw in slots.get("$XDSDocumentEntryConfidentialityCode", [])),
        entry_types=text_list(slots, "$XDSDocumentEntryType"),
    )
