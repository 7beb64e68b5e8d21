"""`imx patients import` loads the index that ITI-55 matches against; bad rows exit 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from imx.cli.main import app
from imx.model.identifiers import PatientId
from imx.settings import load_settings
from imx.storage import build_metadata_store

AA = "1.3.6.1.4.1.21367.2026.1.1.2"  # the node's default assigning authority


def test_csv_and_fhir_imports_fill_the_index(tmp_path: Path) -> None:
    cfg = tmp_path / "imx.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("patient_id,family,given,birth_date,sex,postal_code,phone\n"
                        "C1,Doe,Jane,1980-02-15,F,62704,217-555-0101\n"
                        "C2,Roe,Rick,1970-07-04,M,,\n")
    ok = CliRunner().invoke(app, ["patients", "import", str(csv_file), "--config", str(cfg)])
    assert ok.exit_code == 0, ok.output
    assert "imported 2 patients" in ok.output
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "identifier": [
            {"system": "urn:oid:1.9.9", "value": "F1"}], "name": [{"family": "Poe"}],
            "birthDate": "1990-01-01"}},
        {"resource": {"resourceType": "Patient", "identifier": []}},
    ]}))
    bad = CliRunner().invoke(app, ["patients", "import", str(bundle), "--config", str(cfg)])
    assert bad.exit_code == 1
    assert "rejected entry 2: no identifier" in bad.output and "imported 1 patients" in bad.output
    asyncio.run(_check(cfg))


async def _check(cfg: Path) -> None:
    store = await build_metadata_store(load_settings(cfg).storage)
    try:
        assert await store.count_mpi_patients() == 3
        jane = await store.get_mpi_patient(PatientId(id="C1", assigning_authority=AA))
        assert jane is not None and jane.demographics.telecoms == ("tel:217-555-0101",)
        assert await store.get_mpi_patient(PatientId(id="F1", assigning_authority="1.9.9"))
    finally:
        await store.close()
