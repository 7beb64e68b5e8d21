"""Fellegi-Sunter scoring: per-field agreement levels, each worth a log2 likelihood ratio.

A field's weight is ``log2(m/u)`` for an agreement level (m: how often true matches show it,
u: how often unrelated people do) and ``log2((1-m)/(1-u))`` for disagreement; missing is 0.
The defaults below are those ratios rounded, then tuned on a generated population
(``bench/matching_accuracy.py``). Contact details get small weights: families share phones
and addresses (metriport PR #4473), and twins share everything except given name and DOB order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rapidfuzz.distance import OSA, JaroWinkler

from imx.matching.model import SSN_ROOT
from imx.matching.normalise import PreparedDemographics

__all__ = [
    "DEFAULT_WEIGHTS",
    "FieldScore",
    "MatchWeights",
    "ScoreExplanation",
    "score",
    "score_total",
]

_jw = JaroWinkler.similarity
_osa = OSA.distance


def _close_name(a: str, b: str, cutoff: float) -> bool:
    """Jaro-Winkler at or above ``cutoff``, or one edit/transposition apart (3+ letters)."""
    if _jw(a, b) >= cutoff:
        return True
    return min(len(a), len(b)) >= 3 and max(len(a), len(b)) >= 4 and _osa(a, b) <= 1


_DEFAULT_LEVELS: dict[str, dict[str, float]] = {
    "identifier": {"agree": 14.0, "conflict_ssn": -20.0, "conflict": -6.0},
    "given": {
        "exact": 6.0,
        "nickname": 3.0,
        "close": 4.0,
        "initial": 1.5,
        "swapped": 5.0,
        "disagree": -9.0,
    },
    "family": {"exact": 6.0, "partial": 4.5, "close": 4.0, "swapped": 5.0, "disagree": -3.0},
    "birth_date": {"exact": 8.0, "transposed": 4.0, "close": 2.5, "disagree": -12.0},
    "sex": {"agree": 0.5, "disagree": -6.0},
    "address": {"exact": 3.0, "close": 2.0, "area": 0.5, "disagree": -0.5},
    "telecom": {"agree": 3.0, "disagree": -0.5},
    "mothers_maiden_name": {"agree": 2.0, "disagree": -2.0},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchWeights:
    """Weights per field and agreement level (log2 likelihood ratios), plus similarity cut-offs.

    ``levels[field][level]``; a level absent from the mapping weighs 0 (as "missing" does).
    """

    levels: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType(_DEFAULT_LEVELS)
    )
    name_close: float = 0.90  # Jaro-Winkler at or above: a typo of the same name
    street_close: float = 0.90

    def weight(self, field_name: str, level: str) -> float:
        """The weight of ``level`` on ``field_name`` (0 when not configured)."""
        return self.levels.get(field_name, {}).get(level, 0.0)


DEFAULT_WEIGHTS = MatchWeights()


@dataclass(frozen=True, slots=True)
class FieldScore:
    """One field's comparison: its agreement level and the weight that level carries."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class ScoreExplanation:
    """The total log2 weight and how each field contributed (no demographic values: no PHI)."""

    total: float
    fields: tuple[FieldScore, ...]

    def level(self, field_name: str) -> str:
        """The level recorded for ``field_name`` (``"missing"`` when not compared)."""
        return next((f.level for f in self.fields if f.field == field_name), "missing")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for the audit trail."""
        return {
            "total": round(self.total, 3),
            "fields": {f.field: {"level": f.level, "weight": f.weight} for f in self.fields},
        }


def _identifier_level(q: PreparedDemographics, c: PreparedDemographics) -> str:
    if not q.identifiers or not c.identifiers:
        return "missing"
    if q.identifiers & c.identifiers:
        return "agree"
    c_roots = {root for root, _ in c.identifiers}
    shared = {root for root, _ in q.identifiers} & c_roots
    if SSN_ROOT in shared:
        return "conflict_ssn"
    return "conflict" if shared else "missing"


def _given_level(q: PreparedDemographics, c: PreparedDemographics, w: MatchWeights) -> str:
    if not q.first or not c.first:
        return "missing"
    if q.first == c.first:
        return "exact"
    if len(q.first) == 1 or len(c.first) == 1:
        return "initial" if q.first[0] == c.first[0] else "disagree"
    if q.given_groups & c.given_groups:
        return "nickname"
    if q.first_known and c.first_known:
        pass  # two distinct real names: not a typo (twins Mary/Mark)
    elif _close_name(q.first, c.first, w.name_close):
        return "close"
    # A middle name used as the first (``"J Robert"`` / ``"Robert"``).
    if q.first in c.given[1:] or c.first in q.given[1:]:
        return "close"
    return "disagree"


def _family_level(q: PreparedDemographics, c: PreparedDemographics, w: MatchWeights) -> str:
    if not q.family or not c.family:
        return "missing"
    if q.family == c.family:
        return "exact"
    if len(q.family_parts) + len(c.family_parts) > 2 and set(q.family_parts) & set(c.family_parts):
        return "partial"
    return "close" if _close_name(q.family, c.family, w.name_close) else "disagree"


def _is_swapped(q: PreparedDemographics, c: PreparedDemographics, w: MatchWeights) -> bool:
    if not (q.first and q.family and c.first and c.family):
        return False
    return _jw(q.first, c.family) >= w.name_close and _jw(q.family, c.first) >= w.name_close


def _date_level(q: dt.date | None, c: dt.date | None) -> str:
    if q is None or c is None:
        return "missing"
    if q == c:
        return "exact"
    if q.year == c.year and q.month == c.day and q.day == c.month:
        return "transposed"
    pairs = ((q.year, c.year, 4), (q.month, c.month, 2), (q.day, c.day, 2))
    differing = [(a, b, n) for a, b, n in pairs if a != b]
    # A year slip only in its last digit: tens-digit differences are Jr/Sr and parent/child.
    if len(differing) == 1 and _one_digit_slip(*differing[0]) and abs(q.year - c.year) < 10:
        return "close"  # one keying slip in one component
    return "disagree"


def _one_digit_slip(a: int, b: int, width: int) -> bool:
    x, y = f"{a:0{width}d}", f"{b:0{width}d}"
    diff = [i for i in range(width) if x[i] != y[i]]
    if len(diff) == 1:
        return True
    i, j = diff if len(diff) == 2 else (0, 0)
    return j == i + 1 and x[i] == y[j] and x[j] == y[i]


def _address_level(q: PreparedDemographics, c: PreparedDemographics, w: MatchWeights) -> str:
    if not q.street or not c.street:
        if q.zip5 and c.zip5:
            return "area" if q.zip5 == c.zip5 else "missing"
        return "missing"
    same_area = (q.zip5 and q.zip5 == c.zip5) or (q.city and q.city == c.city)
    if q.street == c.street:
        return "exact" if same_area or not (q.zip5 and c.zip5) else "close"
    if same_area and _jw(q.street, c.street) >= w.street_close:
        return "close"
    return "area" if same_area else "disagree"


def _simple_level(q: object, c: object, *, agree: bool) -> str:
    if not q or not c:
        return "missing"
    return "agree" if agree else "disagree"


def _levels(
    query: PreparedDemographics, candidate: PreparedDemographics, weights: MatchWeights
) -> tuple[tuple[str, str], ...]:
    given = _given_level(query, candidate, weights)
    family = _family_level(query, candidate, weights)
    if given == family == "disagree" and _is_swapped(query, candidate, weights):
        given = family = "swapped"
    sex_agrees = query.sex == candidate.sex
    if given in ("close", "initial", "nickname") and query.sex and candidate.sex and not sex_agrees:
        given = "disagree"  # Carl/Carol, Daniel/Danielle: opposite-sex twins are not typos
    levels = (
        ("identifier", _identifier_level(query, candidate)),
        ("given", given),
        ("family", family),
        ("birth_date", _date_level(query.birth_date, candidate.birth_date)),
        ("sex", _simple_level(query.sex, candidate.sex, agree=sex_agrees)),
        ("address", _address_level(query, candidate, weights)),
        (
            "telecom",
            _simple_level(
                query.phones, candidate.phones, agree=bool(query.phones & candidate.phones)
            ),
        ),
        (
            "mothers_maiden_name",
            _simple_level(
                query.mothers_maiden_name,
                candidate.mothers_maiden_name,
                agree=query.mothers_maiden_name == candidate.mothers_maiden_name,
            ),
        ),
    )
    return levels


def score(
    query: PreparedDemographics,
    candidate: PreparedDemographics,
    weights: MatchWeights = DEFAULT_WEIGHTS,
) -> ScoreExplanation:
    """Compare two prepared records field by field.

    Symmetric: ``score(a, b).total == score(b, a).total``.

    Args:
        query: the prepared query demographics.
        candidate: a prepared candidate from the index.
        weights: per-field level weights.

    Returns:
        The total weight and one :class:`FieldScore` per field.
    """
    levels = _levels(query, candidate, weights)
    fields = tuple(FieldScore(name, level, weights.weight(name, level)) for name, level in levels)
    return ScoreExplanation(sum(f.weight for f in fields), fields)


def score_total(
    query: PreparedDemographics,
    candidate: PreparedDemographics,
    weights: MatchWeights = DEFAULT_WEIGHTS,
) -> float:
    """``score(query, candidate, weights).total`` without building the explanation (the
    decision scores every candidate but explains only the best)."""
    g = _flat(weights).get
    i, gv, fa, bd, sx, ad, te, mm = _levels(query, candidate, weights)
    # Added in the order ``score`` sums them: the same float, bit for bit.
    return (g(i, 0.0) + g(gv, 0.0) + g(fa, 0.0) + g(bd, 0.0) + g(sx, 0.0) + g(ad, 0.0)
            + g(te, 0.0) + g(mm, 0.0))


_FLAT: dict[int, tuple[Mapping[str, Mapping[str, float]], dict[tuple[str, str], float]]] = {}


def _flat(weights: MatchWeights) -> dict[tuple[str, str], float]:
    """``{(field, level): weight}`` for one weights table (one lookup per field, not two)."""
    cached = _FLAT.get(id(weights.levels))
    if cached is not None and cached[0] is weights.levels:
        return cached[1]
    flat = {(f, lv): w for f, levels in weights.levels.items() for lv, w in levels.items()}
    if len(_FLAT) > 64:
        _FLAT.clear()
    _FLAT[id(weights.levels)] = (weights.levels, flat)
    return flat
