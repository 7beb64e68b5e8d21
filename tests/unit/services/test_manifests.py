"""Manifests follow the study: built once quiet, rebuilt on change (old entry Deprecated),
full DocumentEntry metadata; SR and PDF reports are registered as documents."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import subprocess
from pathlib import Path

import anyio
import pydicom
import pytest
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from imx.dicom.kos import parse_manifest
from imx.dicom.synth import generate_patients, generate_study
from imx.model.document import DocumentKind
from imx.model.query import ImagingQuery, QueryLevel
from imx.services.ingest import IngestService
from imx.services.manifests import ManifestService
from imx.settings import IngestSettings, ManifestSettings, NodeSettings
from tests.conftest import require_tool
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryMetadataStore,
    InMemoryQuarantine,
    RecordingAuditSink,
)
from tests.support.node import open_test_node

APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"


@dataclasses.dataclass
class Node:
    ingest: IngestService
    manifests: ManifestService
    md: InMemoryMetadataStore
    blobs: InMemoryBlobStore
    clock: FakeClock
    audit: RecordingAuditSink


def node(debounce_s: float = 0) -> Node:
    md, blobs, clock, audit = (InMemoryMetadataStore(), InMemoryBlobStore(), FakeClock(),
                               RecordingAuditSink())
    settings = NodeSettings()
    ingest = IngestService(metadata=md, blobs=blobs, quarantine=InMemoryQuarantine(), audit=audit,
                           clock=clock, settings=IngestSettings(), node=settings)
    manifests = ManifestService(metadata=md, blobs=blobs, clock=clock, audit=audit, node=settings,
                                settings=ManifestSettings(debounce_s=debounce_s),
                                retrieve_ae_title="IMX_AE")
    ingest.add_listener(manifests)
    return Node(ingest, manifests, md, blobs, clock, audit)


def part10(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def study_of(seed: int, n_series: int = 1, per_series: int = 2) -> list[FileDataset]:
    return list(generate_study(generate_patients(seed, 1)[0], seed=seed, series_count=n_series,
                               instances_per_series=per_series, rows=16, columns=16))


async def ingest_all(n: Node, datasets: list[FileDataset]) -> None:
    for ds in datasets:
        await n.ingest.ingest_bytes(part10(ds), source="t")


async def kos_of(n: Node, blob_key: str) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(await n.blobs.read_bytes(blob_key)))


async def test_manifest_built_then_rebuilt_when_study_changes() -> None:
    n = node()
    study = study_of(5, n_series=2, per_series=3)
    await ingest_all(n, study[:4])
    (first,) = await n.manifests.flush()
    assert first.status == APPROVED and first.kind == DocumentKind.MANIFEST
    assert parse_manifest(await kos_of(n, first.blob_key)).instance_count() == 4
    assert await n.manifests.flush() == []  # nothing dirty
    assert await n.manifests.rebuild_study(study[0].StudyInstanceUID) == first  # same set: kept
    n.clock.advance(60)
    await ingest_all(n, study[4:])
    (second,) = await n.manifests.flush()
    assert second.document_unique_id != first.document_unique_id
    old = await n.md.get_document(first.document_unique_id)
    assert old is not None and old.status == DEPRECATED
    kos2 = await kos_of(n, second.blob_key)
    assert {sop for s in parse_manifest(kos2).series for _c, sop in s.instances} == {
        d.SOPInstanceUID for d in study}
    assert kos2.InstanceNumber == 2 and kos2.SeriesInstanceUID == (
        await kos_of(n, first.blob_key)).SeriesInstanceUID
    assert await n.manifests.manifest_for_study(study[0].StudyInstanceUID) == second
    assert [r.outcome for r in n.audit.records if r.event == "manifest-published"] == [
        "success", "success"]


async def test_manifest_is_a_document_not_an_instance_of_the_study() -> None:
    n = node()
    study = study_of(8)
    await ingest_all(n, study)
    (entry,) = await n.manifests.flush()
    uid = study[0].StudyInstanceUID
    assert [i.sop_instance_uid for i in await n.md.list_instances(uid)] == [
        d.SOPInstanceUID for d in study]
    query = ImagingQuery(level=QueryLevel.IMAGE, study_instance_uids=(uid,))
    found = await n.md.find_instances(query)
    assert entry.document_unique_id not in {i.sop_instance_uid for i in found}
    assert await n.md.get_instance(entry.document_unique_id) is None


async def test_document_entry_metadata_is_complete() -> None:
    n = node()
    study = study_of(6)
    await ingest_all(n, study)
    (e,) = await n.manifests.flush()
    ds0, kos = study[0], await kos_of(n, e.blob_key)
    assert e.document_unique_id == kos.SOPInstanceUID and e.entry_uuid.startswith("urn:uuid:")
    assert e.mime_type == "application/dicom"
    assert (e.format_code.code, e.format_code.scheme) == (
        "1.2.840.10008.5.1.4.1.1.88.59", "1.2.840.10008.2.6.1")
    assert (e.class_code.code, e.class_code.scheme) == ("IMAGES", "1.3.6.1.4.1.19376.1.2.6.1")
    assert (e.type_code.code, e.type_code.scheme) == ("18748-4", "2.16.840.1.113883.6.1")
    assert (e.confidentiality_code.code, e.confidentiality_code.scheme) == (
        "N", "2.16.840.1.113883.5.25")
    assert e.healthcare_facility_type_code.code == "22232009"
    assert e.practice_setting_code.code == "394914008" and e.language_code == "en-US"
    assert (e.event_codes[0].code, e.event_codes[0].scheme) == ("CT", "1.2.840.10008.2.16.4")
    assert len(e.event_codes) == 2 and e.event_codes[1].scheme == "2.16.840.1.113883.6.96"
    assert e.patient_id.id == ds0.PatientID
    assert e.patient_id.assigning_authority == ds0.IssuerOfPatientID
    assert e.source_patient_id == e.patient_id
    study_ref = f"{ds0.StudyInstanceUID}^^^^urn:ihe:iti:xds:2016:studyInstanceUID"
    assert e.reference_id_list[0] == study_ref
    assert e.reference_id_list[1].startswith(f"{ds0.AccessionNumber}^^^")
    data = await n.blobs.read_bytes(e.blob_key)
    assert e.size_bytes == len(data)
    assert e.hash_sha1 == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    assert e.repository_unique_id == NodeSettings().repository_unique_id
    assert e.creation_time == n.clock.now()
    assert e.service_start_time is not None and e.service_stop_time is not None
    assert e.service_start_time.strftime("%Y%m%d%H%M%S") == ds0.StudyDate + ds0.StudyTime[:6]
    assert [i.split("|")[0] for i in e.source_patient_info] == ["PID-3", "PID-5", "PID-7", "PID-8"]
    assert e.source_patient_info[1] == f"PID-5|{ds0.PatientName}"
    assert e.author_institution.startswith(NodeSettings().institution_name)
    series = kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert (series.RetrieveAETitle, series.RetrieveLocationUID) == (
        "IMX_AE", NodeSettings().repository_unique_id)
    assert series.RetrieveURL == (f"{NodeSettings().base_url}/dicom-web/studies/"
                                  f"{ds0.StudyInstanceUID}/series/{series.SeriesInstanceUID}")


async def test_patient_without_issuer_gets_the_default_assigning_authority() -> None:
    n = node()
    study = study_of(9)
    for ds in study:
        del ds.IssuerOfPatientID
        if "IssuerOfPatientIDQualifiersSequence" in ds:
            del ds.IssuerOfPatientIDQualifiersSequence
    await ingest_all(n, study)
    (e,) = await n.manifests.flush()
    assert e.patient_id.assigning_authority == NodeSettings().default_assigning_authority
    assert e.source_patient_info[0].endswith(f"&{NodeSettings().default_assigning_authority}&ISO")


async def test_emptied_or_unknown_study_has_no_manifest() -> None:
    n = node()
    study = study_of(10, per_series=1)
    await ingest_all(n, study)
    (e,) = await n.manifests.flush()
    await n.md.delete_instance(study[0].SOPInstanceUID)
    assert await n.manifests.rebuild_study(study[0].StudyInstanceUID) is None
    old = await n.md.get_document(e.document_unique_id)
    assert old is not None and old.status == DEPRECATED
    assert await n.manifests.manifest_for_study(study[0].StudyInstanceUID) is None
    assert await n.manifests.rebuild_study("1.2.3.999") is None


async def test_run_rebuilds_quiet_studies_and_is_cancellable() -> None:
    n = node(debounce_s=0)
    study = study_of(11)
    await ingest_all(n, study)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: n.manifests.run(poll_s=0.01))
            while await n.manifests.manifest_for_study(study[0].StudyInstanceUID) is None:
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()


async def test_run_waits_for_the_debounce() -> None:
    n = node(debounce_s=3600)
    await ingest_all(n, study_of(12))
    with anyio.move_on_after(0.1):
        await n.manifests.run(poll_s=0.01)
    assert n.md.documents == {}
    assert len(await n.manifests.flush()) == 1  # flush ignores the debounce


def _report(kind: str, like: Dataset) -> FileDataset:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    for k in ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
              "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber"):
        setattr(ds, k, getattr(like, k))
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1492.77"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1492.77.1"
    if kind == "pdf":
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
        ds.Modality = "DOC"
        ds.DocumentTitle = "CT report"
        ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
        ds.EncapsulatedDocument = b"%PDF-1.4 tiny\n%%EOF\x00"
    else:
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
        ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1492.77.2"
        ds.Modality = "SR"
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = "18748-4", "LN"
        item.CodeMeaning = "Diagnostic Imaging Report"
        ds.ConceptNameCodeSequence = [item]
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


async def test_reports_registered_as_documents() -> None:
    n = node()
    like = study_of(7, per_series=1)[0]
    await ingest_all(n, [like])
    pdf = _report("pdf", like)
    await n.ingest.ingest_bytes(part10(pdf), source="t")
    doc = await n.md.get_document(pdf.SOPInstanceUID)
    assert doc is not None and doc.kind == DocumentKind.REPORT
    assert doc.mime_type == "application/pdf" and doc.title == "CT report"
    assert (doc.format_code.code, doc.format_code.scheme) == (
        "urn:ihe:rad:PDF", "1.3.6.1.4.1.19376.1.2.3")
    assert doc.type_code.code == "18782-3"
    served = await n.blobs.read_bytes(doc.blob_key)
    assert served == b"%PDF-1.4 tiny\n%%EOF"  # the PDF itself, padding removed
    assert doc.size_bytes == len(served)
    assert doc.hash_sha1 == hashlib.sha1(served, usedforsecurity=False).hexdigest()
    assert doc.reference_id_list[0].startswith(like.StudyInstanceUID)
    sr = _report("sr", like)
    await n.ingest.ingest_bytes(part10(sr), source="t")
    srdoc = await n.md.get_document(sr.SOPInstanceUID)
    assert srdoc is not None and srdoc.mime_type == "application/dicom"
    assert srdoc.title == "Diagnostic Imaging Report" and srdoc.type_code.code == "18748-4"
    assert srdoc.format_code.code == "1.2.840.10008.5.1.4.1.1.88.11"
    stored_sr = await n.md.get_instance(sr.SOPInstanceUID)
    assert stored_sr is not None and srdoc.blob_key == stored_sr.blob_key
    # the manifest lists the reports too, as COMPOSITE references (TID 2010)
    (manifest,) = await n.manifests.flush()
    kos = await kos_of(n, manifest.blob_key)
    assert sorted(c.ValueType for c in kos.ContentSequence) == ["COMPOSITE", "COMPOSITE", "IMAGE"]


@pytest.mark.interop
async def test_published_manifest_passes_dciodvfy(tmp_path: Path) -> None:
    tool = require_tool("dciodvfy")
    n = node()
    await ingest_all(n, study_of(13, n_series=2, per_series=2))
    (e,) = await n.manifests.flush()
    path = tmp_path / "kos.dcm"
    path.write_bytes(await n.blobs.read_bytes(e.blob_key))
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    lines = (out.stdout + out.stderr).splitlines()
    assert "KeyObjectSelectionDocument" in lines
    assert [line for line in lines if line.startswith("Error")] == []


async def test_rebuild_and_deprecation_on_the_real_sqlite_and_file_stores(tmp_path: Path) -> None:
    study = study_of(14, per_series=3)
    async with open_test_node(tmp_path) as services:
        for ds in study[:2]:
            await services.ingest.ingest_bytes(part10(ds), source="t")
        (first,) = await services.manifests.flush()
        await services.ingest.ingest_bytes(part10(study[2]), source="t")
        (second,) = await services.manifests.flush()
        old = await services.metadata.get_document(first.document_unique_id)
        assert old is not None and old.status == DEPRECATED
        assert await services.manifests.manifest_for_study(study[0].StudyInstanceUID) == second
        kos = pydicom.dcmread(io.BytesIO(await services.blobs.read_bytes(second.blob_key)))
        assert parse_manifest(kos).instance_count() == 3
        assert kos.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[
            0].RetrieveAETitle == services.settings.dimse.ae_title
