"""Synthetic data: deterministic to the byte, valid UIDs, real pixel data, valid CT IOD."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from imx.dicom.synth import community_variant, generate_patients, generate_study
from imx.model.identifiers import is_valid_uid
from tests.conftest import require_tool


def encode(ds) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_same_seed_same_bytes_and_valid_uids() -> None:
    p = generate_patients(9, 2)[1]
    a = [encode(d) for d in generate_study(p, seed=9, series_count=2, instances_per_series=2, rows=32, columns=32)]
    b = [encode(d) for d in generate_study(p, seed=9, series_count=2, instances_per_series=2, rows=32, columns=32)]
    assert a == b
    c = [encode(d) for d in generate_study(p, seed=10, series_count=2, instances_per_series=2, rows=32, columns=32)]
    assert a != c
    for ds in generate_study(p, seed=9, series_count=2, instances_per_series=2, rows=32, columns=32):
        for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
            assert is_valid_uid(uid)
        assert ds.pixel_array.shape == (32, 32) and ds.pixel_array.std() > 10


def test_non_ascii_names_round_trip() -> None:
    names = {p.dicom_name for p in generate_patients(3, 200)}
    assert any(not n.isascii() for n in names)
    p = next(p for p in generate_patients(3, 200) if not p.dicom_name.isascii())
    ds = next(generate_study(p, seed=3, series_count=1, instances_per_series=1, rows=8, columns=8))
    import pydicom

    back = pydicom.dcmread(io.BytesIO(encode(ds)))
    assert str(back.PatientName) == p.dicom_name


def test_community_variant_is_same_person_with_small_differences() -> None:
    p = generate_patients(4, 1)[0]
    v = community_variant(p, seed=1, patient_id="OTHER1", issuer_oid="1.2.3.4.5")
    assert v.birth_date == p.birth_date and v.sex == p.sex and v.patient_id == "OTHER1"


def test_study_is_a_generator() -> None:
    gen = generate_study(generate_patients(1, 1)[0], seed=1, series_count=10, instances_per_series=1000)
    first = next(gen)  # 10,000 slices are never built at once
    assert first.Rows == 512


@pytest.mark.interop
@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_dciodvfy_finds_no_errors(tmp_path: Path, modality: str) -> None:
    tool = require_tool("dciodvfy")
    ds = next(generate_study(generate_patients(2, 1)[0], seed=2, modality=modality, series_count=1,
                             instances_per_series=1, rows=64, columns=64))
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    assert [x for x in (out.stdout + out.stderr).splitlines() if x.startswith("Error")] == []
