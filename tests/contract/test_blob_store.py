"""One contract for every BlobStore, plus the file store's crash-safety guarantees."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from imx.errors import MalformedMessageError, NotFoundError, StoreError
from imx.storage.files import FileBlobStore

SHA = hashlib.sha256(b"x").hexdigest()


def key(blobs) -> str:  # type: ignore[no-untyped-def]
    return blobs.key_for(
        study_instance_uid="1.2.3",
        series_instance_uid="1.2.3.4",
        sop_instance_uid="1.2.3.4.5",
        sha256=SHA,
    )


async def test_put_read_stream_size_delete(blobs) -> None:
    k = key(blobs)
    data = bytes(range(256)) * 5000
    await blobs.put_bytes(k, data)
    assert await blobs.exists(k)
    assert await blobs.read_bytes(k) == data
    assert await blobs.size(k) == len(data)
    chunks = [c async for c in blobs.open_chunks(k, chunk_bytes=100_000)]
    assert b"".join(chunks) == data and max(len(c) for c in chunks) <= 100_000
    await blobs.delete(k)
    assert not await blobs.exists(k)
    await blobs.delete(k)  # idempotent
    with pytest.raises(NotFoundError):
        await blobs.read_bytes(k)
    with pytest.raises(NotFoundError):
        [c async for c in blobs.open_chunks(k)]


async def test_put_file(blobs, tmp_path: Path) -> None:
    src = tmp_path / "src.dcm"
    src.write_bytes(b"DICM" * 10)
    await blobs.put_file(key(blobs), src)
    assert await blobs.read_bytes(key(blobs)) == b"DICM" * 10


@pytest.mark.parametrize("uid", ["1.2.03", "../../etc", "1.2.3/4", "", "1." + "2" * 70])
def test_key_for_rejects_invalid_uids(blobs, uid: str) -> None:
    with pytest.raises(MalformedMessageError):
        blobs.key_for(
            study_instance_uid=uid, series_instance_uid="1.2", sop_instance_uid="1.2.3", sha256=SHA
        )


@pytest.mark.parametrize("bad", ["../outside.dcm", "a/../../b", "/etc/passwd", "a\\b"])
async def test_traversal_is_rejected(blobs, bad: str) -> None:
    with pytest.raises(MalformedMessageError):
        await blobs.put_bytes(bad, b"x")
    with pytest.raises(MalformedMessageError):
        await blobs.read_bytes(bad)


async def test_failed_write_leaves_no_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    k = key(blobs)
    import os

    def boom(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(StoreError):
        await blobs.put_bytes(k, b"partial")
    monkeypatch.undo()
    assert not await blobs.exists(k)
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))  # temp file cleaned up


async def test_overwrite_is_atomic_and_temp_files_are_never_objects(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    k = key(blobs)
    await blobs.put_bytes(k, b"one")
    await blobs.put_bytes(k, b"two")
    assert await blobs.read_bytes(k) == b"two"
    stray = (tmp_path / "blobs" / k).parent / ".tmp-deadbeef"
    stray.write_bytes(b"half written")
    with pytest.raises(MalformedMessageError):
        await blobs.read_bytes(str(stray.relative_to(tmp_path / "blobs")))
    assert blobs.clean_temp_files() == 1


@pytest.mark.parametrize("sha", ["", "ab" * 31, SHA.upper(), "g" * 64, SHA + "0"])
def test_key_for_rejects_invalid_sha256(blobs, sha: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedMessageError):
        blobs.key_for(
            study_instance_uid="1.2.3",
            series_instance_uid="1.2.3.4",
            sop_instance_uid="1.2.3.4.5",
            sha256=sha,
        )


def test_key_shape(blobs) -> None:  # type: ignore[no-untyped-def]
    assert key(blobs) == f"1.2.3/1.2.3.4/1.2.3.4.5.{SHA[:12]}.dcm"


@pytest.mark.parametrize("bad", ["", "a//b", "./a", "a/./b", ".tmp-1234", "a/.tmp-x", "C:\\x"])
async def test_every_method_rejects_bad_keys(blobs, bad: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedMessageError):
        await blobs.exists(bad)
    with pytest.raises(MalformedMessageError):
        await blobs.size(bad)
    with pytest.raises(MalformedMessageError):
        await blobs.delete(bad)
    with pytest.raises(MalformedMessageError):
        [c async for c in blobs.open_chunks(bad)]
    with pytest.raises(MalformedMessageError):
        blobs.local_path(bad)


async def test_put_file_from_missing_source_is_a_store_error(blobs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError):
        await blobs.put_file(key(blobs), tmp_path / "absent.dcm")
    assert not await blobs.exists(key(blobs))


async def test_local_path_is_the_real_file(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs", fsync=False)
    await blobs.put_bytes(key(blobs), b"abc")
    path = blobs.local_path(key(blobs))
    assert path is not None and path.read_bytes() == b"abc"
    assert path.is_relative_to((tmp_path / "blobs").resolve())
