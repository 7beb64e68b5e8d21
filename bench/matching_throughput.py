"""Patient-matching throughput with 1,000,000 people in an in-memory blocking index.

    python -m bench.matching_throughput [--people 1000000] [--queries 20000]

One process (one core): per query normalise, look up the blocks, score every candidate and
decide. Reports queries/s and latency percentiles. A real ITI-55 also parses the XML, checks
SAML, reads candidates from the database and audits; those costs are not included.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time

from bench.matching_accuracy import Index
from imx.matching import decide, prepare
from imx.matching.population import generate_population, generate_queries


def run(people: int, queries: int, seed: int = 3) -> dict[str, float | int]:
    start = time.perf_counter()
    population = generate_population(people, seed=seed)
    index = Index(population)
    build_s = time.perf_counter() - start
    qs = [q.demographics for q in generate_queries(population, queries, seed=seed + 1000)]
    del population
    gc.collect()
    gc.freeze()  # the index is long-lived: keep the collector from rescanning it
    latencies: list[float] = []
    n_candidates: list[int] = []
    begin = time.perf_counter()
    for q in qs:
        t0 = time.perf_counter()
        prepared = prepare(q)
        cands = index.candidates(prepared)
        decide(prepared, cands)
        latencies.append((time.perf_counter() - t0) * 1000)
        n_candidates.append(len(cands))
    total_s = time.perf_counter() - begin
    latencies.sort()
    return {
        "people": people,
        "queries": queries,
        "build_s": build_s,
        "queries_per_s": queries / total_s,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "max_ms": latencies[-1],
        "candidates_mean": statistics.fmean(n_candidates),
        "candidates_max": max(n_candidates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args()
    results = [run(args.people, args.queries)]
    print(json.dumps(results, indent=2))
    from bench.matching_report import save_and_render

    save_and_render("matching_throughput", results)


if __name__ == "__main__":
    main()
