"""Routing from the participant directory: community B publishes itself, A syncs the directory
at start and finds B's patient through it; with the directory down, a restarted A still routes
from its cache."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from imx.dicom.synth import generate_patients, generate_study
from imx.directory.publish import PublishSpec, node_entries
from tests.e2e.test_three_communities import HOME, load, node_settings, query_for
from tests.integration.test_directory_clients import DirectoryThread
from tests.support.server import NodeThread

pytestmark = pytest.mark.e2e


def _found(a: NodeThread, patient) -> list[str]:  # noqa: ANN001
    result = a.call(a.services.network.search_patient(query_for(patient), use_cache=False))  # type: ignore[union-attr]
    return [p.home_community_id for p in result.patients]


def test_routes_from_directory_and_from_cache_when_it_is_down(tmp_path: Path) -> None:
    patient = generate_patients(6060, 1)[0]
    b = NodeThread(node_settings(tmp_path, "B")).start()
    a = None
    try:
        load(b, generate_study(patient, seed=6, series_count=1, instances_per_series=2, rows=8,
                               columns=8))
        entries = node_entries(PublishSpec(home_community_id=f"urn:oid:{HOME['B']}",
                                           name="Community B", base_url=b.url, city="Boston",
                                           state="MA", postal_code="02110"))
        with DirectoryThread(tmp_path / "dir.sqlite", entries) as directory:
            a = NodeThread(node_settings(tmp_path, "A", directory={"url": directory.url})).start()
            deadline = time.monotonic() + 30
            while not (found := _found(a, patient)) and time.monotonic() < deadline:
                time.sleep(0.2)  # the first sync runs in the background at start
            assert found == [f"urn:oid:{HOME['B']}"]
            a.stop()
        # The directory is gone; A restarts and routes from its cache.
        a = NodeThread(node_settings(tmp_path, "A", directory={"url": "http://127.0.0.1:9/fhir"})).start()
        assert _found(a, patient) == [f"urn:oid:{HOME['B']}"]
    finally:
        for n in (a, b):
            if n is not None:
                n.stop()
