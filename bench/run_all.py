"""Run every benchmark and rewrite docs/benchmarks.md from their results (`make bench`).

    python -m bench.run_all            # run all benchmarks, then render
    python -m bench.run_all --render   # only re-render docs/benchmarks.md from bench/results/

Each benchmark saves ``bench/results/<name>.json`` (with the machine and time). The rendered
file keeps anything outside ``<!-- bench:start -->`` / ``<!-- bench:end -->`` untouched, so
hand-written notes and sections other benchmarks own survive a re-run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.common import RESULTS, ROOT
from bench.plots import draw_all

# Run in this order. Benchmarks other engineers own run after these when present; the
# matching ones render their own "Patient matching" section (bench/matching_report.py).
BENCHES = ["bench.ingest_vs_orthanc", "bench.wado_vs_orthanc", "bench.profile_ingest"]
OTHER_BENCHES = ["bench.rad69_throughput", "bench.matching_accuracy", "bench.matching_throughput",
                 "bench.iti55_throughput", "bench.xcpd_trust_overhead", "bench.fanout",
                 "bench.e2e_retrieve", "bench.directory_sync"]
# results rendered by their own benchmark (own marked section), not here
_OWN_SECTION = ("matching", "iti55", "fanout", "e2e_retrieve", "directory_sync", "xcpd_trust",
                "rad69")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
TARGET = ROOT / "docs" / "benchmarks.md"


def all_benches() -> list[str]:
    present = [m for m in OTHER_BENCHES if (ROOT / "bench" / f"{m.split('.')[1]}.py").exists()]
    return BENCHES + present


def main() -> None:
    failed = []
    for module in all_benches():
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], cwd=ROOT).returncode != 0:
            failed.append(module)
    render()
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _machine(r: dict[str, Any]) -> str:
    m = r.get("machine")
    if not isinstance(m, dict):
        return f"Machine: {m or 'not recorded'}; run {r.get('when', '?')}."
    load = r.get("load_average_at_end")
    return (
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), Linux {m['kernel']}, Python {m['python']}; "
        f"run {r['when']}" + (f", 1-min load average {load} at the end." if load else ".")
    )


def _ingest(r: dict[str, Any]) -> list[str]:
    out = [
        "## C-STORE ingest: imx vs Orthanc (same data, same run)",
        "",
        f"{r['instances']} CT slices, 512x512 16-bit ({r['megabytes']} MB), sent with DCMTK",
        "`storescu +sd +r -nh` into `imx serve` (SQLite + files, fsync on) and into Orthanc "
        f"{r.get('orthanc_version', '1.10')} (Debian, SQLite index, DICOMweb + GDCM plugins).",
        f"Median of {r.get('repeats', 1)} runs, fresh empty servers each run. " + _machine(r),
        "Command: `python -m bench.ingest_vs_orthanc`. Target: imx >= 5x Orthanc.",
        "",
        "| client | imx instances/s | Orthanc instances/s | imx / Orthanc | imx runs | "
        "Orthanc runs | server CPU ms/instance, imx / Orthanc | imx RSS MiB | Orthanc RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in r["runs"].items():
        out.append(
            f"| {label} | {row['imx_instances_per_s']} | {row['orthanc_instances_per_s']} "
            f"| **{row['ratio']}x** | {row.get('imx_runs_per_s', '')} | "
            f"{row.get('orthanc_runs_per_s', '')} | {row.get('imx_cpu_ms_per_instance', '?')} / "
            f"{row.get('orthanc_cpu_ms_per_instance', '?')} | {row['imx_rss_mib']} | "
            f"{row['orthanc_rss_mib']} |"
        )
    return [
        *out,
        "",
        "Debian's storescu leaves Nagle's algorithm on; imx acknowledges DIMSE PDUs "
        "at once (TCP_QUICKACK) so the client's second small write does not wait for a "
        "delayed ACK.",
        "",
    ]


def _wado(r: dict[str, Any]) -> list[str]:
    return [
        "## WADO-RS retrieve of a whole study: imx vs Orthanc DICOMweb",
        "",
        f"{r['instances']} CT slices ({r['imx_mb']} MB) as `multipart/related; "
        "type=application/dicom`, best of 3, streamed by httpx. " + _machine(r),
        "Command: `python -m bench.wado_vs_orthanc`.",
        "",
        "| imx MB/s | Orthanc MB/s | imx / Orthanc | imx RSS after (MiB) |",
        "|---|---|---|---|",
        f"| {r['imx_mb_per_s']} | {r['orthanc_mb_per_s']} | **{r['ratio']}x** | "
        f"{r['imx_rss_mib_after']} |",
        "",
    ]


def _profile(r: dict[str, Any]) -> list[str]:
    rates = ", ".join(f"{k}: {v} instances/s" for k, v in r["instances_per_s"].items())
    out = [
        "## Where imx's ingest time goes",
        "",
        f"Same {r['instances']} slices, storescu with TCP_NODELAY=1. {rates}. " + _machine(r),
        "Command: `python -m bench.profile_ingest` (py-spy sampling the server at 200 Hz; "
        "py-spy slows Python, so rates under it are not benchmark numbers).",
        "",
    ]
    prof = r["profile"]
    if "wall_share_by_part" not in prof:
        return [*out, f"Profile skipped: {prof.get('skipped', '?')}.", ""]
    out += [
        f"Under py-spy: {prof['instances_per_s_under_py_spy']} instances/s. Busy time by "
        "part of the pipeline, as a share of the storescu wall time (threads overlap, so "
        "shares can sum past 1):",
        "",
        "| part | share of wall time |",
        "|---|---|",
    ]
    out += [f"| {part} | {share} |" for part, share in prof["wall_share_by_part"].items()]
    out += ["", "| server thread | busy share |", "|---|---|"]
    out += [f"| {t} | {v['busy_share']} |" for t, v in prof["threads"].items()]
    return [*out, ""]


def _generic(name: str, r: dict[str, Any]) -> list[str]:
    rows = [
        f"| {k} | {v} |"
        for k, v in r.items()
        if k not in ("machine", "when") and not isinstance(v, dict | list)
    ]
    return [
        f"## {name}",
        "",
        _machine(r),
        f"Results file: `bench/results/{name}.json`; command "
        "in the docstring of the `bench/` module of the same name.",
        "",
        "| measure | value |",
        "|---|---|",
        *rows,
        "",
    ]


def _sections(block: str) -> dict[str, str]:
    """The current block's sections by their ``## `` heading (text up to the next heading)."""
    out: dict[str, str] = {}
    current: str | None = None
    for line in block.splitlines():
        if line.startswith("## "):
            current = line
            out[current] = ""
        if current is not None:
            out[current] += line + "\n"
    return out


