"""`imx audit list`: what an administrator sees of the trail (table, JSON, FHIR)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imx.cli.main import app
from imx.settings import load_settings
from imx.storage import build_metadata_store
from imx.storage.sql_audit import SqlAuditSink
from tests.unit.audit.records import AT, initiator, responder


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "imx.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n')

    async def fill() -> None:
        store = await build_metadata_store(load_settings(path).storage, auto_upgrade=True)
        sink = SqlAuditSink(store)
        await sink.record(responder("ITI-55"))
        await sink.record(initiator("RAD-75", patient_ids=("OTHER^^^&2.999.1.5&ISO",)))
        await sink.record(responder("ITI-39"))
        await store.close()

    asyncio.run(fill())
    return path


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, ["audit", "list", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_json_lists_newest_first_and_filters_by_patient(config: Path) -> None:
    every = json.loads(_run("-c", str(config), "--json"))
    assert [e["transaction"] for e in every] == ["ITI-39", "RAD-75", "ITI-55"]
    assert every[0]["occurred_at"] == AT.isoformat()
    assert every[0]["purpose_of_use"] == "TREATMENT"
    mine = json.loads(_run("-c", str(config), "--json", "--patient", "PX-1"))
    assert [e["transaction"] for e in mine] == ["ITI-39", "ITI-55"]
    assert json.loads(_run("-c", str(config), "--json", "--since", "2030-01-01")) == []


def test_fhir_bundle_of_audit_events(config: Path) -> None:
    bundle = json.loads(_run("-c", str(config), "--fhir", "--limit", "2"))
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == 2
    events = [e["resource"] for e in bundle["entry"]]
    assert [e["subtype"][0]["code"] for e in events] == ["ITI-39", "RAD-75"]
    assert [e["type"]["code"] for e in events] == ["110106", "110104"]
    assert all(e["id"] for e in events)


def test_table_and_bad_since(config: Path) -> None:
    out = _run("-c", str(config), "--patient", "OTHER")
    assert "RAD-75" in out and "ITI-55" not in out
    bad = CliRunner().invoke(app, ["audit", "list", "-c", str(config), "--since", "yesterday"])
    assert bad.exit_code != 0
