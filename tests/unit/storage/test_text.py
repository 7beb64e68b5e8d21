"""Name folding and DICOM wildcard → LIKE translation (PS3.4 C.2.2.2.4)."""

from __future__ import annotations

import datetime as dt

import pytest

from imx.storage.clock import SystemClock
from imx.storage.text import fold, wildcard_to_like
from tests.fakes import FakeClock


@pytest.mark.parametrize(
    "pattern, like",
    [
        ("DOE*", "DOE%"),
        ("D?E", "D_E"),
        ("A_1", "A\\_1"),
        ("100%", "100\\%"),
        ("a\\b*", "a\\\\b%"),
        ("", ""),
    ],
)
def test_wildcard_to_like_escapes_like_metacharacters(pattern: str, like: str) -> None:
    assert wildcard_to_like(pattern) == like


def test_fold_removes_case_and_accents() -> None:
    assert fold("Ó Briain^Zoë") == "O BRIAIN^ZOE"
    assert fold("Müller-Lüdenscheidt") == "MULLER-LUDENSCHEIDT"


def test_clocks_are_timezone_aware() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    fake = FakeClock()
    before = fake.now()
    fake.advance(90)
    assert fake.now() - before == dt.timedelta(seconds=90) and fake.now().tzinfo is not None
