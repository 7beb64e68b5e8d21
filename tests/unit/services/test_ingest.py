"""Ingest: stored, duplicate, conflict policy, every bad-input reason; store untouched on reject."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from imx.services.ingest import IngestService, IngestStatus
from imx.settings import IngestSettings, NodeSettings
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryMetadataStore,
    InMemoryQuarantine,
    RecordingAuditSink,
)

CT = Path(get_testdata_file("CT_small.dcm")).read_bytes()


def make(on_conflict: str = "reject", max_bytes: int = 10_000_000):  # type: ignore[no-untyped-def]
    metadata, blobs, q = InMemoryMetadataStore(), InMemoryBlobStore(), InMemoryQuarantine()
    svc = IngestService(
        metadata=metadata,
        blobs=blobs,
        quarantine=q,
        audit=RecordingAuditSink(),
        clock=FakeClock(),
        settings=IngestSettings(on_conflict=on_conflict, max_instance_bytes=max_bytes),
        node=NodeSettings(),
    )
    return svc, metadata, blobs, q


def mutate(**changes: object) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(CT))
    mode = pydicom.config.settings.writing_validation_mode
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the point is to write invalid values
            for k, v in changes.items():
                if v is None:
                    delattr(ds, k)
                else:
                    setattr(ds, k, v)
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
    finally:
        pydicom.config.settings.writing_validation_mode = mode
    return out.getvalue()


async def test_store_then_duplicate_is_a_noop() -> None:
    svc, metadata, blobs, _ = make()
    first = await svc.ingest_bytes(CT, source="test")
    assert first.status is IngestStatus.STORED
    stored_objects = dict(blobs.objects)
    again = await svc.ingest_bytes(CT, source="test")
    assert again.status is IngestStatus.DUPLICATE
    assert blobs.objects == stored_objects
    inst = await metadata.get_instance(first.sop_instance_uid)
    assert inst is not None and blobs.objects[inst.blob_key] == CT
    assert inst.study_instance_uid == first.study_instance_uid


async def test_conflict_rejected_by_default_keeps_first_copy() -> None:
    svc, _metadata, blobs, q = make()
    await svc.ingest_bytes(CT, source="test")
    before = dict(blobs.objects)
    changed = mutate(PatientName="Changed^Name")
    r = await svc.ingest_bytes(changed, source="test")
    assert r.status is IngestStatus.REJECTED and r.reason == "conflict"
    assert blobs.objects == before
    assert q.kept[-1]["reason"] == "conflict"


async def test_conflict_replace_policy_keeps_newest_and_drops_old_blob() -> None:
    svc, metadata, blobs, _ = make(on_conflict="replace")
    first = await svc.ingest_bytes(CT, source="test")
    changed = mutate(PatientName="Changed^Name")
    r = await svc.ingest_bytes(changed, source="test")
    assert r.status is IngestStatus.REPLACED
    inst = await metadata.get_instance(first.sop_instance_uid)
    assert blobs.objects == {inst.blob_key: changed}


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"this is not dicom at all" * 10, "not-dicom"),
        (CT[:1000], "truncated"),
        (CT[:-50], "truncated"),
        (mutate(SOPInstanceUID=None), "missing-uid"),
        (mutate(StudyInstanceUID=None), "missing-uid"),
        (mutate(SeriesInstanceUID="1.2.03.4"), "invalid-uid"),
        (mutate(StudyInstanceUID="../../../etc/passwd"), "invalid-uid"),
        (mutate(StudyInstanceUID="1." + "2" * 80), "invalid-uid"),
    ],
)
async def test_bad_input_rejected_with_reason_and_store_unchanged(data: bytes, reason: str) -> None:
    svc, metadata, blobs, q = make()
    ok = await svc.ingest_bytes(CT, source="test")
    before_blobs = dict(blobs.objects)
    before_instances = dict(metadata.instances)
    r = await svc.ingest_bytes(data, source="test")
    assert r.status is IngestStatus.REJECTED and r.reason == reason
    assert blobs.objects == before_blobs and metadata.instances == before_instances
    assert q.kept[-1]["reason"] == reason and q.kept[-1]["data"] == data
    assert ok.sop_instance_uid in metadata.instances


async def test_too_large_is_rejected_before_parsing(tmp_path: Path) -> None:
    svc, metadata, _, q = make(max_bytes=1000)
    r = await svc.ingest_bytes(CT, source="test")
    assert r.status is IngestStatus.REJECTED and r.reason == "too-large"
    f = tmp_path / "big.dcm"
    f.write_bytes(CT)
    r2 = await svc.ingest_file(f, source="test")
    assert r2.reason == "too-large" and q.kept[-1]["source_path"] == f
    assert metadata.instances == {}


async def test_listener_failure_does_not_fail_ingest() -> None:
    svc, _metadata, _, _ = make()

    class Boom:
        async def instance_stored(self, stored, result) -> None:  # type: ignore[no-untyped-def]
            raise RuntimeError("listener bug")

    seen = []

    class Ok:
        async def instance_stored(self, stored, result) -> None:  # type: ignore[no-untyped-def]
            seen.append(result.status)

    svc.add_listener(Boom())
    svc.add_listener(Ok())
    r = await svc.ingest_bytes(CT, source="test")
    assert r.status is IngestStatus.STORED and seen == [IngestStatus.STORED]


async def test_cstore_door_keeps_received_dataset_bytes() -> None:
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = pydicom.dcmread(io.BytesIO(CT))
    buf = DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, True
    write_dataset(buf, ds)
    raw = bytes(buf.getvalue())
    meta = Dataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    svc, metadata, blobs, _ = make()
    r = await svc.ingest_dataset(meta, raw, source="AE:MODALITY")
    assert r.status is IngestStatus.STORED and r.transfer_syntax_uid == "1.2.840.10008.1.2"
    inst = await metadata.get_instance(ds.SOPInstanceUID)
    assert inst is not None and blobs.objects[inst.blob_key].endswith(raw)  # no re-encode


async def test_cstore_door_without_transfer_syntax_is_rejected() -> None:
    from pydicom.dataset import Dataset

    svc, metadata, _, q = make()
    r = await svc.ingest_dataset(Dataset(), b"\x08\x00\x16\x00", source="AE:X")
    assert r.status is IngestStatus.REJECTED and r.reason == "missing-uid"
    assert metadata.instances == {} and q.kept[-1]["reason"] == "missing-uid"


async def test_concurrent_copies_of_one_instance_store_once() -> None:
    import anyio

    svc, metadata, blobs, _ = make()
    results: list[IngestStatus] = []

    async def one() -> None:
        results.append((await svc.ingest_bytes(CT, source="test")).status)

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(one)
    assert sorted(s.value for s in results) == ["duplicate"] * 5 + ["stored"]
    assert len(blobs.objects) == 1 and len(metadata.instances) == 1


async def test_db_failure_removes_the_new_blob_and_raises() -> None:
    from imx.errors import StoreError

    svc, metadata, blobs, _ = make()

    async def broken(item, *, replace=True):  # type: ignore[no-untyped-def]
        raise StoreError("database down")

    metadata.store_instance = broken  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        await svc.ingest_bytes(CT, source="test")
    assert blobs.objects == {}  # no orphan left behind, and never a row without bytes


async def test_rejection_is_audited_without_phi() -> None:
    svc, _, _, _ = make()
    audit = svc._audit  # the RecordingAuditSink passed in make()
    changed = mutate(PatientName="Secret^Person", SOPInstanceUID=None)
    await svc.ingest_bytes(changed, source="test")
    rec = audit.records[-1]  # type: ignore[attr-defined]
    assert rec.event == "dicom-instance-rejected" and "missing-uid" in rec.detail
    assert "Secret" not in repr(rec)


async def test_listeners_only_hear_committed_instances() -> None:
    svc, _, _, _ = make()
    seen: list[str] = []

    class Rec:
        async def instance_stored(self, stored, result) -> None:  # type: ignore[no-untyped-def]
            seen.append(result.status.value)

    svc.add_listener(Rec())
    await svc.ingest_bytes(CT, source="test")
    await svc.ingest_bytes(CT, source="test")  # duplicate
    await svc.ingest_bytes(b"junk" * 100, source="test")  # rejected
    await svc.ingest_bytes(mutate(PatientName="Other^Name"), source="test")  # conflict
    assert seen == ["stored"]


def test_in_thread_door_matches_the_async_one() -> None:
    """C-STORE's door: parse and blob write on the caller's thread, the rest on the loop."""
    import asyncio
    import threading

    from pydicom.filebase import DicomBytesIO

    svc, metadata, blobs, q = make()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    def split(data: bytes):  # type: ignore[no-untyped-def]
        ds = pydicom.dcmread(io.BytesIO(data))
        raw = DicomBytesIO()
        raw.is_little_endian, raw.is_implicit_VR = True, False
        pydicom.filewriter.write_dataset(raw, ds)
        return ds.file_meta, raw.getvalue()

    try:
        meta, raw = split(CT)
        first = svc.ingest_dataset_in_thread(meta, raw, source="t", run=run)
        assert first.status is IngestStatus.STORED
        inst = run(metadata.get_instance(first.sop_instance_uid))
        assert blobs.objects[inst.blob_key].endswith(raw)  # dataset bytes kept as received
        again = svc.ingest_dataset_in_thread(meta, raw, source="t", run=run)
        assert again.status is IngestStatus.DUPLICATE
        meta2, raw2 = split(mutate(PatientName="Other^Name"))
        conflict = svc.ingest_dataset_in_thread(meta2, raw2, source="t", run=run)
        assert conflict.status is IngestStatus.REJECTED and conflict.reason == "conflict"
        assert list(blobs.objects) == [inst.blob_key]  # the conflicting blob was removed
        bad = svc.ingest_dataset_in_thread(meta, raw[:100], source="t", run=run)
        assert bad.status is IngestStatus.REJECTED
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
