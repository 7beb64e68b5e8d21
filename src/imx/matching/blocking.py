"""Blocking keys: the index lookups that bring the true record into the candidate set.

Each key is a short string an index (a dict here, a table later) maps to patient keys.
A query and its record share a key when they agree on one of: birth date (or the
day/month-swapped date), family-name sound (metaphone) + birth year/month or month/day,
given-name sound + birth year/month, first initial + ZIP5, phone, or an identifier.
"""

from __future__ import annotations

import datetime as dt

import jellyfish

from imx.matching.model import Demographics
from imx.matching.normalise import PreparedDemographics, prepare

__all__ = [
    "CANDIDATE_FALLBACK_KINDS",
    "CANDIDATE_MIN_KINDS",
    "CANDIDATE_STRONG_KINDS",
    "KEY_KIND_CHARS",
    "blocking_keys",
    "blocking_keys_prepared",
    "key_kind",
]

# A key's kind is its first three characters: dob, fym, fmd, gym, gz:, tel, id:.
KEY_KIND_CHARS = 3
# First-pass candidate rule for a large index: a record must share two kinds of key with the
# query, or a phone or an identifier. A record sharing only the birth date (~75 people per
# query at 1M) or only family-name sound + day/month (~55) is rarely the person. The XCPD
# responder re-runs a query that found no one close with CANDIDATE_FALLBACK_KINDS
# (services/patient_discovery.py). On the generated population (100k people, 4,000 queries,
# seed 1) the two passes give the same precision and recall as every key (1.0 / 0.9817) while
# scoring 4.3 instead of 17 candidates per query; the first pass alone: recall 0.9785.
CANDIDATE_MIN_KINDS = 2
CANDIDATE_STRONG_KINDS = ("tel", "id:")
# The second pass, when the first found no one close: records sharing only the birth date
# too (where the first pass lost its recall); adding the other one-kind records (family sound
# + day/month alone, ~55 per query at 1M) changed nothing on the same evaluation.
CANDIDATE_FALLBACK_KINDS = ("tel", "id:", "dob")


def key_kind(key: str) -> str:
    """The kind of a blocking key (``"dob:1980-04-03"`` -> ``"dob"``)."""
    return key[:KEY_KIND_CHARS]


def _swapped(date: dt.date) -> dt.date | None:
    if date.day > 12 or date.day == date.month:
        return None
    return date.replace(month=date.day, day=date.month)


def blocking_keys(demo: Demographics | PreparedDemographics) -> set[str]:
    """The blocking keys of one person (record or query alike; the same function for both).

    Args:
        demo: raw or prepared demographics.

    Returns:
        Keys such as ``"dob:1980-04-03"``, ``"fym:SM0:1980:04"``, ``"gz:J:02139"``, ``"tel:..."``.
    """
    p = demo if isinstance(demo, PreparedDemographics) else prepare(demo)
    return blocking_keys_prepared(p)


def blocking_keys_prepared(p: PreparedDemographics) -> set[str]:
    """:func:`blocking_keys` for an already prepared record."""
    keys: set[str] = set()
    if p.birth_date is not None:
        keys.add(f"dob:{p.birth_date.isoformat()}")
        swapped = _swapped(p.birth_date)
        if swapped is not None:
            keys.add(f"dob:{swapped.isoformat()}")
        b = p.birth_date
        for part in p.family_parts or ((p.family,) if p.family else ()):
            sound = jellyfish.metaphone(part)
            keys.add(f"fym:{sound}:{b.year}:{b.month:02d}")  # day typos
            keys.add(f"fmd:{sound}:{b.month:02d}:{b.day:02d}")  # year typos
        if p.first:
            keys.add(f"gym:{jellyfish.soundex(p.first)}:{b.year}:{b.month:02d}")
    if p.first and p.zip5:
        keys.add(f"gz:{p.first[0]}:{p.zip5}")
    keys.update(f"tel:{phone}" for phone in p.phones)
    keys.update(f"id:{root}:{ext}" for root, ext in p.identifiers)
    return keys
