"""Shared demographics for the matching tests (synthetic people)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from imx.matching import Demographics
from imx.matching.model import SSN_ROOT

ALICE = Demographics(
    given_names=("Alice", "M"),
    family_name="Martínez-López",
    birth_date=dt.date(1980, 4, 3),
    sex="F",
    address_lines=("12 North Main Street",),
    city="Springfield",
    state="IL",
    postal_code="62704-1234",
    telecom=("tel:+1-217-555-0100",),
    identifiers=((SSN_ROOT, "123456789"),),
)


@pytest.fixture
def alice() -> Demographics:
    return ALICE


def variant(**changes: object) -> Demographics:
    return replace(ALICE, **changes)  # type: ignore[arg-type]
