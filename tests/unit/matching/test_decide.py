from __future__ import annotations

import datetime as dt

from imx.matching import Demographics, MatchOutcome, MatchThresholds, decide, prepare

from .conftest import ALICE, variant

TWIN = variant(given_names=("Beatriz",), identifiers=())
SISTER = variant(given_names=("Carmen",), birth_date=dt.date(1983, 9, 1), identifiers=())
MOTHER = variant(given_names=("Alice",), birth_date=dt.date(1955, 4, 3), identifiers=())
HOUSEHOLD = [("alice", ALICE), ("twin", TWIN), ("sister", SISTER), ("mother", MOTHER)]


def test_exact_query_matches_with_explanation() -> None:
    decision = decide(variant(identifiers=()), HOUSEHOLD)
    assert decision.outcome is MatchOutcome.MATCH and decision.patient_key == "alice"
    assert decision.explanation is not None and decision.explanation.level("given") == "exact"
    assert decision.candidates_scored == 4
    record = decision.to_dict()
    assert record["outcome"] == "match" and record["explanation"]["total"] > 17


def test_typical_variants_match() -> None:
    variants = [
        variant(given_names=("Alcie",), identifiers=()),
        variant(birth_date=dt.date(1980, 3, 4), identifiers=()),
        variant(family_name="Martinez", identifiers=()),
        variant(family_name="Smith", identifiers=()),  # married, same address and phone
        variant(
            sex="",
            address_lines=(),
            postal_code="",
            telecom=(),
            identifiers=(),
            family_name="martinez lopez",
        ),
        variant(given_names=("Martínez-López",), family_name="Alice", identifiers=()),
    ]
    for query in variants:
        decision = decide(query, HOUSEHOLD)
        assert (decision.outcome, decision.patient_key) == (MatchOutcome.MATCH, "alice"), query


def test_twin_sibling_and_parent_namesake_are_not_matched() -> None:
    others = [("alice", ALICE)]
    for query in (TWIN, SISTER, MOTHER, variant(given_names=("Beatriz",), sex="M", identifiers=())):
        assert decide(query, others).outcome is not MatchOutcome.MATCH, query


def test_twin_query_picks_the_twin_not_alice() -> None:
    decision = decide(TWIN, HOUSEHOLD)
    assert decision.outcome is MatchOutcome.MATCH and decision.patient_key == "twin"


def test_conflicting_ssn_blocks_an_otherwise_exact_match() -> None:
    from imx.matching.model import SSN_ROOT

    query = variant(identifiers=((SSN_ROOT, "999999999"),))
    assert decide(query, [("alice", ALICE)]).outcome is MatchOutcome.NO_MATCH


def test_two_close_candidates_are_ambiguous() -> None:
    duplicate = variant(identifiers=(), telecom=("tel:+1-217-555-7777",))
    query = variant(identifiers=(), telecom=(), address_lines=(), postal_code="")
    decision = decide(query, [("a", variant(identifiers=())), ("b", duplicate)])
    assert decision.outcome is MatchOutcome.AMBIGUOUS
    assert decision.detected_issues == ("AnswerNotAvailable",)
    assert decision.patient_key is None


def test_borderline_asks_for_the_missing_demographics() -> None:
    # Nickname-ish first initial and transposed birth date: not enough alone.
    query = Demographics(
        given_names=("A",), family_name="Martinez-Lopez", birth_date=dt.date(1980, 3, 4), sex="F"
    )
    decision = decide(query, [("alice", ALICE)])
    assert decision.outcome is MatchOutcome.NEED_MORE, decision.to_dict()
    assert "PatientAddressRequested" in decision.detected_issues
    assert "PatientTelecomRequested" in decision.detected_issues
    full = variant(given_names=("A",), birth_date=dt.date(1980, 3, 4), identifiers=())
    assert decide(full, [("alice", ALICE)]).outcome is MatchOutcome.MATCH


def test_borderline_without_sex_requests_gender() -> None:
    query = variant(
        given_names=("A",), sex="", identifiers=(), birth_date=dt.date(1980, 3, 4), telecom=()
    )
    thresholds = MatchThresholds(match=17.5, review=10.0)
    decision = decide(query, [("alice", ALICE)], thresholds)
    assert decision.outcome is MatchOutcome.NEED_MORE
    assert "LivingSubjectAdministrativeGenderRequested" in decision.detected_issues


def test_no_candidates_and_low_scores_are_no_match() -> None:
    assert decide(ALICE, []).outcome is MatchOutcome.NO_MATCH
    stranger = Demographics(
        given_names=("Zed",), family_name="Quux", birth_date=dt.date(2001, 1, 1)
    )
    decision = decide(stranger, [("alice", ALICE)])
    assert decision.outcome is MatchOutcome.NO_MATCH and decision.detected_issues == ()


def test_prepared_inputs_are_accepted() -> None:
    decision = decide(prepare(ALICE), [("alice", prepare(ALICE))])
    assert decision.patient_key == "alice"
