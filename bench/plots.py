"""Figures for docs/benchmarks.md, drawn from bench/results/*.json (matplotlib, headless).

Each figure is drawn only when its results exist; ``make bench`` calls ``draw_all`` after the
benchmarks and links the PNGs from the generated block.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.common import RESULTS, ROOT

IMAGES = ROOT / "docs" / "images"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _save(fig: Any, name: str) -> Path:
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / f"bench-{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fanout() -> Path | None:
    r = _load("fanout")
    if r is None or "scenarios" not in r:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels, totals, slowest = [], [], []
    for name, sc in r["scenarios"].items():
        for i, run in enumerate(sc["runs"], 1):
            labels.append(f"{name} {i}")
            totals.append(run["total_s"])
            slowest.append(run["slowest_success_s"])
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], slowest, 0.4, label="slowest successful answer")
    ax.bar([i + 0.2 for i in x], totals, 0.4, label="whole fan-out")
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("seconds")
    ax.set_title(f"XCPD fan-out to {r['communities']} communities (5 failing)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, "fanout")


def e2e_retrieve() -> Path | None:
    runs = sorted(RESULTS.glob("e2e_retrieve_*gb.json"))
    if not runs:
        return None
    r = json.loads(runs[-1].read_text())
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.bar(
        ["imx A <- B\n(mTLS + XUA, stored)", "raw loopback\n(socket)"],
        [r["e2e_mb_per_s"], r["raw_loopback_mb_per_s"]],
        color=["tab:blue", "tab:gray"],
    )
    left.set_yscale("log")
    left.set_ylabel("MB/s (log)")
    left.set_title(f"{r['study_mb']} MB study")
    right.bar(
        ["initiator", "responder"], [r["initiator_rss_peak_mib"], r["responder_rss_peak_mib"]]
    )
    right.axhline(200, color="tab:red", linestyle="--", label="target 200 MB")
    right.set_ylabel("peak RSS MiB")
    right.legend(fontsize=8)
    return _save(fig, "e2e-retrieve")


def matching() -> Path | None:
    r = _load("matching_accuracy")
    rows = (r or {}).get("runs") or (r or {}).get("results")
    if not rows or not isinstance(rows, list):
        return None
    fig, ax = plt.subplots(figsize=(6, 3))
    labels = [
        f"seed {x.get('seed')}\n{round(100 * x.get('compound_share', 0))}% two changes"
        for x in rows
    ]
    x = range(len(rows))
    ax.plot(x, [row.get("precision") for row in rows], "o", label="precision")
    ax.plot(x, [row.get("recall") for row in rows], "s", label="recall")
    ax.set_xticks(list(x), labels)
    ax.axhline(0.999, color="tab:blue", linestyle=":", linewidth=1)
    ax.axhline(0.97, color="tab:orange", linestyle=":", linewidth=1)
    ax.set_ylim(0.9, 1.001)
    ax.set_title("Patient matching on 100,000 generated people")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return _save(fig, "matching")


def draw_all() -> list[Path]:
    return [p for p in (fanout(), e2e_retrieve(), matching()) if p is not None]


if __name__ == "__main__":
    for p in draw_all():
        print(p.relative_to(ROOT))
