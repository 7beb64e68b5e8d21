from __future__ import annotations

import pytest

from imx.matching import Demographics, prepare
from imx.matching.normalise import (
    fold,
    is_known_given,
    name_tokens,
    nickname_groups,
    normalise_family,
    normalise_phone,
    normalise_street,
    normalise_zip,
)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("José", "JOSE"),
        ("  o'NEIL ", "ONEIL"),
        ("Müller", "MULLER"),
        ("Straße", "STRASSE"),
        ("Łukasz", "LUKASZ"),
        ("Zoë Chloé", "ZOE CHLOE"),
        ("Smith, Jr.", "SMITH JR"),
    ],
)
def test_fold_accents_case_punctuation(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_name_tokens_drop_generational_suffixes() -> None:
    assert name_tokens("Smith Jr.") == ("SMITH",)
    assert name_tokens("King III") == ("KING",)


def test_hyphenated_family_kept_joined_and_split() -> None:
    assert normalise_family("García-López") == ("GARCIALOPEZ", ("GARCIA", "LOPEZ"))
    assert normalise_family("De la Cruz") == ("DELACRUZ", ("DE", "LA", "CRUZ"))


def test_nicknames_map_to_formal_names() -> None:
    assert "WILLIAM" in nickname_groups("BILL")
    assert nickname_groups("PEGGY") & nickname_groups("MARGARET")
    assert not nickname_groups("BILL") & nickname_groups("ROBERT")
    assert nickname_groups("ZZYZX") == frozenset({"ZZYZX"})


def test_known_given_names() -> None:
    assert is_known_given("MARY") and is_known_given("MARK")
    assert not is_known_given("MRAY")


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("tel:+1-217-555-0100", "2175550100"),
        ("(217) 555 0100", "2175550100"),
        ("mailto:a@b.org", ""),
        ("12", ""),
    ],
)
def test_phone_digits(raw: str, digits: str) -> None:
    assert normalise_phone(raw) == digits


@pytest.mark.parametrize(
    ("raw", "zip5"), [("62704-1234", "62704"), ("627041234", "62704"), ("SW1A 1AA", "SW1A1AA")]
)
def test_zip5(raw: str, zip5: str) -> None:
    assert normalise_zip(raw) == zip5


def test_street_abbreviations() -> None:
    assert normalise_street("12 North Main Street") == "12 N MAIN ST"
    assert normalise_street("12 N. Main St.") == "12 N MAIN ST"
    assert normalise_street("5 Oak Avenue Apartment 3") == "5 OAK AVE APT 3"


def test_prepare_all_fields(alice: Demographics) -> None:
    p = prepare(alice)
    assert p.first == "ALICE" and p.given == ("ALICE", "M")
    assert p.family == "MARTINEZLOPEZ" and p.family_parts == ("MARTINEZ", "LOPEZ")
    assert p.zip5 == "62704" and p.street == "12 N MAIN ST"
    assert p.phones == {"2175550100"} and p.sex == "F"


def test_prepare_hyphenated_given_is_one_name_and_unknown_sex_dropped() -> None:
    p = prepare(Demographics(given_names=("Jae-won",), family_name="Park", sex="UN"))
    assert p.first == "JAEWON" and p.sex == ""
