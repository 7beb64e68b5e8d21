"""The KOS manifest: valid IOD (dciodvfy, no errors), lists exactly the study's instances."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence

from imx.dicom.kos import (
    KOS_SOP_CLASS_UID,
    build_manifest,
    content_value_type,
    parse_manifest,
    parse_manifest_studies,
)
from imx.errors import MalformedMessageError
from imx.model.imaging import InstanceRecord, PatientRecord, SeriesRecord, StudyRecord
from tests.conftest import require_tool
from tests.contract.records import stored

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LOCATION = "1.3.6.1.4.1.21367.2026.1.1.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
PDF = "1.2.840.10008.5.1.4.1.1.104.1"


Study = tuple[PatientRecord, StudyRecord, list[SeriesRecord], list[InstanceRecord]]


def _study(n_series: int = 2, per_series: int = 3, name: str = "Ó Briain^Zoë",
           accession: str = "ACC1") -> Study:
    items = [stored(series=s, instance=i, name=name, accession=accession)
             for s in range(1, n_series + 1) for i in range(1, per_series + 1)]
    insts = [dataclasses.replace(x.instance, rows=512, columns=512) for x in items]
    series = [x.series for x in items[::per_series]]
    return items[0].patient, items[0].study, series, insts


def _build(patient: PatientRecord, study: StudyRecord, series: list[SeriesRecord],
           insts: list[InstanceRecord]) -> FileDataset:
    return build_manifest(patient=patient, study=study, series=series, instances=insts,
                          sop_instance_uid="1.2.826.0.1.3680043.10.1492.99.1",
                          series_instance_uid="1.2.826.0.1.3680043.10.1492.99",
                          content_datetime=NOW, retrieve_ae_title="IMX",
                          retrieve_location_uid=LOCATION,
                          retrieve_url_base="http://127.0.0.1:8042/dicom-web",
                          institution_name="imx Imaging Centre")


def _manifest(**kw: Any) -> tuple[FileDataset, list[InstanceRecord]]:
    patient, study, series, insts = _study(**kw)
    return _build(patient, study, series, insts), insts


def _with_reports(insts: list[InstanceRecord]) -> list[InstanceRecord]:
    """The last two instances become a Basic Text SR and an Encapsulated PDF."""
    sr = dataclasses.replace(insts[-2], sop_class_uid=BASIC_TEXT_SR, rows=None, columns=None)
    pdf = dataclasses.replace(insts[-1], sop_class_uid=PDF, rows=None, columns=None)
    return [*insts[:-2], sr, pdf]


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_structure_and_exact_instance_list() -> None:
    ds, insts = _manifest()
    assert ds.SOPClassUID == KOS_SOP_CLASS_UID and ds.Modality == "KO"
    assert ds.ReferencedPerformedProcedureStepSequence == []
    title = ds.ConceptNameCodeSequence[0]
    assert (title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning) == (
        "113030", "DCM", "Manifest")
    assert ds.ContinuityOfContent == "SEPARATE" and ds.ValueType == "CONTAINER"
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "2010"
    assert ds.ContentTemplateSequence[0].MappingResource == "DCMR"
    (evidence,) = ds.CurrentRequestedProcedureEvidenceSequence
    series = evidence.ReferencedSeriesSequence
    assert all(s.RetrieveAETitle == "IMX" and s.RetrieveLocationUID == LOCATION for s in series)
    for s in series:
        assert s.RetrieveURL == ("http://127.0.0.1:8042/dicom-web/studies/"
                                 f"{evidence.StudyInstanceUID}/series/{s.SeriesInstanceUID}")
    in_evidence = [r.ReferencedSOPInstanceUID for s in series for r in s.ReferencedSOPSequence]
    in_content = [c.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for c in ds.ContentSequence]
    expected = [i.sop_instance_uid for i in insts]
    assert sorted(in_evidence) == sorted(in_content) == sorted(expected)
    assert len(in_evidence) == len(set(in_evidence)) == 6  # no duplicates, nothing extra
    assert all(c.ValueType == "IMAGE" and c.RelationshipType == "CONTAINS"
               for c in ds.ContentSequence)
    assert ds.SpecificCharacterSet == "ISO_IR 192"  # non-ASCII patient name
    (request,) = ds.ReferencedRequestSequence
    assert (request.StudyInstanceUID, request.AccessionNumber) == (
        evidence.StudyInstanceUID, "ACC1")


def test_ascii_study_without_accession_has_no_charset_nor_request() -> None:
    ds, _ = _manifest(name="Doe^Jane", accession="")
    assert "SpecificCharacterSet" not in ds and "ReferencedRequestSequence" not in ds


def test_value_type_follows_sop_class() -> None:
    assert content_value_type("1.2.840.10008.5.1.4.1.1.2") == "IMAGE"  # CT
    assert content_value_type("1.2.840.10008.5.1.4.1.1.66.4") == "IMAGE"  # Segmentation
    assert content_value_type(BASIC_TEXT_SR) == "COMPOSITE"
    assert content_value_type(PDF) == "COMPOSITE"
    assert content_value_type("1.2.840.10008.5.1.4.1.1.11.1") == "COMPOSITE"  # GSPS
    assert content_value_type("1.2.840.10008.5.1.4.1.1.9.1.1") == "WAVEFORM"  # 12-lead ECG
    assert content_value_type("1.2.840.10008.5.1.4.1.1.481.2") == "IMAGE"  # RT Dose
    assert content_value_type("1.2.840.10008.5.1.4.1.1.481.5") == "COMPOSITE"  # RT Plan
    assert content_value_type("1.2.840.10008.5.1.4.1.1.66.1") == "COMPOSITE"  # registration
    patient, study, series, insts = _study()
    ds = _build(patient, study, series, _with_reports(insts))
    assert [c.ValueType for c in ds.ContentSequence] == ["IMAGE"] * 4 + ["COMPOSITE"] * 2


def test_deterministic_given_inputs() -> None:
    assert _bytes(_manifest()[0]) == _bytes(_manifest()[0])


def test_empty_instance_list_is_refused() -> None:
    patient, study, series, _ = _study()
    with pytest.raises(ValueError, match="at least one"):
        _build(patient, study, series, [])


def test_parse_round_trip_and_rejects_non_kos() -> None:
    ds, insts = _manifest(n_series=3, per_series=2)
    content = parse_manifest(pydicom.dcmread(io.BytesIO(_bytes(ds))))
    assert content.study_instance_uid == insts[0].study_instance_uid
    assert content.instance_count() == 6
    assert [s.series_instance_uid for s in content.series] == sorted(
        {i.series_instance_uid for i in insts})
    assert {(c, sop) for s in content.series for c, sop in s.instances} == {
        (i.sop_class_uid, i.sop_instance_uid) for i in insts}
    first = content.series[0]
    assert (first.retrieve_ae_title, first.retrieve_location_uid) == ("IMX", LOCATION)
    assert first.retrieve_url.endswith(f"/series/{first.series_instance_uid}")
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    with pytest.raises(MalformedMessageError):
        parse_manifest(ds)


def test_parse_other_vendor_evidence_only_study_level_location() -> None:
    """dcm4chee-style: evidence sequence only, retrieve attributes at study level."""
    ds = Dataset()
    ds.SOPClassUID = KOS_SOP_CLASS_UID
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", "1.9.1"
    broken = Dataset()  # no SOP Instance UID: skipped, not fatal
    broken.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    se = Dataset()
    se.SeriesInstanceUID = "1.9"
    se.ReferencedSOPSequence = Sequence([ref, broken])
    st = Dataset()
    st.StudyInstanceUID = "1.8"
    st.RetrieveAETitle = ["DCM4CHEE", "OTHER"]
    st.RetrieveLocationUID = "1.7.7"
    st.ReferencedSeriesSequence = Sequence([se])
    st2 = Dataset()
    st2.StudyInstanceUID = "1.6"
    st2.ReferencedSeriesSequence = Sequence([])
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([st, st2])
    content = parse_manifest(ds)
    (series,) = content.series
    assert (content.study_instance_uid, series.retrieve_ae_title,
            series.retrieve_location_uid, series.retrieve_url) == ("1.8", "DCM4CHEE", "1.7.7", "")
    assert series.instances == (("1.2.840.10008.5.1.4.1.1.4", "1.9.1"),)
    assert [c.study_instance_uid for c in parse_manifest_studies(ds)] == ["1.8", "1.6"]
    del ds.CurrentRequestedProcedureEvidenceSequence
    with pytest.raises(MalformedMessageError):
        parse_manifest(ds)


@pytest.mark.interop
@pytest.mark.parametrize("shape", [(1, 1), (5, 100), (2, 3)])  # one; a 500-instance study; reports
def test_dciodvfy_reports_no_errors(tmp_path: Path, shape: tuple[int, int]) -> None:
    tool = require_tool("dciodvfy")
    patient, study, series, insts = _study(n_series=shape[0], per_series=shape[1])
    if shape == (2, 3):
        insts = _with_reports(insts)
    ds = _build(patient, study, series, insts)
    path = tmp_path / "kos.dcm"
    ds.save_as(path, enforce_file_format=True)
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120,
                         check=False)
    lines = (out.stdout + out.stderr).splitlines()
    assert "KeyObjectSelectionDocument" in lines  # it recognised and checked the IOD
    errors = [line for line in lines if line.startswith("Error")]
    assert errors == []
    assert len(parse_manifest(pydicom.dcmread(path)).series[0].instances) == shape[1]
