"""``imx patients search`` / ``imx studies list`` / ``imx studies fetch`` against a live
community, run as a user would (the installed console script, a TOML config file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imx.dicom.synth import generate_patients, generate_study
from tests.e2e.test_three_communities import HOME, endpoints, load, node_settings
from tests.support.server import NodeThread

pytestmark = pytest.mark.e2e
IMX = str(Path(sys.executable).parent / "imx")


def _config(tmp: Path, b: NodeThread) -> Path:
    lines = [
        "[node]", f'home_community_id = "urn:oid:{HOME["A"]}"', 'institution_name = "Community A"',
        "[storage]", f'data_dir = "{tmp / "a-data"}"', "[dimse]", "port = 0",
        "[[communities]]", f'home_community_id = "urn:oid:{HOME["B"]}"', 'name = "Community B"',
    ]
    for e in endpoints(b):
        lines += ["[[communities.endpoints]]", f'transaction = "{e["transaction"]}"',
                  f'address = "{e["address"]}"']
    path = tmp / "a.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _imx(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([IMX, *args], capture_output=True, text=True, timeout=120, check=False,
                          env=env)


def test_search_list_and_fetch_from_the_command_line(tmp_path: Path) -> None:
    patient = generate_patients(5150, 1)[0]
    b = NodeThread(node_settings(tmp_path, "B")).start()
    try:
        load(b, generate_study(patient, seed=9, series_count=2, instances_per_series=6, rows=8,
                               columns=8))
        cfg = str(_config(tmp_path, b))
        who = ["--given", patient.given, "--family", patient.family,
               "--birth-date", patient.birth_date.isoformat(), "--gender", patient.sex, "-c", cfg]
        found = _imx("patients", "search", *who, "--json")
        assert found.returncode == 0, found.stderr
        data = json.loads(found.stdout)
        assert [p["home_community_id"] for p in data["patients"]] == [f"urn:oid:{HOME['B']}"]
        assert data["xcpd_sent"] == 1

        human = _imx("patients", "search", *who)
        assert human.returncode == 0 and HOME["B"] in human.stdout
        assert "(0 XCPD sent)" in human.stdout  # the second search came from the cache

        listed = json.loads(_imx("studies", "list", *who, "--json").stdout)
        kos = next(d for d in listed["documents"] if d["kind"] == "manifest")
        fetch = ["studies", "fetch", "--community", kos["home_community_id"], "--document",
                 kos["document_unique_id"], "--repository", kos["repository_unique_id"], "-c", cfg]
        first = _imx(*fetch, "--json")
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert report["total_instances"] == 12 and report["received_instances"] == 12
        again = json.loads(_imx(*fetch, "--json").stdout)
        assert again["already_present"] == 12 and again["received_instances"] == 0
        bars = _imx(*fetch)  # the progress display path
        assert bars.returncode == 0 and "complete" in bars.stdout
    finally:
        b.stop()
