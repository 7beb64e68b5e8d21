"""Frame extraction for WADO-RS ``/frames`` (PS3.18 8.7.4, 10.4.1.1.4).

Native pixel data is sliced without decoding; encapsulated pixel data is split into its
fragments' frames (PS3.5 A.4). The frame is returned in the stored transfer syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames, get_frame
from pydicom.pixels.utils import pixel_array

from imx.errors import NotFoundError, UnsupportedError

__all__ = [
    "FRAME_MEDIA_TYPES", "decode_frames", "extract_frames", "frame_media_type", "is_native",
    "read_frames",
]

_PIXEL_DATA = 0x7FE00010

# PS3.18 Table 8.7.3-2: single-frame media types of compressed transfer syntaxes.
FRAME_MEDIA_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg", "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg", "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls", "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2", "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.5": "image/x-dicom-rle",
}
_NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
           "1.2.840.10008.1.2.1.99"}


def is_native(transfer_syntax_uid: str) -> bool:
    """True when frames of this transfer syntax are plain (uncompressed) pixel bytes."""
    return transfer_syntax_uid in _NATIVE


def frame_media_type(transfer_syntax_uid: str) -> str:
    if transfer_syntax_uid in _NATIVE:
        return "application/octet-stream"
    media = FRAME_MEDIA_TYPES.get(transfer_syntax_uid)
    if media is None:
        raise UnsupportedError("frames of this transfer syntax are not served")
    return media


def extract_frames(ds: Dataset, numbers: Sequence[int]) -> list[bytes]:
    """Frames ``numbers`` (1-based) of ``ds``; NotFoundError for out-of-range numbers."""
    if "PixelData" not in ds:
        raise NotFoundError("instance has no pixel data")
    count = _check_numbers(ds, numbers)
    ts = str(ds.file_meta.TransferSyntaxUID)
    if ts in _NATIVE:
        size = _frame_bytes(ds)
        data = ds.PixelData
        return [bytes(data[(n - 1) * size:n * size]) for n in numbers]
    frames = list(generate_frames(ds.PixelData, number_of_frames=count))
    return [frames[n - 1] for n in numbers]


def _check_numbers(ds: Dataset, numbers: Sequence[int]) -> int:
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if any(n < 1 or n > count for n in numbers):
        raise NotFoundError("frame number out of range")
    return count


def read_frames(path: Path, ds: Dataset, numbers: Sequence[int]) -> list[bytes]:
    """Frames ``numbers`` (1-based) read by seeking in the stored file ``path``.

    ``ds`` is the header read with ``defer_size`` so Pixel Data is still on disk; only the
    requested frames' bytes are read (native: offset arithmetic; encapsulated: the
    Basic/Extended Offset Table via ``pydicom.encaps.get_frame``, PS3.5 A.4).
    """
    # get_item is typed as DataElement, but a deferred element comes back raw.
    raw: object = ds.get_item(_PIXEL_DATA, keep_deferred=True) if _PIXEL_DATA in ds else None
    if not isinstance(raw, RawDataElement) or raw.value is not None:
        return extract_frames(ds, numbers)  # small pixel data, already in memory
    count = _check_numbers(ds, numbers)
    ts = str(ds.file_meta.TransferSyntaxUID)
    out = []
    with path.open("rb") as fp:
        for n in numbers:
            if ts in _NATIVE:
                size = _frame_bytes(ds)
                fp.seek(raw.value_tell + (n - 1) * size)
                out.append(fp.read(size))
            else:
                fp.seek(raw.value_tell)
                out.append(get_frame(fp, n - 1, number_of_frames=count,
                                     extended_offsets=_extended_offsets(ds)))
    return out


def _frame_bytes(ds: Dataset) -> int:
    return (int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
            * int(ds.BitsAllocated)) // 8


def _extended_offsets(ds: Dataset) -> tuple[bytes, bytes] | None:
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        return bytes(ds.ExtendedOffsetTable), bytes(ds.ExtendedOffsetTableLengths)
    return None


def decode_frames(ds: Dataset, numbers: Sequence[int], *,
                  source: Path | None = None) -> list[bytes]:
    """Frames ``numbers`` (1-based) of a compressed ``ds`` as uncompressed little-endian bytes.

    PS3.18 8.7.3.3.2: ``application/octet-stream`` pixel data is uncompressed; one frame is
    decoded at a time (``index``), never the whole multi-frame.
    """
    _check_numbers(ds, numbers)
    out = []
    for n in numbers:
        try:
            # From a path pydicom reads only the frame's fragments, not all Pixel Data.
            arr = pixel_array(source or ds, index=n - 1, raw=True)
        except (NotImplementedError, RuntimeError, ValueError) as exc:
            raise UnsupportedError("cannot decompress this transfer syntax") from exc
        out.append(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
    return out
