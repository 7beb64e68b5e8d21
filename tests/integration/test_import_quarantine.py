"""FileQuarantine: the rejected bytes kept beside a JSON reason, written whole."""

from __future__ import annotations

import json
from pathlib import Path

from imx.ports import Quarantine
from imx.storage.quarantine import FileQuarantine


async def test_keep_bytes_and_file_with_sidecars(tmp_path: Path) -> None:
    q = FileQuarantine(tmp_path / "q")
    assert isinstance(q, Quarantine)
    kept = await q.keep(data=b"not dicom", source_path=None, reason="not-dicom",
                        detail="no DICM prefix", source="STOW-RS")
    src = tmp_path / "IM000001"
    src.write_bytes(b"\x00" * 300)
    kept_file = await q.keep(data=None, source_path=src, reason="truncated",
                             detail="ends inside an element", source="import:IM000001")
    assert kept.read_bytes() == b"not dicom"
    assert kept_file.read_bytes() == src.read_bytes() and src.exists()  # copied, not moved
    side = json.loads(kept_file.with_suffix(".json").read_text())
    assert side["reason"] == "truncated" and side["source"] == "import:IM000001"
    assert side["original_name"] == "IM000001" and side["quarantined_at"]
    assert sorted(r["reason"] for r in q.list_reasons()) == ["not-dicom", "truncated"]
    assert not list((tmp_path / "q").rglob(".*.tmp"))  # sidecars renamed into place


async def test_keep_without_bytes_records_reason_only(tmp_path: Path) -> None:
    q = FileQuarantine(tmp_path / "q")
    kept = await q.keep(data=None, source_path=None, reason="too-large",
                        detail="zip member larger than the limit", source="import:x.zip!BOMB")
    assert kept.read_bytes() == b""
    assert q.list_reasons()[0]["reason"] == "too-large"
