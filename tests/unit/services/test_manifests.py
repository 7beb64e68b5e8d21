"""Manifests follow the study: built once quiet, rebuilt on change (old entry Deprecated),
full DocumentEntry metadata; SR and PDF reports are registered as documents."""

from __future__ import annotations

import io

import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from imx.dicom.kos import parse_manifest
from imx.dicom.synth import generate_patients, generate_study
from imx.model.document import DocumentKind
from imx.services.ingest import IngestService
from imx.services.manifests import ManifestService
from imx.settings import IngestSettings, ManifestSettings, NodeSettings
from tests.fakes import FakeClock, InMemoryBlobStore, InMemoryMetadataStore, InMemoryQuarantine, RecordingAuditSink

APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"


def node():  # type: ignore[no-untyped-def]
    md, blobs, clock, audit = InMemoryMetadataStore(), InMemoryBlobStore(), FakeClock(), RecordingAuditSink()
    settings = NodeSettings()
    ingest = IngestService(metadata=md, blobs=blobs, quarantine=InMemoryQuarantine(), audit=audit,
                           clock=clock, settings=IngestSettings(), node=settings)
    manifests = ManifestService(metadata=md, blobs=blobs, clock=clock, audit=audit, node=settings,
                                settings=ManifestSettings(debounce_s=0))
    ingest.add_listener(manifests)
    return ingest, manifests, md, blobs


def part10(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


async def test_manifest_built_then_rebuilt_when_study_changes() -> None:
    ingest, manifests, md, blobs = node()
    study = list(generate_study(generate_patients(5, 1)[0], seed=5, series_count=2,
                                instances_per_series=3, rows=16, columns=16))
    for ds in study[:4]:
        await ingest.ingest_bytes(part10(ds), source="t")
    (first,) = await manifests.flush()
    assert first.status == APPROVED and first.kind == DocumentKind.MANIFEST
    kos = pydicom.dcmread(io.BytesIO(await blobs.read_bytes(first.blob_key)))
    assert parse_manifest(kos)[0].instance_count() == 4
    assert await manifests.flush() == []  # nothing changed: nothing rebuilt
    for ds in study[4:]:
        await ingest.ingest_bytes(part10(ds), source="t")
    (second,) = await manifests.flush()
    assert second.document_unique_id != first.document_unique_id
    assert (await md.get_document(first.document_unique_id)).status == DEPRECATED
    kos2 = pydicom.dcmread(io.BytesIO(await blobs.read_bytes(second.blob_key)))
    assert {sop for s in parse_manifest(kos2)[0].series for _c, sop in s.instances} == {
        d.SOPInstanceUID for d in study}
    assert await manifests.manifest_for_study(study[0].StudyInstanceUID) == second
    # the manifest is a document, not an instance of the study (ADR 0003)
    assert len(await md.list_instances(study[0].StudyInstanceUID)) == 6


async def test_document_entry_metadata_is_complete() -> None:
    ingest, manifests, _md, blobs = node()
    study = list(generate_study(generate_patients(6, 1)[0], seed=6, series_count=1,
                                instances_per_series=2, rows=16, columns=16))
    for ds in study:
        await ingest.ingest_bytes(part10(ds), source="t")
    (e,) = await manifests.flush()
    ds0 = study[0]
    assert e.mime_type == "application/dicom"
    assert (e.format_code.code, e.format_code.scheme) == ("1.2.840.10008.5.1.4.1.1.88.59", "1.2.840.10008.2.6.1")
    assert (e.class_code.code, e.type_code.code, e.confidentiality_code.code) == ("IMAGES", "18748-4", "N")
    assert [c.code for c in e.event_codes] == ["CT"]
    assert e.patient_id.id == ds0.PatientID and e.patient_id.assigning_authority == ds0.IssuerOfPatientID
    assert e.reference_id_list[0] == f"{ds0.StudyInstanceUID}^^^^urn:ihe:iti:xds:2016:studyInstanceUID"
    assert ds0.AccessionNumber in e.reference_id_list[1]
    data = await blobs.read_bytes(e.blob_key)
    import hashlib

    assert e.size_bytes == len(data) and e.hash_sha1 == hashlib.sha1(data).hexdigest()
    assert e.repository_unique_id == NodeSettings().repository_unique_id
    assert e.service_start_time is not None and e.service_start_time.strftime("%Y%m%d") == ds0.StudyDate
    assert any(i.startswith("PID-5|") for i in e.source_patient_info)


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
        ds.Modality = "SR"
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "18748-4", "LN", "Diagnostic imaging report"
        ds.ConceptNameCodeSequence = [item]
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


async def test_reports_registered_as_documents() -> None:
    ingest, _manifests, md, blobs = node()
    like = next(generate_study(generate_patients(7, 1)[0], seed=7, series_count=1, instances_per_series=1,
                               rows=16, columns=16))
    await ingest.ingest_bytes(part10(like), source="t")
    pdf = _report("pdf", like)
    await ingest.ingest_bytes(part10(pdf), source="t")
    doc = await md.get_document(pdf.SOPInstanceUID)
    assert doc is not None and doc.kind == DocumentKind.REPORT and doc.mime_type == "application/pdf"
    assert doc.format_code.code == "urn:ihe:rad:PDF" and doc.title == "CT report"
    assert await blobs.read_bytes(doc.blob_key) == b"%PDF-1.4 tiny\n%%EOF"
    sr = _report("sr", like)
    sr.SOPInstanceUID = "1.2.826.0.1.3680043.10.1492.77.2"
    sr.file_meta.MediaStorageSOPInstanceUID = sr.SOPInstanceUID
    await ingest.ingest_bytes(part10(sr), source="t")
    srdoc = await md.get_document(sr.SOPInstanceUID)
    assert srdoc.mime_type == "application/dicom" and srdoc.title == "Diagnostic imaging report"
