"""HL7 DTM timestamps as used in XDS metadata (ITI TF-3 Table 4.2.3.1.7-2): UTC, ``YYYY[MM[DD[hh[mm[ss]]]]]``."""

from __future__ import annotations

import datetime as dt
import re

from imx.errors import MalformedMessageError

__all__ = ["format_dtm", "parse_dtm"]

_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?$")


def parse_dtm(value: str) -> dt.datetime:
    """Parse a DTM (UTC) to an aware datetime; a missing precision is the start of the period."""
    m = _DTM.match(value.strip())
    if m is None:
        raise MalformedMessageError("timestamp is not an HL7 DTM (YYYY[MM[DD[hh[mm[ss]]]]])")
    year, month, day, hour, minute, second = (int(g) if g else None for g in m.groups())
    try:
        return dt.datetime(year or 1, month or 1, day or 1, hour or 0, minute or 0, second or 0,
                           tzinfo=dt.UTC)
    except ValueError as exc:
        raise MalformedMessageError("timestamp out of range") from exc


def format_dtm(value: dt.datetime, *, precision: int = 14) -> str:
    """Format an aware datetime as a UTC DTM with ``precision`` digits (4 to 14)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")[:precision]
