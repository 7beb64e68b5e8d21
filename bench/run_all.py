"""Run every benchmark and rewrite docs/benchmarks.md from their results (`make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import RESULTS, ROOT

BENCHES = ["bench.ingest_vs_orthanc", "bench.wado_vs_orthanc"]


def main() -> None:
    for module in BENCHES:
        subprocess.run([sys.executable, "-m", module], check=True, cwd=ROOT)
    render()


def render() -> None:
    out = [
        "# Benchmarks",
        "",
        "Numbers written by `make bench` (`python -m bench.run_all`) on the machine named in",
        "each section. Benchmarks are programs under `bench/`, not timed tests.",
        "",
    ]
    ingest = RESULTS / "ingest_vs_orthanc.json"
    if ingest.exists():
        r = json.loads(ingest.read_text())
        m = r["machine"]
        out += [
            "## C-STORE ingest: imx vs Orthanc (same data, same run)",
            "",
            f"{r['instances']} CT slices, 512x512 16-bit ({r['megabytes']} MB), sent with DCMTK",
            "`storescu +sd +r -nh` into `imx serve` (SQLite + files, fsync on) and into Orthanc 1.10",
            f"(Debian). Machine: {m['cpus']} cores, {m['cpu']}, Python {m['python']}; {r['when']}.",
            "Command: `python -m bench.ingest_vs_orthanc`.",
            "",
            "| client | imx instances/s | Orthanc instances/s | imx / Orthanc | imx RSS MiB | Orthanc RSS MiB |",
            "|---|---|---|---|---|---|",
        ]
        for label, row in r["runs"].items():
            out.append(
                f"| {label} | {row['imx_instances_per_s']} | {row['orthanc_instances_per_s']} | "
                f"**{row['ratio']}x** | {row['imx_rss_mib']} | {row['orthanc_rss_mib']} |"
            )
        out += [
            "",
            "Debian's storescu leaves Nagle's algorithm on; imx acknowledges DIMSE PDUs at once",
            "(TCP_QUICKACK) so the client's second small write does not wait for a delayed ACK.",
            "",
        ]
    wado = RESULTS / "wado_vs_orthanc.json"
    if wado.exists():
        r = json.loads(wado.read_text())
        out += [
            "## WADO-RS retrieve of a whole study: imx vs Orthanc DICOMweb",
            "",
            f"{r['instances']} CT slices ({r['imx_mb']} MB) as multipart/related; type=application/dicom,",
            "best of 3, streamed by httpx. Command: `python -m bench.wado_vs_orthanc`.",
            "",
            "| imx MB/s | Orthanc MB/s | imx / Orthanc | imx RSS after (MiB) |",
            "|---|---|---|---|",
            f"| {r['imx_mb_per_s']} | {r['orthanc_mb_per_s']} | **{r['ratio']}x** | {r['imx_rss_mib_after']} |",
            "",
        ]
    text = "\n".join(out) + "\n"
    target = ROOT / "docs" / "benchmarks.md"
    existing = target.read_text() if target.exists() else ""
    marker = "<!-- matching:start -->"
    if marker in existing:  # keep sections other benchmarks own
        text += "\n" + existing[existing.index(marker) :]
    target.write_text(text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        render()
    else:
        main()
