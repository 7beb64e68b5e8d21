"""Transcoding between uncompressed transfer syntaxes (PS3.5 A.1-A.3; RAD TF-3 4.69.4.2.3).

RAD-69 asks for one of a list of transfer syntaxes. An instance stored in one of
them is sent unchanged (bit-identical). Otherwise it is re-encoded when both the
stored and a requested syntax are uncompressed (native pixel data re-encodes without
loss); compressed ↔ other conversions are refused (``can_transcode`` is False) and the
caller reports a per-instance error.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pydicom
from pydicom.uid import UID

from imx.errors import MalformedMessageError, UnsupportedError

__all__ = ["UNCOMPRESSED", "can_transcode", "choose_transfer_syntax", "transcode_part10"]

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
# Explicit VR Big Endian (retired, PS3.5 A.3) is not converted: it needs pixel byte swapping.
UNCOMPRESSED = frozenset({EXPLICIT_LE, IMPLICIT_LE})
# Preference when several requested syntaxes would do (PS3.5 A.2: Explicit LE is the default
# most consumers read; Implicit LE is the one every DICOM implementation reads).
_PREFERENCE = (EXPLICIT_LE, IMPLICIT_LE)


def choose_transfer_syntax(stored: str, requested: Sequence[str]) -> str | None:
    """The syntax to send: the stored one if requested, else an uncompressed conversion, else None."""
    if stored in requested:
        return stored
    if stored in UNCOMPRESSED:
        for ts in _PREFERENCE:
            if ts in requested:
                return ts
    return None


def can_transcode(stored: str, target: str) -> bool:
    return stored == target or (stored in UNCOMPRESSED and target in UNCOMPRESSED)


def transcode_part10(data: bytes, target: str) -> bytes:
    """Re-encode a Part-10 file in ``target`` (uncompressed only); one instance in memory."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for bad input
        raise MalformedMessageError("stored instance is not readable DICOM") from exc
    stored = str(ds.file_meta.TransferSyntaxUID)
    if not can_transcode(stored, target):
        raise UnsupportedError("cannot convert between these transfer syntaxes")
    if stored == target:
        return data
    ds.file_meta.TransferSyntaxUID = UID(target)
    out = io.BytesIO()
    # pydicom 3: encoding follows file_meta.TransferSyntaxUID when writing a Part-10 file.
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
