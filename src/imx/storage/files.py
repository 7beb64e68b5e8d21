"""``BlobStore`` on the local filesystem: atomic writes (temp file, fsync, rename, fsync dir).

Keys are relative paths built by ``key_for`` from validated UIDs; every method
re-validates its key, so no caller can reach outside the root (no traversal).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from imx.errors import MalformedMessageError, NotFoundError, StoreError
from imx.model.identifiers import is_valid_uid

__all__ = ["FileBlobStore", "check_key", "instance_key"]

_KEY = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*(/[0-9A-Za-z][0-9A-Za-z._-]*)*$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"


def instance_key(*, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str,
                 sha256: str) -> str:
    """The blob key of one instance: ``<study>/<series>/<sop>.<sha256[:12]>.dcm``.

    Built only from validated UIDs and a hex digest (no raw input reaches a path); the
    content hash keeps two different copies of one SOP Instance UID apart.
    """
    for uid in (study_instance_uid, series_instance_uid, sop_instance_uid):
        if not is_valid_uid(uid):
            raise MalformedMessageError("invalid UID in blob key")
    if not _SHA.match(sha256):
        raise MalformedMessageError("invalid sha256 in blob key")
    return f"{study_instance_uid}/{series_instance_uid}/{sop_instance_uid}.{sha256[:12]}.dcm"


def check_key(key: str) -> None:
    """Refuse any key that is not relative, plain and ours: no traversal, no temp files."""
    parts = key.split("/")
    if not _KEY.match(key) or ".." in parts or any(p.startswith(TEMP_PREFIX) for p in parts):
        raise MalformedMessageError("invalid blob key")


class FileBlobStore:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self._root = root.resolve()
        self._root_prefix = str(self._root).rstrip(os.sep) + os.sep  # "/" stays "/"
        self._fsync = fsync
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def key_for(
        self,
        *,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        sha256: str,
    ) -> str:
        return instance_key(study_instance_uid=study_instance_uid,
                            series_instance_uid=series_instance_uid,
                            sop_instance_uid=sop_instance_uid, sha256=sha256)

    def _path(self, key: str) -> Path:
        check_key(key)
        path = self._root / key
        # Belt and braces after check_key; a string prefix, not `in path.parents` (which
        # builds every parent: a RAD-69 answer resolves hundreds of keys before its first byte).
        if not str(path).startswith(self._root_prefix):
            raise MalformedMessageError("invalid blob key")
        return path

    def _fsync_dir(self, directory: Path) -> None:
        if not self._fsync:
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ensure_dir(self, directory: Path) -> None:
        """Create ``directory`` (and parents); a new directory's entry is made durable too,
        or a crash could lose a whole new series folder with its fsync'd files."""
        if directory.is_dir():
            return
        self._ensure_dir(directory.parent)
        try:
            directory.mkdir()
        except FileExistsError:
            return
        self._fsync_dir(directory.parent)

    def _write_atomic(self, path: Path, data: bytes | None, source: Path | None) -> None:
        self._ensure_dir(path.parent)
        tmp = path.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        try:
            if source is not None:
                shutil.copyfile(source, tmp)
                if self._fsync:
                    with tmp.open("rb+") as fh:
                        os.fsync(fh.fileno())
            else:
                with tmp.open("wb") as fh:
                    fh.write(data or b"")
                    fh.flush()
                    if self._fsync:
                        # data and size are what a reader needs; the rename below is made
                        # durable by the directory fsync
                        os.fdatasync(fh.fileno())
            tmp.replace(path)
            self._fsync_dir(path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError("blob write failed") from exc

    async def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(self._write_atomic, path, data, None)

    def put_bytes_blocking(self, key: str, data: bytes) -> None:
        self._write_atomic(self._path(key), data, None)

    async def put_file(self, key: str, source: Path) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(self._write_atomic, path, None, source)

    async def open_chunks(self, key: str, *, chunk_bytes: int = 1 << 20) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fh = await anyio.open_file(path, "rb")
        except FileNotFoundError as exc:
            raise NotFoundError("blob not found") from exc
        async with fh:
            while chunk := await fh.read(chunk_bytes):
                yield chunk

    async def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await anyio.Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError("blob not found") from exc

    async def size(self, key: str) -> int:
        try:
            return (await anyio.Path(self._path(key)).stat()).st_size
        except FileNotFoundError as exc:
            raise NotFoundError("blob not found") from exc

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).is_file()

    async def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            await anyio.Path(path).unlink()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def clean_temp_files(self) -> int:
        """Remove temp files left by writes interrupted by a crash; returns how many."""
        removed = 0
        for tmp in self._root.rglob(f"{TEMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed += 1
        return removed
