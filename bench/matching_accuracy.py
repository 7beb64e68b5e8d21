"""Patient-matching accuracy: precision/recall of imx.matching on a generated population.

    python -m bench.matching_accuracy [--people 100000] [--queries 10000]

Builds an in-memory blocking index (blocking key -> patient keys) over a seeded population,
runs variant and true-negative queries (imx.matching.population) through ``decide`` and
reports precision, recall, error counts per variant kind, and the scoring time per query
(candidate lookup + scoring + decision, excluding XML and DB). Runs the tuning seed and a
held-out seed, and writes the "Patient matching" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import time
from collections.abc import Hashable, Iterable
from typing import Any

from imx.matching import MatchOutcome, PreparedDemographics, decide, prepare
from imx.matching.blocking import blocking_keys_prepared
from imx.matching.population import Person, Query, generate_population, generate_queries

TUNING_SEED = 1
HELD_OUT_SEED = 7


class Index:
    """In-memory blocking index: key -> patient keys, plus the prepared records."""

    def __init__(self, people: Iterable[Person]) -> None:
        self.records: dict[int, PreparedDemographics] = {}
        self.blocks: dict[str, list[int]] = collections.defaultdict(list)
        for person in people:
            prepared = prepare(person.demographics)
            self.records[person.key] = prepared
            for key in blocking_keys_prepared(prepared):
                self.blocks[key].append(person.key)

    def candidates(
        self, query: PreparedDemographics
    ) -> list[tuple[Hashable, PreparedDemographics]]:
        keys: set[int] = set()
        for block in blocking_keys_prepared(query):
            keys.update(self.blocks.get(block, ()))
        return [(k, self.records[k]) for k in keys]


def run(people: int, queries: int, seed: int, compound_share: float = 0.1) -> dict[str, Any]:
    population = generate_population(people, seed=seed)
    index = Index(population)
    qs: list[Query] = generate_queries(
        population, queries, seed=seed + 1000, compound_share=compound_share
    )
    counts: collections.Counter[str] = collections.Counter()
    errors: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    times_ms: list[float] = []
    n_candidates: list[int] = []
    for q in qs:
        start = time.perf_counter()
        prepared = prepare(q.demographics)
        cands = index.candidates(prepared)
        decision = decide(prepared, cands)
        times_ms.append((time.perf_counter() - start) * 1000)
        n_candidates.append(len(cands))
        matched = decision.outcome is MatchOutcome.MATCH
        if q.expected is None:
            outcome = "false_positive" if matched else "true_negative"
        elif matched:
            outcome = "true_positive" if decision.patient_key == q.expected else "wrong_person"
        else:
            outcome = f"missed_{decision.outcome.value}"
            if not any(k == q.expected for k, _ in cands):
                outcome = "missed_not_blocked"
        counts[outcome] += 1
        if outcome not in ("true_positive", "true_negative"):
            errors[q.kind][outcome] += 1
    tp, fp = counts["true_positive"], counts["false_positive"] + counts["wrong_person"]
    positives = sum(1 for q in qs if q.expected is not None)
    times_ms.sort()
    return {
        "seed": seed,
        "compound_share": compound_share,
        "people": people,
        "queries": queries,
        "positives": positives,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / positives if positives else 1.0,
        "counts": dict(counts),
        "errors_by_kind": {k: dict(v) for k, v in sorted(errors.items())},
        "ms_per_query_mean": statistics.fmean(times_ms),
        "ms_per_query_p99": times_ms[int(len(times_ms) * 0.99)],
        "candidates_mean": statistics.fmean(n_candidates),
        "candidates_max": max(n_candidates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="*", default=[TUNING_SEED, HELD_OUT_SEED])
    args = parser.parse_args()
    results = [run(args.people, args.queries, seed) for seed in args.seeds]
    # A harder mix: 30 % of positive queries carry two changes at once.
    results += [run(args.people, args.queries, seed, compound_share=0.3) for seed in args.seeds]
    print(json.dumps(results, indent=2))
    from bench.matching_report import save_and_render

    save_and_render("matching_accuracy", results)


if __name__ == "__main__":
    main()
