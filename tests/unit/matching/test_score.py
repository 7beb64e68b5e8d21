from __future__ import annotations

import datetime as dt

import pytest

from imx.matching import Demographics, MatchWeights, prepare, score
from imx.matching.model import SSN_ROOT

from .conftest import ALICE, variant


def level(query: Demographics, field: str, candidate: Demographics = ALICE) -> str:
    return score(prepare(query), prepare(candidate)).level(field)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("Alice",), "exact"),
        (("ALICE",), "exact"),
        (("Alcie",), "close"),
        (("A",), "initial"),
        (("Bob",), "disagree"),
        ((), "missing"),
    ],
)
def test_given_levels(given: tuple[str, ...], expected: str) -> None:
    assert level(variant(given_names=given), "given") == expected


def test_nickname_level() -> None:
    william = variant(given_names=("William",), sex="M")
    assert level(variant(given_names=("Bill",), sex="M"), "given", william) == "nickname"


def test_two_known_names_one_letter_apart_are_different_people() -> None:
    mary = variant(given_names=("Mary",), sex="")
    assert level(mary, "given", variant(given_names=("Mark",), sex="")) == "disagree"


def test_opposite_sex_voids_a_close_given_name() -> None:
    carl = variant(given_names=("Carll",), sex="M")
    assert level(carl, "given", variant(given_names=("Carl",), sex="F")) == "disagree"


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("Martinez-Lopez", "exact"),
        ("Martinez", "partial"),
        ("Lopez", "partial"),
        ("Martinezlopes", "close"),
        ("Jones", "disagree"),
        ("", "missing"),
    ],
)
def test_family_levels(family: str, expected: str) -> None:
    assert level(variant(family_name=family), "family") == expected


def test_name_order_swap() -> None:
    swapped = variant(given_names=("Martinez-Lopez",), family_name="Alice")
    result = score(prepare(swapped), prepare(ALICE))
    assert result.level("given") == result.level("family") == "swapped"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (dt.date(1980, 4, 3), "exact"),
        (dt.date(1980, 3, 4), "transposed"),
        (dt.date(1980, 4, 13), "close"),
        (dt.date(1981, 4, 3), "close"),
        (dt.date(2005, 4, 3), "disagree"),
        (dt.date(1990, 4, 3), "disagree"),
        (dt.date(1975, 9, 30), "disagree"),
        (None, "missing"),
    ],
)
def test_birth_date_levels(date: dt.date | None, expected: str) -> None:
    assert level(variant(birth_date=date), "birth_date") == expected


@pytest.mark.parametrize(
    ("sex", "expected"), [("F", "agree"), ("M", "disagree"), ("", "missing"), ("UN", "missing")]
)
def test_sex_levels(sex: str, expected: str) -> None:
    assert level(variant(sex=sex), "sex") == expected


@pytest.mark.parametrize(
    ("lines", "zip_code", "expected"),
    [
        (("12 N. Main St.",), "62704", "exact"),
        (("12 North Mian Street",), "62704", "close"),
        (("99 Elm Road",), "62704", "area"),
        (("99 Elm Road",), "10001", "disagree"),
        ((), "62704", "area"),
        ((), "", "missing"),
    ],
)
def test_address_levels(lines: tuple[str, ...], zip_code: str, expected: str) -> None:
    assert level(variant(address_lines=lines, postal_code=zip_code, city=""), "address") == expected


def test_telecom_levels() -> None:
    assert level(variant(telecom=("(217) 555-0100",)), "telecom") == "agree"
    assert level(variant(telecom=("tel:+1-217-555-9999",)), "telecom") == "disagree"
    assert level(variant(telecom=("mailto:x@y.org",)), "telecom") == "missing"


def test_identifiers_same_root_is_strong_and_conflicting_ssn_stronger_against() -> None:
    agree = score(prepare(ALICE), prepare(ALICE))
    assert agree.level("identifier") == "agree"
    other_ssn = variant(identifiers=((SSN_ROOT, "987654321"),))
    conflict = score(prepare(other_ssn), prepare(ALICE))
    assert conflict.level("identifier") == "conflict_ssn"
    assert agree.total - conflict.total >= 30
    other_root = variant(identifiers=(("1.2.3", "X1"),))
    assert level(other_root, "identifier") == "missing"
    mrn = variant(identifiers=(("1.2.3", "X1"),))
    assert level(variant(identifiers=(("1.2.3", "X2"),)), "identifier", mrn) == "conflict"


def test_mothers_maiden_name() -> None:
    mother = variant(mothers_maiden_name="O'Brien")
    assert level(variant(mothers_maiden_name="OBrien"), "mothers_maiden_name", mother) == "agree"
    assert level(variant(mothers_maiden_name="Kelly"), "mothers_maiden_name", mother) == "disagree"


def test_explanation_is_serialisable_and_has_no_values() -> None:
    explanation = score(prepare(variant(given_names=("Alcie",))), prepare(ALICE))
    as_dict = explanation.to_dict()
    assert set(as_dict["fields"]) == {
        "identifier",
        "given",
        "family",
        "birth_date",
        "sex",
        "address",
        "telecom",
        "mothers_maiden_name",
    }
    assert as_dict["fields"]["given"] == {"level": "close", "weight": 4.0}
    assert as_dict["total"] == pytest.approx(sum(f.weight for f in explanation.fields))
    text = repr(as_dict).upper()
    assert "ALICE" not in text and "ALCIE" not in text and "1980" not in text


def test_weights_are_configurable() -> None:
    heavy = MatchWeights(levels={"sex": {"agree": 10.0}})
    result = score(prepare(ALICE), prepare(ALICE), heavy)
    assert result.total == 10.0
    assert heavy.weight("given", "exact") == 0.0
