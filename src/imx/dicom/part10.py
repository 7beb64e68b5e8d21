"""DICOM Part-10 framing (PS3.10 7.1): preamble, ``DICM``, File Meta Information, dataset.

Pure functions over bytes; one instance in memory at a time.
"""

from __future__ import annotations

import io

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID

from imx.errors import RejectedInstanceError

__all__ = ["IMPLEMENTATION_CLASS_UID", "encode_part10", "has_part10_header", "read_part10"]

# imx's Implementation Class UID (PS3.7 D.3.3.2), under the synthetic-data root of the project.
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1492.1"
IMPLEMENTATION_VERSION_NAME = "IMX_010"


def has_part10_header(data: bytes) -> bool:
    """True if ``data`` starts with the 128-byte preamble and ``DICM`` (PS3.10 7.1)."""
    return len(data) >= 132 and data[128:132] == b"DICM"


def encode_part10(file_meta: Dataset, raw_dataset: bytes) -> bytes:
    """Frame an already-encoded dataset (as received over DIMSE) as a Part-10 file.

    The dataset bytes are kept exactly as received, so what is stored is what was sent;
    the File Meta group is rebuilt with a correct group length (PS3.10 7.1).
    """
    meta = FileMetaDataset()
    for elem in file_meta:
        if elem.tag.group == 0x0002 and elem.tag.element != 0x0000:
            meta.add(elem)
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    for required in ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID", "TransferSyntaxUID"):
        if not getattr(meta, required, None):
            raise RejectedInstanceError(f"file meta lacks {required}", reason="missing-uid")
    buf = DicomBytesIO()
    buf.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buf, meta, enforce_standard=True)
    return bytes(buf.getvalue()) + raw_dataset


def _is_truncated(ds: Dataset) -> bool:
    # pydicom reads short values without error: compare each raw element's declared
    # length with the bytes actually present (PS3.5 7.1: defined-length values).
    for raw in ds._dict.values():  # raw (not yet converted) elements
        length = getattr(raw, "length", None)
        value = getattr(raw, "value", None)
        if (length is not None and length != 0xFFFFFFFF and isinstance(value, bytes)
                and len(value) != length):
            return True
    return False


def read_part10(data: bytes, *, stop_before_pixels: bool = False) -> pydicom.FileDataset:
    """Parse a Part-10 file strictly enough to trust its header.

    Raises RejectedInstanceError with reason ``not-dicom`` (no preamble/DICM or no
    readable meta), ``truncated`` (ends inside an element) or ``unreadable``.
    """
    if not has_part10_header(data):
        raise RejectedInstanceError("not a DICOM Part-10 file (no DICM prefix)", reason="not-dicom")
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=stop_before_pixels)
        if _is_truncated(ds):
            raise RejectedInstanceError("DICOM file ends inside an element", reason="truncated")
    except RejectedInstanceError:
        raise
    except (EOFError, ValueError, OSError) as exc:
        text = str(exc).lower()
        reason = "truncated" if ("end of file" in text or "eof" in text or "truncat" in text
                                 or isinstance(exc, EOFError)) else "unreadable"
        raise RejectedInstanceError("DICOM file could not be read", reason=reason) from exc
    except Exception as exc:  # pydicom raises many types on garbage: translate
        raise RejectedInstanceError("DICOM file could not be read", reason="unreadable") from exc
    if "TransferSyntaxUID" not in ds.file_meta:
        raise RejectedInstanceError("file meta lacks the transfer syntax", reason="not-dicom")
    return ds
