from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from imx.matching import Demographics, MatchOutcome, decide, prepare, score
from imx.matching.score import DEFAULT_WEIGHTS

_names = st.sampled_from(
    [
        "Alice",
        "Alcie",
        "Bob",
        "Robert",
        "Bill",
        "William",
        "Mary",
        "Mark",
        "José",
        "Jose",
        "A",
        "",
        "Smith",
        "Smyth",
        "García-López",
    ]
)
demographics = st.builds(
    Demographics,
    given_names=st.tuples(_names),
    family_name=_names,
    birth_date=st.one_of(st.none(), st.dates(dt.date(1950, 1, 1), dt.date(2000, 12, 31))),
    sex=st.sampled_from(["", "M", "F", "UN"]),
    address_lines=st.sampled_from([(), ("1 Main St",), ("1 Main Street",), ("9 Elm Rd",)]),
    postal_code=st.sampled_from(["", "62704", "10001"]),
    telecom=st.sampled_from([(), ("555-0100",), ("tel:+1-555-555-0199",)]),
    identifiers=st.sampled_from(
        [(), (("2.16.840.1.113883.4.1", "1"),), (("2.16.840.1.113883.4.1", "2"),)]
    ),
)

_BOUND = sum(max(map(abs, levels.values())) for levels in DEFAULT_WEIGHTS.levels.values())


@settings(max_examples=300, deadline=None)
@given(demographics, demographics)
def test_score_is_symmetric_and_bounded(a: Demographics, b: Demographics) -> None:
    ab, ba = score(prepare(a), prepare(b)), score(prepare(b), prepare(a))
    assert ab.total == ba.total
    assert [f.level for f in ab.fields] == [f.level for f in ba.fields]
    assert -_BOUND <= ab.total <= _BOUND


@settings(max_examples=200, deadline=None)
@given(demographics)
def test_self_score_is_never_negative(a: Demographics) -> None:
    assert score(prepare(a), prepare(a)).total >= 0


@settings(max_examples=100, deadline=None)
@given(demographics, st.lists(demographics, max_size=4))
def test_match_only_for_a_candidate_and_above_threshold(
    q: Demographics, cands: list[Demographics]
) -> None:
    decision = decide(q, list(enumerate(cands)))
    if decision.outcome is MatchOutcome.MATCH:
        assert decision.patient_key in range(len(cands))
        assert decision.explanation is not None and decision.explanation.total >= 17
    else:
        assert decision.patient_key is None