def render() -> None:
    existing = TARGET.read_text() if TARGET.exists() else "# Benchmarks\n\n"
    old = _sections(existing.split(START, 1)[1].split(END, 1)[0]) if START in existing else {}
    out = [
        START,
        "",
        "Numbers written by `make bench` (`python -m bench.run_all`); re-render only with",
        "`python -m bench.run_all --render`. Benchmarks are programs under `bench/`, not",
        "timed tests; each section names its machine, date and command. A section whose",
        "results file is absent from this checkout keeps its last rendered text.",
        "",
    ]
    figures = draw_all()
    if figures:
        out += ["Figures (drawn from the same results by `bench/plots.py`):", ""]
        out += [f"![{p.stem}](images/{p.name})" for p in figures]
        out.append("")
    known = {"ingest_vs_orthanc": _ingest, "wado_vs_orthanc": _wado, "profile_ingest": _profile}
    rendered: set[str] = set()
    for name, fn in known.items():
        r = _load(name)
        if r is not None:
            lines = fn(r)
            rendered.add(lines[0])
            out += lines
    for path in sorted(RESULTS.glob("*.json")):
        if path.stem not in known and not path.stem.startswith(_OWN_SECTION):
            lines = _generic(path.stem, json.loads(path.read_text()))
            rendered.add(lines[0])
            out += lines
    # Sections rendered before whose results this checkout does not have: kept as they were.
    for heading, text in old.items():
        if heading not in rendered and not any(heading.startswith("## " + p) for p in _OWN_SECTION):
            out += text.rstrip("\n").splitlines() + [""]
    out.append(END)
    block = "\n".join(out)
    if START in existing and END in existing:
        head, rest = existing.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = existing.rstrip("\n") + "\n\n" + block + "\n"
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        render()
    else:
        main()
