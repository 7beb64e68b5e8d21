"""A deterministic synthetic population and query variants with ground truth (tests, bench).

Names are drawn with a Zipf-like skew so common names collide; households share a surname,
street address and phone; families bring twins, siblings and Jr/Sr pairs. Queries are
realistic variants of indexed people (typos, nicknames, swapped day/month, missing fields,
marriage, moves, hyphenation, name order) plus true negatives, many of them near misses
(an unindexed twin, sibling or Jr/Sr of an indexed person).
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, replace
from itertools import accumulate

from imx.matching._names import CITIES, FAMILY, FEMALE, MALE, STREET_TYPES, STREETS
from imx.matching.model import SSN_ROOT, Demographics
from imx.matching.normalise import _nickname_table, fold, nickname_groups

__all__ = ["Person", "Query", "generate_population", "generate_queries"]

_FAMILY = tuple(f for f in FAMILY if f[0].isupper())
_NICKNAMES: dict[str, list[str]] = {}


@dataclass(frozen=True, slots=True)
class Person:
    """An indexed person: its key, demographics and household (for near-miss negatives)."""

    key: int
    demographics: Demographics
    household: int


@dataclass(frozen=True, slots=True)
class Query:
    """A query with its ground truth (``expected`` is ``None`` for a true negative)."""

    demographics: Demographics
    expected: int | None
    kind: str


class _Draw:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._cum = {
            id(seq): list(accumulate(1 / (i + 3) for i in range(len(seq))))
            for seq in (MALE, FEMALE, _FAMILY)
        }

    def skewed(self, seq: tuple[str, ...]) -> str:
        return self.rng.choices(seq, cum_weights=self._cum[id(seq)])[0]

    def given(self, sex: str) -> str:
        return self.skewed(MALE if sex == "M" else FEMALE)

    def phone(self) -> str:
        return f"tel:+1-{self.rng.randint(201, 989)}-555-{self.rng.randint(0, 9999):04d}"

    def address(self) -> tuple[tuple[str, ...], str, str, str]:
        rng = self.rng
        city_index = rng.randrange(len(CITIES))
        city, state = CITIES[city_index]
        zip5 = f"{10000 + city_index * 4000 + rng.randrange(300):05d}"
        street = f"{rng.randint(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
        return (street,), city, state, zip5

    def birth_date(self, year: int) -> dt.date:
        return dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))


def _household(draw: _Draw, hid: int, start: int, today_year: int) -> list[Person]:
    rng = draw.rng
    family = draw.skewed(_FAMILY)
    lines, city, state, zip5 = draw.address()
    phone = draw.phone()
    base = Demographics(
        family_name=family,
        address_lines=lines,
        city=city,
        state=state,
        postal_code=zip5,
        telecom=(phone,),
    )
    people: list[Demographics] = []
    parent_year = rng.randint(today_year - 85, today_year - 20)
    father = draw.given("M")
    for sex in ("M", "F")[: rng.choice((1, 2, 2))]:
        given = father if sex == "M" else draw.given("F")
        born = draw.birth_date(parent_year + rng.randint(-3, 3))
        people.append(replace(base, given_names=(given,), sex=sex, birth_date=born))
    child_year = parent_year + rng.randint(20, 38)
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        if child_year > today_year - 1:
            break
        sex = rng.choice("MF")
        given = father if sex == "M" and rng.random() < 0.06 else draw.given(sex)  # Jr
        born = draw.birth_date(child_year)
        people.append(replace(base, given_names=(given,), sex=sex, birth_date=born))
        if rng.random() < 0.04:  # twin: same birth date, other given name, maybe other sex
            tsex = rng.choice("MF")
            twin = draw.given(tsex)
            if not _same_name(twin, given):
                people.append(replace(people[-1], given_names=(twin,), sex=tsex))
        child_year += rng.randint(1, 4)
    out = []
    for offset, demo in enumerate(people):
        ssn = f"{rng.randint(100, 899)}{rng.randint(10, 99)}{rng.randint(1000, 9999)}"
        ids = ((SSN_ROOT, ssn),) if rng.random() < 0.3 else ()
        middle = (rng.choice(string.ascii_uppercase),) if rng.random() < 0.3 else ()
        demo = replace(demo, identifiers=ids, given_names=demo.given_names + middle)
        out.append(Person(start + offset, demo, hid))
    return out


def generate_population(size: int, *, seed: int, today_year: int = 2025) -> list[Person]:
    """``size`` people in households, deterministic for a seed.

    Args:
        size: number of people.
        seed: random seed.
        today_year: the reference year for ages (no clock in the core).

    Returns:
        People keyed ``0..size-1``.
    """
    draw = _Draw(random.Random(seed))  # noqa: S311 - synthetic data, not crypto
    people: list[Person] = []
    hid = 0
    while len(people) < size:
        people.extend(_household(draw, hid, len(people), today_year))
        hid += 1
    return people[:size]


def _same_name(a: str, b: str) -> bool:
    return bool(
        nickname_groups(fold(a).replace(" ", "")) & nickname_groups(fold(b).replace(" ", ""))
    )


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.randrange(3)
    if op == 0:
        return text[:i] + text[i + 1 :]
    if op == 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeiourstnl") + text[i + 1 :]


def _nickname(given: str) -> str | None:
    if not _NICKNAMES:
        for name, formals in _nickname_table().items():
            for formal in formals:
                if name != formal:
                    _NICKNAMES.setdefault(formal, []).append(name.title())
    options = _NICKNAMES.get(fold(given).replace(" ", ""))
    return sorted(options)[0] if options else None


def _variant(kind: str, d: Demographics, draw: _Draw) -> Demographics | None:  # noqa: C901
    rng = draw.rng
    first = d.given_names[0]
    if kind == "exact":
        return d
    if kind == "typo_given":
        return replace(d, given_names=(_typo(rng, first),))
    if kind == "typo_family":
        return replace(d, family_name=_typo(rng, d.family_name))
    if kind == "typo_both":
        return replace(d, given_names=(_typo(rng, first),), family_name=_typo(rng, d.family_name))
    if kind == "nickname":
        nick = _nickname(first)
        return None if nick is None else replace(d, given_names=(nick,))
    if kind == "swapped_day_month":
        b = d.birth_date
        if b is None or b.day > 12 or b.day == b.month:
            return None
        return replace(d, birth_date=b.replace(month=b.day, day=b.month))
    if kind == "dob_typo":
        b = d.birth_date
        return None if b is None or b.day > 18 else replace(d, birth_date=b.replace(day=b.day + 10))
    if kind == "missing_fields":
        return replace(
            d,
            sex=rng.choice(("", d.sex)),
            address_lines=(),
            city="",
            state="",
            postal_code="",
            telecom=(),
            identifiers=(),
        )
    if kind == "married":
        if d.sex != "F":
            return None
        return replace(d, family_name=draw.skewed(_FAMILY), identifiers=())
    if kind == "moved":
        lines, city, state, zip5 = draw.address()
        return replace(
            d,
            address_lines=lines,
            city=city,
            state=state,
            postal_code=zip5,
            telecom=(draw.phone(),),
        )
    if kind == "hyphenated":
        return replace(d, family_name=f"{d.family_name}-{draw.skewed(_FAMILY)}")
    if kind == "name_order":
        return replace(d, given_names=(d.family_name,), family_name=first)
    if kind == "formatting":
        return replace(
            d,
            given_names=(first.upper(),),
            family_name=d.family_name.lower() + " ",
            address_lines=tuple(
                a.replace("Street", "St.").replace("Avenue", "Ave") for a in d.address_lines
            ),
        )
    raise ValueError(kind)


_POSITIVE_KINDS = (
    "exact",
    "typo_given",
    "typo_family",
    "typo_both",
    "nickname",
    "swapped_day_month",
    "dob_typo",
    "missing_fields",
    "married",
    "moved",
    "hyphenated",
    "name_order",
    "formatting",
)
_NEGATIVE_KINDS = (
    "stranger",
    "unindexed_twin",
    "unindexed_sibling",
    "unindexed_junior",
    "same_name_other_dob",
)


def _negative(kind: str, d: Demographics, draw: _Draw) -> Demographics:
    rng = draw.rng
    b = d.birth_date or dt.date(1970, 1, 1)
    other = draw.given(rng.choice("MF"))
    while _same_name(other, d.given_names[0]):
        other = draw.given(rng.choice("MF"))
    if kind == "stranger":
        lines, city, state, zip5 = draw.address()
        sex = rng.choice("MF")
        return Demographics(
            given_names=(draw.given(sex),),
            family_name=draw.skewed(_FAMILY),
            sex=sex,
            birth_date=draw.birth_date(rng.randint(1940, 2020)),
            address_lines=lines,
            city=city,
            state=state,
            postal_code=zip5,
            telecom=(draw.phone(),),
        )
    if kind == "unindexed_twin":
        return replace(d, given_names=(other,), identifiers=(), sex=rng.choice(("", "M", "F")))
    if kind == "unindexed_sibling":
        return replace(
            d,
            given_names=(other,),
            identifiers=(),
            birth_date=b + dt.timedelta(days=rng.choice((-1, 1)) * rng.randint(400, 2000)),
        )
    if kind == "unindexed_junior":
        return replace(
            d,
            identifiers=(),
            birth_date=b.replace(year=b.year + rng.randint(20, 35))
            if b.month != 2 or b.day != 29
            else b.replace(year=b.year + 28),
        )
    lines, city, state, zip5 = draw.address()
    return replace(
        d,
        identifiers=(),
        birth_date=draw.birth_date(b.year + rng.randint(-30, 30)),
        address_lines=lines,
        city=city,
        state=state,
        postal_code=zip5,
        telecom=(draw.phone(),),
    )


def generate_queries(
    people: list[Person],
    count: int,
    *,
    seed: int,
    negative_share: float = 0.2,
    compound_share: float = 0.3,
) -> list[Query]:
    """Queries for ``people`` with ground truth: variants of indexed people and true negatives.

    Negatives are people not in ``people`` (strangers, and unindexed twins, siblings, juniors
    or namesakes of indexed people). Twins/namesakes that do exist in the index are left as
    ordinary positives of the person they copy.

    Args:
        people: the indexed population.
        count: number of queries.
        seed: random seed (independent of the population's).
        negative_share: fraction of true negatives.
        compound_share: fraction of positive variants that get a second change.

    Returns:
        ``count`` queries.
    """
    draw = _Draw(random.Random(seed))  # noqa: S311 - synthetic data, not crypto
    rng = draw.rng
    taken = {
        (
            fold(" ".join(p.demographics.given_names[:1])),
            fold(p.demographics.family_name),
            p.demographics.birth_date,
        )
        for p in people
    }
    out: list[Query] = []
    while len(out) < count:
        person = rng.choice(people)
        if rng.random() < negative_share:
            kind = rng.choice(_NEGATIVE_KINDS)
            demo = _negative(kind, person.demographics, draw)
            ident = (fold(demo.given_names[0]), fold(demo.family_name), demo.birth_date)
            if ident not in taken:
                out.append(Query(demo, None, kind))
            continue
        kind = rng.choice(_POSITIVE_KINDS)
        variant = _variant(kind, person.demographics, draw)
        if variant is not None and kind != "exact" and rng.random() < compound_share:
            # Two changes at once (married and moved, nickname with missing fields...).
            second = rng.choice(_POSITIVE_KINDS[1:])
            twice = _variant(second, variant, draw) if second != kind else None
            variant, kind = (twice, f"{kind}+{second}") if twice else (variant, kind)
        if variant is not None:
            out.append(Query(variant, person.key, kind))
    return out
