"""Normalisation: fold what differs only in writing so the comparators see the same thing.

Rules: Unicode NFKD with combining marks dropped (accents), upper case, punctuation to
spaces, hyphenated/compound surnames kept both joined and split, generational suffixes
dropped from names, given-name nicknames mapped to their formal names (``data/nicknames.csv``),
phone numbers to their last 10 digits, ZIP+4 to ZIP5, and USPS street suffixes and
directionals to their standard abbreviations (USPS Publication 28, Appendix C1/C2).

The nickname table is our own compact list of a few hundred common English (and some
Spanish) given-name diminutives. The idea of shipping such a table comes from the
carltonnorthern/nicknames project and from record-linkage practice (Christen, *Data
Matching*, 2012, ch. 4); no rows were copied.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from imx.matching.model import Demographics

__all__ = [
    "PreparedDemographics",
    "fold",
    "is_known_given",
    "name_tokens",
    "nickname_groups",
    "normalise_family",
    "normalise_phone",
    "normalise_street",
    "normalise_zip",
    "prepare",
]

_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
_SUFFIXES = frozenset({"JR", "SR", "II", "III", "IV", "V", "JNR", "SNR"})
# USPS Publication 28 Appendix C1 (street suffixes) and directionals; the common ones only.
_STREET_WORDS = {
    "STREET": "ST",
    "STR": "ST",
    "AVENUE": "AVE",
    "AV": "AVE",
    "AVEN": "AVE",
    "ROAD": "RD",
    "DRIVE": "DR",
    "DRV": "DR",
    "LANE": "LN",
    "BOULEVARD": "BLVD",
    "BOUL": "BLVD",
    "COURT": "CT",
    "PLACE": "PL",
    "TERRACE": "TER",
    "CIRCLE": "CIR",
    "HIGHWAY": "HWY",
    "PARKWAY": "PKWY",
    "SQUARE": "SQ",
    "TRAIL": "TRL",
    "WAY": "WAY",
    "APARTMENT": "APT",
    "SUITE": "STE",
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
    "NUMBER": "",
    "NO": "",
}


def fold(text: str) -> str:
    """Accent-fold, upper-case and turn punctuation into single spaces.

    Args:
        text: any string.

    Returns:
        ``"José O'Neil-Ruiz"`` becomes ``"JOSE O NEIL RUIZ"``.
    """
    if text.isascii():  # NFKD and the combining-mark filter change nothing: skip them
        ascii_only = text.translate(_EXTRA_FOLD).upper()
        return _NON_ALNUM.sub(" ", ascii_only).strip()
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Letters without a decomposition (ß, Ø, Ł) that NFKD keeps.
    ascii_only = ascii_only.translate(_EXTRA_FOLD).upper()
    return _NON_ALNUM.sub(" ", ascii_only).strip()


_EXTRA_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "æ": "ae",
        "Æ": "AE",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "'": "",
        "’": "",
    }
)


def name_tokens(text: str) -> tuple[str, ...]:
    """Folded name words without generational suffixes (``"Smith Jr."`` → ``("SMITH",)``)."""
    return tuple(t for t in fold(text).split() if t not in _SUFFIXES)


def normalise_family(text: str) -> tuple[str, tuple[str, ...]]:
    """The family name joined (``"GARCIALOPEZ"``) and its parts (``("GARCIA", "LOPEZ")``)."""
    parts = name_tokens(text)
    return "".join(parts), parts


def normalise_phone(text: str) -> str:
    """The last 10 digits of a telecom value (``tel:+1-555-...``); ``""`` for e-mail or junk."""
    if text.lower().startswith("mailto:") or "@" in text:
        return ""
    digits = "".join(c for c in text if c.isdigit())
    return digits[-10:] if len(digits) >= 7 else ""


def normalise_zip(text: str) -> str:
    """ZIP5 from ``"12345-6789"`` / ``"123456789"``; other postal codes folded without spaces."""
    compact = fold(text).replace(" ", "")
    return compact[:5] if compact[:5].isdigit() else compact


def normalise_street(text: str) -> str:
    """Fold and abbreviate USPS street words (``"12 North Main Street"`` → ``"12 N MAIN ST"``)."""
    words = (_STREET_WORDS.get(w, w) for w in fold(text).split())
    return " ".join(w for w in words if w)


@cache
def _nickname_table() -> dict[str, frozenset[str]]:
    text = resources.files("imx.matching").joinpath("data/nicknames.csv").read_text("utf-8")
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        formal, nickname = (fold(p).replace(" ", "") for p in line.split(","))
        table.setdefault(formal, set()).add(formal)
        table.setdefault(nickname, set()).add(formal)
    return {k: frozenset(v) for k, v in table.items()}


@cache
def _known_given() -> frozenset[str]:
    text = resources.files("imx.matching").joinpath("data/given_names.txt").read_text("utf-8")
    return frozenset(n for n in text.split() if not n.startswith("#") and n.isalpha())


def is_known_given(name: str) -> bool:
    """Whether a folded given name is a distinct name in ``data/given_names.txt``.

    Two different known names (Mary/Mark, Ronald/Donald) are different people, not a typo:
    the classic twin false match.
    """
    return name in _known_given()


def nickname_groups(given: str) -> frozenset[str]:
    """The formal names a folded given name may stand for, itself included.

    ``"BILL"`` → ``{"BILL", "WILLIAM"}``; two names are nickname-equivalent when their
    groups intersect.
    """
    return _nickname_table().get(given, frozenset()) | {given}


# Not frozen, on purpose: a query builds ~150 of these from the index's stored forms, and a
# frozen dataclass's __init__ (object.__setattr__ per field) cost 14 us against 1.9 us here
# (bench/iti55_throughput.py). Immutable by convention; hashable like a frozen one.
@dataclass(slots=True, unsafe_hash=True)
class PreparedDemographics:
    """Demographics normalised once (an index keeps these, so scoring does no folding).

    Treat as immutable (``dataclasses.replace`` for a changed copy)."""

    given: tuple[str, ...]
    first: str
    given_groups: frozenset[str]
    first_known: bool
    family: str
    family_parts: tuple[str, ...]
    birth_date: dt.date | None
    sex: str
    street: str
    city: str
    state: str
    zip5: str
    phones: frozenset[str]
    identifiers: frozenset[tuple[str, str]]
    mothers_maiden_name: str


def prepare(demo: Demographics) -> PreparedDemographics:
    """Normalise every field of ``demo`` for scoring and blocking.

    Args:
        demo: raw demographics from a query or the index.

    Returns:
        The prepared form; pure and deterministic.
    """
    # "Jae-won" is one given name; a hyphen in a family name joins two (kept as parts).
    given = tuple(t for g in demo.given_names for t in name_tokens(g.replace("-", "")))
    first = given[0] if given else ""
    family, parts = normalise_family(demo.family_name)
    sex = demo.sex.upper() if demo.sex.upper() in ("M", "F") else ""
    return PreparedDemographics(
        given=given,
        first=first,
        given_groups=nickname_groups(first) if first else frozenset(),
        first_known=is_known_given(first),
        family=family,
        family_parts=parts,
        birth_date=demo.birth_date,
        sex=sex,
        street=normalise_street(demo.address_lines[0]) if demo.address_lines else "",
        city=fold(demo.city),
        state=fold(demo.state),
        zip5=normalise_zip(demo.postal_code),
        phones=frozenset(p for p in map(normalise_phone, demo.telecom) if p),
        identifiers=frozenset((r.strip(), e.strip().upper()) for r, e in demo.identifiers if e),
        mothers_maiden_name="".join(name_tokens(demo.mothers_maiden_name)),
    )
