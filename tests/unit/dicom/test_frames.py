"""WADO-RS frame extraction by seeking in the stored file (PS3.18 8.7.4; PS3.5 A.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames
from pydicom.pixels.utils import pixel_array

from imx.dicom.frames import decode_frames, extract_frames, frame_media_type, read_frames
from imx.errors import NotFoundError, UnsupportedError


def _testfile(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None
    return Path(path)


@pytest.fixture
def native_multiframe(tmp_path: Path) -> tuple[Path, list[bytes]]:
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    base = ds.pixel_array
    frames = [(base + i * 7).astype(base.dtype).tobytes() for i in range(3)]
    ds.NumberOfFrames = 3
    ds.PixelData = b"".join(frames)
    path = tmp_path / "mf.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, frames


def test_native_frames_read_by_offset_without_loading_pixel_data(native_multiframe) -> None:
    path, frames = native_multiframe
    ds = pydicom.dcmread(path, defer_size=4096)
    assert read_frames(path, ds, [3, 1]) == [frames[2], frames[0]]
    # Pixel Data was never pulled into the dataset: the frames came from seeks.
    assert ds.get_item(0x7FE00010, keep_deferred=True).value is None


def test_encapsulated_frames_via_offset_table() -> None:
    path = _testfile("SC_rgb_rle_2frame.dcm")
    full = pydicom.dcmread(path)
    expected = list(generate_frames(full.PixelData, number_of_frames=2))
    ds = pydicom.dcmread(path, defer_size=4096)
    assert read_frames(path, ds, [2, 1]) == [expected[1], expected[0]]
    assert extract_frames(full, [2]) == [expected[1]]
    assert frame_media_type(str(full.file_meta.TransferSyntaxUID)) == "image/x-dicom-rle"


def test_decode_one_compressed_frame_from_file() -> None:
    path = _testfile("SC_rgb_rle_2frame.dcm")
    ds = pydicom.dcmread(path, defer_size=4096)
    (frame,) = decode_frames(ds, [2], source=path)
    expected = pixel_array(pydicom.dcmread(path), index=1, raw=True)
    assert frame == expected.tobytes()
    assert len(frame) == 100 * 100 * 3
    assert np.frombuffer(frame, dtype=np.uint8).any()


def test_out_of_range_and_unsupported(native_multiframe) -> None:
    path, _ = native_multiframe
    ds = pydicom.dcmread(path, defer_size=4096)
    for bad in ([0], [4]):
        with pytest.raises(NotFoundError):
            read_frames(path, ds, bad)
    with pytest.raises(UnsupportedError):
        frame_media_type("1.2.840.10008.1.2.1.99.9")
