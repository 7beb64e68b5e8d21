"""The KOS manifest: valid IOD (dciodvfy, no errors), lists exactly the study's instances."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from pathlib import Path

import pytest

from imx.dicom.kos import KOS_SOP_CLASS_UID, build_manifest, parse_manifest
from imx.errors import MalformedMessageError
from tests.conftest import require_tool
from tests.contract.records import stored

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _study(n_series: int = 2, per_series: int = 3, name: str = "Ó Briain^Zoë"):  # type: ignore[no-untyped-def]
    items = [stored(series=s, instance=i, name=name) for s in range(1, n_series + 1)
             for i in range(1, per_series + 1)]
    insts = [dataclasses.replace(x.instance, rows=512, columns=512) for x in items]
    series = [x.series for x in items[::per_series]]
    return items[0].patient, items[0].study, series, insts


def _manifest(**kw):  # type: ignore[no-untyped-def]
    patient, study, series, insts = _study(**kw)
    ds = build_manifest(patient=patient, study=study, series=series, instances=insts,
                        sop_instance_uid="1.2.826.0.1.3680043.10.1492.99.1",
                        series_instance_uid="1.2.826.0.1.3680043.10.1492.99",
                        content_datetime=NOW, retrieve_ae_title="IMX",
                        retrieve_location_uid="1.3.6.1.4.1.21367.2026.1.1.1",
                        retrieve_url_base="http://127.0.0.1:8042/dicom-web",
                        institution_name="imx Imaging Centre")
    return ds, insts


def test_structure_and_exact_instance_list() -> None:
    ds, insts = _manifest()
    assert ds.SOPClassUID == KOS_SOP_CLASS_UID and ds.Modality == "KO"
    title = ds.ConceptNameCodeSequence[0]
    assert (title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning) == ("113030", "DCM", "Manifest")
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "2010"
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    series = evidence.ReferencedSeriesSequence
    assert all(s.RetrieveAETitle == "IMX" and s.RetrieveLocationUID == "1.3.6.1.4.1.21367.2026.1.1.1"
               for s in series)
    assert series[0].RetrieveURL.endswith(f"/studies/{evidence.StudyInstanceUID}/series/{series[0].SeriesInstanceUID}")
    in_evidence = {r.ReferencedSOPInstanceUID for s in series for r in s.ReferencedSOPSequence}
    in_content = {c.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for c in ds.ContentSequence}
    expected = {i.sop_instance_uid for i in insts}
    assert in_evidence == in_content == expected
    assert all(c.ValueType == "IMAGE" and c.RelationshipType == "CONTAINS" for c in ds.ContentSequence)
    assert ds.SpecificCharacterSet == "ISO_IR 192"  # non-ASCII patient name


def test_parse_round_trip_and_rejects_non_kos() -> None:
    ds, insts = _manifest(n_series=3, per_series=2)
    (content,) = parse_manifest(ds)
    assert content.instance_count() == 6
    assert [s.series_instance_uid for s in content.series] == sorted({i.series_instance_uid for i in insts})
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    with pytest.raises(MalformedMessageError):
        parse_manifest(ds)


@pytest.mark.interop
@pytest.mark.parametrize("shape", [(1, 1), (5, 100)])  # one instance; a 500-instance study
def test_dciodvfy_reports_no_errors(tmp_path: Path, shape: tuple[int, int]) -> None:
    tool = require_tool("dciodvfy")
    ds, _ = _manifest(n_series=shape[0], per_series=shape[1])
    path = tmp_path / "kos.dcm"
    ds.save_as(path, enforce_file_format=True)
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120)
    lines = (out.stdout + out.stderr).splitlines()
    assert "KeyObjectSelectionDocument" in lines  # it recognised and checked the IOD
    errors = [line for line in lines if line.startswith("Error")]
    assert errors == []
