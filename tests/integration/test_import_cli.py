"""`imx import`: a folder, a zip, a CD with DICOMDIR; bad files quarantined with a reason,
the store untouched by them; exit code says whether anything was rejected."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pydicom
from pydicom.fileset import FileSet
from typer.testing import CliRunner

from imx.cli.main import app
from imx.dicom.synth import generate_patients, generate_study, write_study


def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "imx.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n[manifests]\ndebounce_s = 0.0\n')
    return cfg


def study_files(tmp_path: Path, seed: int, n: int = 4) -> list[Path]:
    return write_study(
        tmp_path / f"src{seed}",
        generate_study(
            generate_patients(seed, 1)[0],
            seed=seed,
            series_count=1,
            instances_per_series=n,
            rows=16,
            columns=16,
        ),
    )


def db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "data" / "imx.sqlite3")


def run(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, str]]]:
    result = CliRunner().invoke(app, ["import", "--json", "--config", str(config(tmp_path)), *args])
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    return result.exit_code, lines


def test_folder_import_and_manifest(tmp_path: Path) -> None:
    files = study_files(tmp_path, 51)
    code, lines = run(tmp_path, str(files[0].parent.parent))
    assert code == 0 and [x["status"] for x in lines] == ["stored"] * 4
    c = db(tmp_path)
    assert c.execute("select count(*) from instances").fetchone()[0] == 4
    assert c.execute("select count(*) from documents where kind='manifest'").fetchone()[0] == 1
    code, lines = run(tmp_path, str(files[0].parent.parent))  # again: duplicates, no-op
    assert code == 0 and {x["status"] for x in lines} == {"duplicate"}


def test_zip_import(tmp_path: Path) -> None:
    files = study_files(tmp_path, 52)
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            zf.write(f, f"DICOM/{f.name}")
        zf.writestr("README.TXT", "not dicom")
    code, lines = run(tmp_path, str(archive))
    statuses = sorted(x["status"] for x in lines)
    assert statuses == ["rejected"] + ["stored"] * 4 and code == 1
    assert db(tmp_path).execute("select count(*) from instances").fetchone()[0] == 4


def test_cd_with_dicomdir(tmp_path: Path) -> None:
    files = study_files(tmp_path, 53, n=3)
    fs = FileSet()
    for f in files:
        fs.add(pydicom.dcmread(f))
    cd = tmp_path / "cdrom"
    fs.write(cd)
    (cd / "AUTORUN.INF").write_text("[autorun]\n")  # CD clutter: not referenced, not read
    assert (cd / "DICOMDIR").exists()
    code, lines = run(tmp_path, str(cd))
    assert code == 0 and len(lines) == 3 and {x["status"] for x in lines} == {"stored"}


def test_bad_files_quarantined_store_unchanged(tmp_path: Path) -> None:
    good = study_files(tmp_path, 54, n=2)
    run(tmp_path, str(good[0].parent))
    before = (
        db(tmp_path).execute("select sop_instance_uid, sha256 from instances order by 1").fetchall()
    )
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notdicom.dcm").write_bytes(b"hello" * 100)
    (bad / "truncated.dcm").write_bytes(good[0].read_bytes()[:600])
    ds = pydicom.dcmread(good[0])
    ds.PatientName = "Changed^Content"  # same SOP Instance UID, different bytes: conflict
    ds.save_as(bad / "conflict.dcm")
    code, lines = run(tmp_path, str(bad))
    assert code == 1
    assert sorted(x["reason"] for x in lines) == ["conflict", "not-dicom", "truncated"]
    after = (
        db(tmp_path).execute("select sop_instance_uid, sha256 from instances order by 1").fetchall()
    )
    assert after == before
    sidecars = [
        json.loads(p.read_text()) for p in (tmp_path / "data" / "quarantine").rglob("*.json")
    ]
    assert sorted(s["reason"] for s in sidecars) == ["conflict", "not-dicom", "truncated"]
    assert all("Changed" not in json.dumps(s) for s in sidecars)  # no PHI in reasons


def _rewrite(src: Path, dst: Path, **changes: object) -> None:
    import warnings

    ds = pydicom.dcmread(src)
    mode = pydicom.config.settings.writing_validation_mode
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the point is to write invalid values
            for k, v in changes.items():
                if v is None:
                    delattr(ds, k)
                else:
                    setattr(ds, k, v)
            ds.save_as(dst)
    finally:
        pydicom.config.settings.writing_validation_mode = mode


def test_uid_problems_quarantined(tmp_path: Path) -> None:
    good = study_files(tmp_path, 55, n=1)[0]
    bad = tmp_path / "bad"
    bad.mkdir()
    _rewrite(good, bad / "nostudy.dcm", StudyInstanceUID=None)
    _rewrite(good, bad / "badseries.dcm", SeriesInstanceUID="1.2.03.x")
    code, lines = run(tmp_path, str(bad))
    assert code == 1
    assert sorted(x["reason"] for x in lines) == ["invalid-uid", "missing-uid"]
    assert db(tmp_path).execute("select count(*) from instances").fetchone()[0] == 0
    kept = sorted((tmp_path / "data" / "quarantine").rglob("*.bin"))
    assert len(kept) == 2 and all(p.stat().st_size > 0 for p in kept)


def test_too_large_file_and_zip_member(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    files = study_files(tmp_path, 56, n=2)
    limit = min(f.stat().st_size for f in files) + 1
    big = tmp_path / "big"
    big.mkdir()
    (big / "huge.dcm").write_bytes(files[0].read_bytes() + b"\x00" * limit)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BOMB", b"\x00" * (limit * 50))  # compresses to almost nothing
        zf.write(files[1], "OK.DCM")
    monkeypatch.setenv("IMX_INGEST__MAX_INSTANCE_BYTES", str(limit))
    code, lines = run(tmp_path, str(big), str(archive))
    assert code == 1
    by_file = {x["file"].rsplit("/", 1)[-1]: (x["status"], x["reason"]) for x in lines}
    assert by_file == {
        "huge.dcm": ("rejected", "too-large"),
        "bomb.zip!BOMB": ("rejected", "too-large"),
        "bomb.zip!OK.DCM": ("stored", ""),
    }
    assert db(tmp_path).execute("select count(*) from instances").fetchone()[0] == 1
    sidecars = [
        json.loads(p.read_text()) for p in (tmp_path / "data" / "quarantine").rglob("*.json")
    ]
    assert sorted(s["reason"] for s in sidecars) == ["too-large", "too-large"]
