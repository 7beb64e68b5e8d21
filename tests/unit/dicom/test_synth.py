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
    a = [
        encode(d)
        for d in generate_study(
            p, seed=9, series_count=2, instances_per_series=2, rows=32, columns=32
        )
    ]
    b = [
        encode(d)
        for d in generate_study(
            p, seed=9, series_count=2, instances_per_series=2, rows=32, columns=32
        )
    ]
    assert a == b
    c = [
        encode(d)
        for d in generate_study(
            p, seed=10, series_count=2, instances_per_series=2, rows=32, columns=32
        )
    ]
    assert a != c
    for ds in generate_study(
        p, seed=9, series_count=2, instances_per_series=2, rows=32, columns=32
    ):
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
    people = generate_patients(4, 60)
    variants = [
        community_variant(p, seed=1, patient_id=f"OTHER{i}", issuer_oid="1.2.3.4.5")
        for i, p in enumerate(people)
    ]
    for p, v in zip(people, variants, strict=True):
        assert (v.birth_date, v.sex, v.key) == (p.birth_date, p.sex, p.key)
        assert v.issuer_oid == "1.2.3.4.5" and v.patient_id.startswith("OTHER")
        changed = {
            f for f in ("given", "family", "street", "city") if getattr(v, f) != getattr(p, f)
        }
        assert changed, p  # always some difference, like real cross-community records
    kinds = [
        any(v.given != p.given for p, v in zip(people, variants, strict=True)),  # nickname
        any(v.family != p.family for p, v in zip(people, variants, strict=True)),  # typo
        any(v.street != p.street for p, v in zip(people, variants, strict=True)),  # moved
    ]
    assert all(kinds)
    again = community_variant(people[0], seed=1, patient_id="OTHER0", issuer_oid="1.2.3.4.5")
    assert again == variants[0]  # deterministic


def test_study_is_a_generator() -> None:
    gen = generate_study(
        generate_patients(1, 1)[0], seed=1, series_count=10, instances_per_series=1000
    )
    first = next(gen)  # 10,000 slices are never built at once
    assert first.Rows == 512


@pytest.mark.interop
@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_dciodvfy_finds_no_errors(tmp_path: Path, modality: str) -> None:
    tool = require_tool("dciodvfy")
    ds = next(
        generate_study(
            generate_patients(2, 1)[0],
            seed=2,
            modality=modality,
            series_count=1,
            instances_per_series=1,
            rows=64,
            columns=64,
        )
    )
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    assert [x for x in (out.stdout + out.stderr).splitlines() if x.startswith("Error")] == []


def test_slices_progress_along_z_and_studies_differ() -> None:
    p = generate_patients(5, 1)[0]
    slices = list(
        generate_study(p, seed=5, series_count=1, instances_per_series=4, rows=16, columns=16)
    )
    zs = [float(ds.ImagePositionPatient[2]) for ds in slices]
    assert zs == sorted(zs, reverse=True) and len(set(zs)) == 4
    assert [float(ds.SliceLocation) for ds in slices] == zs
    assert [ds.InstanceNumber for ds in slices] == [1, 2, 3, 4]
    # Per-slice variation: the phantom is not the same picture repeated.
    assert (slices[0].pixel_array != slices[3].pixel_array).any()
    first, second = (
        next(
            generate_study(
                p, seed=5, study_index=k, series_count=1, instances_per_series=1, rows=8, columns=8
            )
        )
        for k in (0, 1)
    )
    assert first.StudyInstanceUID != second.StudyInstanceUID
    assert first.AccessionNumber != second.AccessionNumber
    assert first.PatientID == second.PatientID and first.IssuerOfPatientID == p.issuer_oid
    assert first.RescaleSlope == 1 and first.RescaleIntercept == -1024 and first.WindowWidth == 400
    with pytest.raises(ValueError, match="CT or MR"):
        next(generate_study(p, seed=5, modality="US"))


def test_memory_stays_flat_while_a_study_is_generated() -> None:
    import tracemalloc

    p = generate_patients(6, 1)[0]
    n, size = 150, 256
    tracemalloc.start()
    try:
        total = 0
        for ds in generate_study(
            p, seed=6, series_count=1, instances_per_series=n, rows=size, columns=size
        ):
            total += len(ds.PixelData)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == n * size * size * 2  # ~19.7 MB of pixels went through
    assert peak < 8 * 1024 * 1024, peak  # a few slices' worth of float64 work arrays at most


def test_cli_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from imx.cli.main import app

    def run(out: Path, seed: int) -> dict[str, bytes]:
        result = CliRunner().invoke(
            app,
            [
                "synth",
                "--out",
                str(out),
                "--patients",
                "2",
                "--studies-per-patient",
                "2",
                "--series",
                "1",
                "--instances",
                "2",
                "--rows",
                "16",
                "--seed",
                str(seed),
            ],
        )
        assert result.exit_code == 0, result.output
        return {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*.dcm"))}

    a, b, c = run(tmp_path / "a", 3), run(tmp_path / "b", 3), run(tmp_path / "c", 4)
    assert len(a) == 8 and a == b
    assert a.keys() != c.keys()
    modalities = {pydicom_modality(v) for v in a.values()}
    assert modalities == {"CT", "MR"}  # mixed by default


def pydicom_modality(part10: bytes) -> str:
    import pydicom

    return str(pydicom.dcmread(io.BytesIO(part10), stop_before_pixels=True).Modality)
