"""DICOMweb edge cases on a real uvicorn with httpx: compressed multi-frame frames, streaming,
empty and truncated QIDO answers, STOW study mismatch and body limits."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames
from pydicom.pixels import pixel_array

from imx.dicom.synth import generate_patients, generate_study
from imx.wire.multipart import MultipartReader, PartData, PartEnd, content_type_params
from tests.support.server import NodeThread, running_node

DICOM = 'multipart/related; type="application/dicom"; boundary=XbndX'


def _stow_body(*parts: bytes) -> bytes:
    body = b"".join(b"--XbndX\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
                    for p in parts)
    return body + b"--XbndX--\r\n"


def _parts(r: httpx.Response) -> list[bytes]:
    _, params = content_type_params(r.headers["content-type"])
    out, cur = [], bytearray()
    for event in MultipartReader(params["boundary"]).feed(r.content):
        if isinstance(event, PartData):
            cur += event.data
        elif isinstance(event, PartEnd):
            out.append(bytes(cur))
            cur = bytearray()
    return out


def _synth(seed: int, n: int = 1, size: int = 32) -> list[bytes]:
    out = []
    for ds in generate_study(generate_patients(seed, 1)[0], seed=seed, series_count=1,
                             instances_per_series=n, rows=size, columns=size):
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append(buf.getvalue())
    return out


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with running_node(tmp_path_factory.mktemp("dwe"), http={"max_body_bytes": 200_000},
                      ingest={"max_instance_bytes": 60_000}) as n:
        yield n


@pytest.fixture(scope="module")
def rle(node: NodeThread) -> pydicom.Dataset:
    path = get_testdata_file("SC_rgb_rle_2frame.dcm")
    assert path is not None
    data = Path(path).read_bytes()
    r = httpx.post(f"{node.dicomweb}/studies", content=_stow_body(data),
                   headers={"Content-Type": DICOM})
    assert r.status_code == 200, r.text
    return pydicom.dcmread(io.BytesIO(data))


def _frames_url(node: NodeThread, ds: pydicom.Dataset, frames: str) -> str:
    return (f"{node.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
            f"/instances/{ds.SOPInstanceUID}/frames/{frames}")


def test_compressed_frames_native_or_decompressed(node: NodeThread, rle: pydicom.Dataset) -> None:
    url = _frames_url(node, rle, "2")
    native = httpx.get(url, headers={"Accept": 'multipart/related; type="image/x-dicom-rle"'})
    assert native.status_code == 200
    assert _parts(native) == [list(generate_frames(rle.PixelData, number_of_frames=2))[1]]
    raw = httpx.get(url, headers={"Accept": 'multipart/related; type="application/octet-stream"'})
    assert raw.status_code == 200
    assert 'type="application/octet-stream"' in raw.headers["content-type"]
    assert _parts(raw) == [pixel_array(rle, index=1, raw=True).tobytes()]
    jp2 = httpx.get(url, headers={"Accept": 'multipart/related; type="image/jp2"'})
    assert jp2.status_code == 406
    assert httpx.get(_frames_url(node, rle, "3")).status_code == 404
    assert httpx.get(_frames_url(node, rle, "1,x")).status_code == 400


def test_rendered_frame_of_multiframe(node: NodeThread, rle: pydicom.Dataset) -> None:
    r = httpx.get(_frames_url(node, rle, "2") + "/rendered", headers={"Accept": "image/png"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/png")
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (100, 100)
    bad = httpx.get(_frames_url(node, rle, "1") + "/rendered", headers={"Accept": "image/gif"})
    assert bad.status_code == 406
    any_image = httpx.get(_frames_url(node, rle, "1") + "/rendered", headers={"Accept": "image/*"})
    assert any_image.headers["content-type"].startswith("image/jpeg")
    lo, hi = img.convert("L").getextrema()
    assert hi - lo > 50


def test_qido_empty_is_200_and_limit_warns(node: NodeThread, rle: pydicom.Dataset) -> None:
    # A deliberate choice, see docs/dicomweb.md: PS3.18's search status tables list 204 for
    # "no matching results"; we answer 200 with [] (as Orthanc does) so naive clients parse it.
    r = httpx.get(f"{node.dicomweb}/studies", params={"PatientID": "NOBODY-HERE"})
    assert r.status_code == 200 and r.json() == []
    assert r.headers["content-type"].startswith("application/dicom+json")
    assert httpx.get(f"{node.dicomweb}/studies", params={"limit": "1000"}).headers.get(
        "warning") is None
    r = httpx.get(f"{node.dicomweb}/instances", params={"limit": "1"})
    assert len(r.json()) == 1 and "299" in r.headers["warning"]


def test_study_retrieve_is_streamed(node: NodeThread) -> None:
    parts = _synth(31, 3)
    assert httpx.post(f"{node.dicomweb}/studies", content=_stow_body(*parts),
                      headers={"Content-Type": DICOM}).status_code == 200
    study = pydicom.dcmread(io.BytesIO(parts[0])).StudyInstanceUID
    with httpx.stream("GET", f"{node.dicomweb}/studies/{study}",
                      headers={"Accept": 'multipart/related; type="application/dicom"'}) as r:
        assert r.status_code == 200
        # No Content-Length: the body is produced instance by instance from the blob store.
        assert "content-length" not in r.headers
        assert r.headers.get("transfer-encoding") == "chunked"
        r.read()
    assert sorted(_parts(r)) == sorted(parts)


def test_stow_to_other_study_fails_that_instance(node: NodeThread) -> None:
    data = _synth(32)[0]
    r = httpx.post(f"{node.dicomweb}/studies/1.2.3.4.5", content=_stow_body(data),
                   headers={"Content-Type": DICOM})
    assert r.status_code == 409
    failed = r.json()["00081198"]["Value"][0]
    assert failed["00081197"]["Value"] == [0xA900]


def test_stow_body_over_limit_is_413(node: NodeThread) -> None:
    big = _stow_body(*_synth(33, 1)) + b"x" * 250_000
    r = httpx.post(f"{node.dicomweb}/studies", content=big, headers={"Content-Type": DICOM})
    assert r.status_code == 413


def test_stow_part_over_instance_limit_fails_alone(node: NodeThread) -> None:
    small, big = _synth(34)[0], _synth(35, size=200)[0]
    assert len(big) > 60_000 > len(small)
    r = httpx.post(f"{node.dicomweb}/studies", content=_stow_body(small, big),
                   headers={"Content-Type": DICOM})
    assert r.status_code == 202
    j = r.json()
    assert len(j["00081199"]["Value"]) == 1
    assert j["00081198"]["Value"][0]["00081197"]["Value"] == [0xA700]  # out of resources
