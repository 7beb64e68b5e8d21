"""DICOMDIR (PS3.10 8.5, PS3.3 F.5): the files a CD/DVD's directory references."""

from __future__ import annotations

import logging
from pathlib import Path

import pydicom

__all__ = ["files_from_dicomdir"]

log = logging.getLogger(__name__)


def files_from_dicomdir(dicomdir: Path) -> list[Path]:
    """Paths of every referenced file that exists (IDs resolved case-insensitively, since
    CDs written on one OS are read on another). An unreadable DICOMDIR yields []."""
    try:
        ds = pydicom.dcmread(dicomdir)
    except Exception:  # noqa: BLE001 - a broken DICOMDIR falls back to walking the folder
        log.warning("DICOMDIR unreadable; walking the folder instead")
        return []
    root = dicomdir.parent
    out: list[Path] = []
    for record in ds.get("DirectoryRecordSequence", []) or []:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        path = _resolve(root, parts)
        if path is not None:
            out.append(path)
    return out


def _resolve(root: Path, parts: list[str]) -> Path | None:
    current = root
    for part in parts:
        candidate = current / part
        if not candidate.exists():
            matches = [p for p in current.iterdir() if p.name.upper() == part.upper()] if current.is_dir() else []
            if not matches:
                return None
            candidate = matches[0]
        current = candidate
    if root.resolve() not in current.resolve().parents:
        return None  # a File ID must not point outside the medium
    return current if current.is_file() else None
