from __future__ import annotations

from collections import Counter

from imx.matching import MatchOutcome, decide, prepare
from imx.matching.blocking import blocking_keys_prepared
from imx.matching.population import generate_population, generate_queries


def test_population_is_deterministic_and_has_families() -> None:
    a = generate_population(2000, seed=5)
    assert a == generate_population(2000, seed=5)
    assert a != generate_population(2000, seed=6)
    households = Counter(p.household for p in a)
    assert max(households.values()) >= 3
    dobs = Counter((p.household, p.demographics.birth_date) for p in a)
    assert any(n >= 2 for n in dobs.values())  # twins exist


def test_queries_cover_variants_and_negatives() -> None:
    people = generate_population(2000, seed=5)
    queries = generate_queries(people, 1000, seed=9)
    kinds = Counter(q.kind for q in queries)
    assert {"nickname", "married", "swapped_day_month", "unindexed_twin", "stranger"} <= set(kinds)
    assert 0.1 < sum(q.expected is None for q in queries) / len(queries) < 0.3


def test_small_end_to_end_precision() -> None:
    people = generate_population(3000, seed=11)
    records = {p.key: prepare(p.demographics) for p in people}
    blocks: dict[str, list[int]] = {}
    for key, rec in records.items():
        for b in blocking_keys_prepared(rec):
            blocks.setdefault(b, []).append(key)
    wrong = right = 0
    for q in generate_queries(people, 400, seed=12):
        p = prepare(q.demographics)
        keys = {k for b in blocking_keys_prepared(p) for k in blocks.get(b, ())}
        d = decide(p, [(k, records[k]) for k in keys])
        if d.outcome is MatchOutcome.MATCH:
            right += d.patient_key == q.expected
            wrong += d.patient_key != q.expected
    assert wrong == 0 and right > 250
