"""``Quarantine``: rejected inputs kept on disk with a PHI-free JSON reason beside them."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path

import anyio

__all__ = ["FileQuarantine"]


class FileQuarantine:
    """Keeps each rejected input as ``<root>/<date>/<id>.bin`` + ``<id>.json`` (reason)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root

    def _keep(self, data: bytes | None, source_path: Path | None, meta: dict[str, str]) -> Path:
        day = self._root / dt.datetime.now(dt.UTC).strftime("%Y%m%d")
        day.mkdir(parents=True, exist_ok=True)
        ident = uuid.uuid4().hex
        target = day / f"{ident}.bin"
        if data is not None:
            target.write_bytes(data)
        elif source_path is not None:
            shutil.copyfile(source_path, target)
        else:
            target.write_bytes(b"")
        sidecar = day / f"{ident}.json"
        tmp = day / f".{ident}.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        tmp.replace(sidecar)
        return target

    async def keep(
        self, *, data: bytes | None, source_path: Path | None, reason: str, detail: str, source: str
    ) -> Path:
        meta = {
            "reason": reason,
            "detail": detail,
            "source": source,
            "original_name": source_path.name if source_path is not None else "",
            "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        return await anyio.to_thread.run_sync(self._keep, data, source_path, meta)

    def list_reasons(self) -> list[dict[str, str]]:
        """Every sidecar's content (for the CLI and tests)."""
        out = []
        for sidecar in sorted(self._root.rglob("*.json")):
            out.append(json.loads(sidecar.read_text(encoding="utf-8")))
        return out
