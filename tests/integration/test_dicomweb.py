"""DICOMweb against a real uvicorn, driven by dicomweb-client (a real DICOMweb client)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from imx.dicom.synth import generate_patients, generate_study
from tests.support.server import NodeThread, running_node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with running_node(tmp_path_factory.mktemp("dw")) as n:
        yield n


@pytest.fixture(scope="module")
def client(node: NodeThread) -> DICOMwebClient:
    return DICOMwebClient(url=node.dicomweb)


@pytest.fixture(scope="module")
def study(client: DICOMwebClient) -> list[pydicom.Dataset]:
    patient = generate_patients(11, 1)[0]
    datasets = list(
        generate_study(
            patient, seed=11, series_count=2, instances_per_series=3, rows=64, columns=64
        )
    )
    result = client.store_instances(datasets)  # STOW-RS
    assert len(result.ReferencedSOPSequence) == 6
    assert "FailedSOPSequence" not in result
    return datasets


def test_qido_studies_with_wildcard_date_and_paging(client: DICOMwebClient, study) -> None:
    uid = study[0].StudyInstanceUID
    family = str(study[0].PatientName).split("^")[0]
    found = client.search_for_studies(search_filters={"PatientName": family[:3] + "*"})
    assert uid in [s["0020000D"]["Value"][0] for s in found]
    date = study[0].StudyDate
    assert client.search_for_studies(search_filters={"StudyDate": f"{date}-{date}"})
    assert client.search_for_studies(search_filters={"StudyDate": "19000101-19000102"}) == []
    one = client.search_for_studies(search_filters={"StudyInstanceUID": uid})[0]
    assert one["00201208"]["Value"] == [6] and one["00201206"]["Value"] == [2]
    assert client.search_for_studies(limit=1, offset=5) == []


def test_qido_series_instances_and_includefield(client: DICOMwebClient, study) -> None:
    uid = study[0].StudyInstanceUID
    series = client.search_for_series(uid)
    assert len(series) == 2 and all(s["00080060"]["Value"] == ["CT"] for s in series)
    insts = client.search_for_instances(uid, fields=["ImagePositionPatient"])
    assert len(insts) == 6 and all("00200032" in i for i in insts)


def test_wado_instance_study_and_metadata(client: DICOMwebClient, study) -> None:
    ds0 = study[0]
    inst = client.retrieve_instance(ds0.StudyInstanceUID, ds0.SeriesInstanceUID, ds0.SOPInstanceUID)
    assert inst.SOPInstanceUID == ds0.SOPInstanceUID
    assert inst.PixelData == ds0.PixelData
    whole = client.retrieve_study(ds0.StudyInstanceUID)
    assert sorted(d.SOPInstanceUID for d in whole) == sorted(d.SOPInstanceUID for d in study)
    meta = client.retrieve_study_metadata(ds0.StudyInstanceUID)
    assert len(meta) == 6
    pixel = next(m for m in meta if m["00080018"]["Value"][0] == ds0.SOPInstanceUID)["7FE00010"]
    assert pixel["BulkDataURI"].endswith(f"/instances/{ds0.SOPInstanceUID}/bulkdata/7FE00010")


def test_wado_frames_bulkdata_and_rendered(client: DICOMwebClient, study) -> None:
    ds0 = study[1]
    frames = client.retrieve_instance_frames(
        ds0.StudyInstanceUID, ds0.SeriesInstanceUID, ds0.SOPInstanceUID, frame_numbers=[1]
    )
    assert frames[0] == ds0.PixelData
    jpeg = client.retrieve_instance_rendered(
        ds0.StudyInstanceUID, ds0.SeriesInstanceUID, ds0.SOPInstanceUID
    )
    img = Image.open(io.BytesIO(jpeg))
    assert img.format == "JPEG" and img.size == (64, 64)
    assert max(img.getextrema()) - min(img.getextrema()) > 50  # not blank
    png = client.retrieve_instance_rendered(
        ds0.StudyInstanceUID, ds0.SeriesInstanceUID, ds0.SOPInstanceUID, media_types=("image/png",)
    )
    assert Image.open(io.BytesIO(png)).format == "PNG"
    bulk = client.retrieve_bulkdata(
        f"{client.base_url}/studies/{ds0.StudyInstanceUID}/series/"
        f"{ds0.SeriesInstanceUID}/instances/{ds0.SOPInstanceUID}/bulkdata/7FE00010"
    )
    assert bulk[0] == ds0.PixelData


def test_errors(node: NodeThread, study) -> None:
    base = node.dicomweb
    with httpx.Client() as http:
        assert http.get(f"{base}/studies/1.2.3.999").status_code == 404
        assert http.get(f"{base}/studies/not-a-uid").status_code == 400
        assert http.get(f"{base}/studies", params={"StudyDate": "2020-13-45"}).status_code == 400
        r = http.get(
            f"{base}/studies/{study[0].StudyInstanceUID}", headers={"Accept": "application/json"}
        )
        assert r.status_code == 406
        bad = http.post(
            f"{base}/studies", content=b"x", headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == 415


def test_stow_reports_failures_per_instance(node: NodeThread, study, tmp_path: Path) -> None:
    good = io.BytesIO()
    ds = generate_study(
        generate_patients(12, 1)[0],
        seed=12,
        series_count=1,
        instances_per_series=1,
        rows=32,
        columns=32,
    )
    next(ds).save_as(good, enforce_file_format=True)
    boundary = "XbndX"
    body = (
        b"".join(
            b"--"
            + boundary.encode()
            + b"\r\nContent-Type: application/dicom\r\n\r\n"
            + part
            + b"\r\n"
            for part in (good.getvalue(), b"garbage that is not DICOM")
        )
        + b"--"
        + boundary.encode()
        + b"--"
    )
    r = httpx.post(
        f"{node.dicomweb}/studies",
        content=body,
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'
        },
    )
    assert r.status_code == 202
    j = r.json()
    assert len(j["00081199"]["Value"]) == 1
    assert j["00081198"]["Value"][0]["00081197"]["Value"] == [0xC000]
