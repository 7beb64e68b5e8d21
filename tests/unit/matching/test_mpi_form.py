"""The index's stored match form decodes to exactly what ``prepare`` gives, and the fast
total the decision uses equals the explained score."""

from __future__ import annotations

import datetime as dt

import pytest

from imx.matching import decide, prepare, score
from imx.matching.mpi_form import (
    decode_match_form,
    encode_match_form,
    index_entry,
    to_demographics,
)
from imx.matching.population import generate_population, generate_queries
from imx.matching.score import score_total
from imx.model.identifiers import PatientId
from imx.model.mpi import MpiPatient
from imx.model.patient_discovery import Address, PatientDemographics, PersonName

POPULATION = generate_population(400, seed=11)


def test_match_form_round_trips() -> None:
    for person in POPULATION:
        prepared = prepare(person.demographics)
        assert decode_match_form(encode_match_form(prepared)) == prepared


def test_index_entry_counts_our_id_and_keeps_odd_characters_out_of_the_separators() -> None:
    entry = MpiPatient(
        patient_id=PatientId(id="A\x1eB", assigning_authority="1.2.3"),
        demographics=PatientDemographics(
            names=(PersonName(given=("José",), family="O'Néil-Ruiz"),),
            birth_date=dt.date(1980, 2, 5), gender="UN",
            addresses=(Address(postal_code="02139-1234"),)))
    form, keys = index_entry(entry)
    p = decode_match_form(form)
    assert p.first == "JOSE" and p.family_parts == ("ONEIL", "RUIZ") and p.sex == ""
    assert p.identifiers == {("1.2.3", "AB")}
    assert {"dob:1980-02-05", "dob:1980-05-02", "gz:J:02139", "id:1.2.3:A\x1eB"} <= keys
    assert to_demographics(entry).identifiers == (("1.2.3", "A\x1eB"),)
    with pytest.raises(ValueError, match="version"):
        decode_match_form("0" + form[1:])


def test_fast_total_equals_the_explained_score_and_decisions_are_unchanged() -> None:
    records = [(p.key, prepare(p.demographics)) for p in POPULATION]
    for q in generate_queries(POPULATION, 25, seed=12):
        qp = prepare(q.demographics)
        for _, c in records[:40]:
            assert score_total(qp, c) == score(qp, c).total
        decision = decide(qp, records)
        if decision.explanation is not None:
            best = max(score(qp, c).total for _, c in records)
            assert decision.explanation.total == best
