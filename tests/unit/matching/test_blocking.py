from __future__ import annotations

import datetime as dt

from imx.matching import Demographics, blocking_keys, prepare

from .conftest import variant


def test_keys_cover_each_axis(alice: Demographics) -> None:
    keys = blocking_keys(alice)
    assert {"dob:1980-04-03", "dob:1980-03-04", "gz:A:62704", "tel:2175550100"} <= keys
    assert any(k.startswith("fym:") and k.endswith(":1980:04") for k in keys)
    assert any(k.startswith("fmd:") and k.endswith(":04:03") for k in keys)
    assert any(k.startswith("id:") for k in keys)
    assert blocking_keys(prepare(alice)) == keys


def test_swapped_day_month_shares_a_key(alice: Demographics) -> None:
    swapped = variant(birth_date=dt.date(1980, 3, 4))
    assert "dob:1980-04-03" in blocking_keys(swapped)


def test_changed_surname_and_moved_still_blocks_on_birth_date(alice: Demographics) -> None:
    married = variant(family_name="Jones", address_lines=(), postal_code="", telecom=())
    assert blocking_keys(married) & blocking_keys(alice)


def test_typo_in_birth_date_blocks_on_name_sound(alice: Demographics) -> None:
    typo = variant(birth_date=dt.date(1980, 4, 13), telecom=(), postal_code="")
    assert blocking_keys(typo) & blocking_keys(alice)


def test_empty_demographics_have_no_keys() -> None:
    assert blocking_keys(Demographics()) == set()
