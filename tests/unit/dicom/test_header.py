"""Header extraction: model records, DICOM JSON with BulkDataURIs, UID validation, charsets."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from imx.dicom.header import BULKDATA_PREFIX, dicom_json, extract_stored_instance, parse_da
from imx.errors import RejectedInstanceError

CT = Path(get_testdata_file("CT_small.dcm")).read_bytes()
WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def extract(ds: Dataset, authority: str = "1.2.3.4"):  # type: ignore[no-untyped-def]
    return extract_stored_instance(ds, blob_key="k", size_bytes=10, sha256="ab" * 32,
                                   received_at=WHEN, default_assigning_authority=authority)


def ct() -> Dataset:
    return pydicom.dcmread(io.BytesIO(CT))


def test_records_from_ct() -> None:
    ds = ct()
    item = extract(ds)
    assert item.instance.sop_instance_uid == ds.SOPInstanceUID
    assert item.instance.study_instance_uid == item.study.study_instance_uid == ds.StudyInstanceUID
    assert item.series.modality == "CT" and item.instance.rows == 128
    assert item.instance.transfer_syntax_uid == ds.file_meta.TransferSyntaxUID
    assert item.instance.blob_key == "k" and item.instance.received_at == WHEN
    assert item.patient.patient_id.id == ds.PatientID
    assert item.patient.patient_id.assigning_authority == "1.2.3.4"  # default when no issuer
    assert item.study.study_date == dt.date(2004, 1, 19)


def test_dicom_json_replaces_pixel_data_by_relative_bulkdata_uri() -> None:
    body = json.loads(extract(ct()).dicom_json)
    assert body["7FE00010"] == {"vr": "OW", "BulkDataURI": f"{BULKDATA_PREFIX}7FE00010"}
    assert body["0020000D"]["vr"] == "UI"
    inline = [v["InlineBinary"] for v in body.values() if "InlineBinary" in v]
    assert all(len(b64) * 3 // 4 <= 1024 for b64 in inline)  # only small binaries inline


def test_non_ascii_patient_name_decoded() -> None:
    ds = ct()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Jürgen=山田^太郎"
    raw = io.BytesIO()
    ds.save_as(raw)
    back = pydicom.dcmread(io.BytesIO(raw.getvalue()))
    item = extract(back)
    assert item.patient.patient_name == "Müller^Jürgen=山田^太郎"
    body = json.loads(item.dicom_json)
    assert body["00100010"]["Value"][0]["Alphabetic"] == "Müller^Jürgen"
    assert body["00100010"]["Value"][0]["Ideographic"] == "山田^太郎"


def test_latin1_charset() -> None:
    ds = ct()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Ñúñez^José"
    raw = io.BytesIO()
    ds.save_as(raw)
    assert extract(pydicom.dcmread(io.BytesIO(raw.getvalue()))).patient.patient_name == "Ñúñez^José"


@pytest.mark.parametrize("keyword", ["SOPInstanceUID", "SOPClassUID", "StudyInstanceUID",
                                     "SeriesInstanceUID"])
def test_missing_uid(keyword: str) -> None:
    ds = ct()
    delattr(ds, keyword)
    with pytest.raises(RejectedInstanceError) as err:
        extract(ds)
    assert err.value.reason == "missing-uid" and keyword in err.value.detail


@pytest.mark.parametrize("bad", ["1.2.03", "1..2", "1.2.a", "1." + "2" * 70, ".1.2"])
def test_invalid_uid(bad: str) -> None:
    ds = ct()
    ds.SeriesInstanceUID = bad
    with pytest.raises(RejectedInstanceError) as err:
        extract(ds)
    assert err.value.reason == "invalid-uid"


def test_meta_and_dataset_sop_uid_must_agree() -> None:
    ds = ct()
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.999"
    with pytest.raises(RejectedInstanceError) as err:
        extract(ds)
    assert err.value.reason == "invalid-uid"


def test_issuer_of_patient_id_oid_wins_over_default() -> None:
    ds = ct()
    ds.IssuerOfPatientID = "2.16.840.1.113883.3.72"
    assert extract(ds).patient.patient_id.assigning_authority == "2.16.840.1.113883.3.72"


def test_empty_patient_id_gets_per_study_identifier() -> None:
    a, b = ct(), ct()
    a.PatientID = b.PatientID = ""
    b.StudyInstanceUID = "1.2.3.4.5"
    ida, idb = extract(a).patient.patient_id.id, extract(b).patient.patient_id.id
    assert ida.startswith("NOID-") and ida != idb


@pytest.mark.parametrize(("value", "expected"), [
    ("20240229", dt.date(2024, 2, 29)), ("20230229", None), ("", None), (None, None),
    ("2024-01-01", None), ("2024", None)])
def test_parse_da(value: object, expected: dt.date | None) -> None:
    assert parse_da(value) == expected


def test_dicom_json_small_binary_stays_inline() -> None:
    ds = Dataset()
    ds.add_new(0x00091010, "OB", b"\x01\x02")
    assert "InlineBinary" in json.loads(dicom_json(ds))["00091010"]
