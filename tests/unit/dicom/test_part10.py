"""Part-10 framing (PS3.10 7.1): encode around received dataset bytes, strict reading."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.filewriter import write_dataset

from imx.dicom.part10 import IMPLEMENTATION_CLASS_UID, encode_part10, has_part10_header, read_part10
from imx.errors import RejectedInstanceError

CT = Path(get_testdata_file("CT_small.dcm")).read_bytes()


def raw_dataset(ds: Dataset, *, implicit: bool = False) -> bytes:
    """The dataset bytes as a C-STORE SCP receives them (no preamble, no group 0002)."""
    buf = pydicom.filebase.DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, implicit
    write_dataset(buf, ds)
    return bytes(buf.getvalue())


def file_meta(ds: Dataset, ts: str = "1.2.840.10008.1.2.1") -> Dataset:
    meta = Dataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    return meta


def test_encode_keeps_dataset_bytes_and_frames_them() -> None:
    ds = pydicom.dcmread(io.BytesIO(CT))
    raw = raw_dataset(ds)
    data = encode_part10(file_meta(ds), raw)
    assert data[:128] == b"\x00" * 128 and data[128:132] == b"DICM"
    assert data.endswith(raw)  # what was sent is what is stored
    back = read_part10(data)
    assert back.SOPInstanceUID == ds.SOPInstanceUID
    assert back.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    # PS3.10 7.1: (0002,0000) counts the bytes of the rest of group 0002
    meta_len = len(data) - len(raw) - 132
    group_length = int.from_bytes(data[140:144], "little")
    assert group_length == meta_len - 12


def test_encode_implicit_vr_dataset_round_trips() -> None:
    ds = pydicom.dcmread(io.BytesIO(CT))
    data = encode_part10(file_meta(ds, "1.2.840.10008.1.2"), raw_dataset(ds, implicit=True))
    back = read_part10(data)
    assert back.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    assert back.PatientName == ds.PatientName


def test_encode_without_transfer_syntax_is_rejected() -> None:
    ds = pydicom.dcmread(io.BytesIO(CT))
    meta = file_meta(ds)
    del meta.TransferSyntaxUID
    with pytest.raises(RejectedInstanceError) as err:
        encode_part10(meta, raw_dataset(ds))
    assert err.value.reason == "missing-uid"


def test_has_part10_header() -> None:
    assert has_part10_header(CT)
    assert not has_part10_header(b"DICM")
    assert not has_part10_header(b"\x00" * 200)


@pytest.mark.parametrize("data", [b"", b"hello world", b"%PDF-1.7\n" + b"x" * 500])
def test_not_dicom(data: bytes) -> None:
    with pytest.raises(RejectedInstanceError) as err:
        read_part10(data)
    assert err.value.reason == "not-dicom"


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_truncated_file(cut: float) -> None:
    with pytest.raises(RejectedInstanceError) as err:
        read_part10(CT[: int(len(CT) * cut)])
    assert err.value.reason == "truncated"


def test_garbage_after_magic_is_rejected_not_raised_raw() -> None:
    data = b"\x00" * 128 + b"DICM" + b"\xff" * 64
    with pytest.raises(RejectedInstanceError) as err:
        read_part10(data)
    assert err.value.reason in {"not-dicom", "truncated", "unreadable"}
