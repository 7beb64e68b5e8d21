"""Keeps one current XDS-I.b manifest (KOS) per study and registers reports (RAD TF-3 4.68).

An IngestListener: every stored instance marks its study dirty; ``run`` rebuilds a
study once it has been quiet for ``debounce_s`` (a 500-slice C-STORE builds one
manifest, not 500), ``flush`` rebuilds all dirty studies now. A rebuilt manifest gets a
new SOP Instance UID; the previous DocumentEntry is Deprecated, never deleted (ADR 0003).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import uuid
from dataclasses import dataclass

import anyio
import pydicom

from imx.dicom.kos import build_manifest, parse_manifest
from imx.dicom.part10 import read_part10
from imx.dicom.reports import REPORT_TYPE_CODE, classify_report, extract_pdf, report_title
from imx.dicom.synth import synth_uid
from imx.model.audit import AuditRecord
from imx.model.document import Code, DocumentEntry, DocumentKind
from imx.model.imaging import PatientRecord, StoredInstance, StudyRecord
from imx.ports import AuditSink, BlobStore, Clock, MetadataStore
from imx.settings import ManifestSettings, NodeSettings

__all__ = ["ManifestService"]

log = logging.getLogger(__name__)
APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
KOS_FORMAT = Code(code="1.2.840.10008.5.1.4.1.1.88.59", scheme="1.2.840.10008.2.6.1",
                  display="Key Object Selection Document")
DCM_SCHEME = "1.2.840.10008.2.16.4"


def _code(triple: tuple[str, str, str]) -> Code:
    return Code(code=triple[0], scheme=triple[1], display=triple[2])


@dataclass(frozen=True, slots=True, kw_only=True)
class _Common:
    """DocumentEntry fields shared by manifests and reports of one study."""

    patient: PatientRecord
    study: StudyRecord


class ManifestService:
    def __init__(self, *, metadata: MetadataStore, blobs: BlobStore, clock: Clock,
                 audit: AuditSink, node: NodeSettings, settings: ManifestSettings,
                 retrieve_ae_title: str = "IMX", dicomweb_prefix: str = "/dicom-web") -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._clock = clock
        self._audit = audit
        self._node = node
        self._settings = settings
        self._retrieve_ae_title = retrieve_ae_title
        self._retrieve_url_base = node.base_url.rstrip("/") + dicomweb_prefix
        self._dirty: dict[str, float] = {}
        self._lock = asyncio.Lock()

    # -- listener ---------------------------------------------------------------------

    async def instance_stored(self, stored: StoredInstance, result: object) -> None:
        self._dirty[stored.study.study_instance_uid] = anyio.current_time()
        if classify_report(stored.instance.sop_class_uid) is not None:
            await self._register_report(stored)

    # -- manifests ------------------------------------------------------------------------

    async def run(self, *, poll_s: float = 0.5) -> None:
        """Rebuild quiet dirty studies until cancelled."""
        while True:
            await anyio.sleep(poll_s)
            now = anyio.current_time()
            due = [uid for uid, t in list(self._dirty.items())
                   if now - t >= self._settings.debounce_s]
            for uid in due:
                await self._rebuild_logged(uid)

    async def flush(self) -> list[DocumentEntry]:
        """Rebuild every dirty study now (end of an import, shutdown)."""
        out = []
        for uid in list(self._dirty):
            entry = await self._rebuild_logged(uid)
            if entry is not None:
                out.append(entry)
        return out

    async def _rebuild_logged(self, study_uid: str) -> DocumentEntry | None:
        self._dirty.pop(study_uid, None)
        try:
            return await self.rebuild_study(study_uid)
        except Exception:  # noqa: BLE001 - keep serving; the study stays without a new manifest
            log.exception("manifest rebuild failed")
            return None

    async def manifest_for_study(self, study_instance_uid: str) -> DocumentEntry | None:
        entries = await self._metadata.find_documents(study_instance_uid=study_instance_uid,
                                                      kinds=[DocumentKind.MANIFEST])
        current = [e for e in entries if e.status == APPROVED]
        return current[-1] if current else None

    async def rebuild_study(self, study_instance_uid: str) -> DocumentEntry | None:
        """Build and register the study's manifest now; None if the study has no instances."""
        async with self._lock:
            study = await self._metadata.get_study(study_instance_uid)
            if study is None:
                return None
            patient = await self._metadata.get_patient(study.patient_id)
            series = await self._metadata.list_series(study_instance_uid)
            instances = await self._metadata.list_instances(study_instance_uid)
            if patient is None or not instances:
                return None
            previous = await self.manifest_for_study(study_instance_uid)
            wanted = {i.sop_instance_uid for i in instances}
            if previous is not None and await self._references(previous) == wanted:
                return previous
            version = len(await self._metadata.find_documents(
                study_instance_uid=study_instance_uid, kinds=[DocumentKind.MANIFEST])) + 1
            now = self._clock.now()
            kos_uid = synth_uid("kos", study_instance_uid, version)
            ds = build_manifest(
                patient=patient, study=study, series=series, instances=instances,
                sop_instance_uid=kos_uid,
                series_instance_uid=synth_uid("kos-series", study_instance_uid),
                content_datetime=now, retrieve_ae_title=self._retrieve_ae_title,
                retrieve_location_uid=self._node.repository_unique_id,
                retrieve_url_base=self._retrieve_url_base,
                institution_name=self._node.institution_name, instance_number=version)
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            data = buf.getvalue()
            key = self._blobs.key_for(study_instance_uid=study_instance_uid,
                                      series_instance_uid=str(ds.SeriesInstanceUID),
                                      sop_instance_uid=kos_uid,
                                      sha256=hashlib.sha256(data).hexdigest())
            await self._blobs.put_bytes(key, data)
            modalities = sorted({s.modality for s in series if s.modality and s.modality != "KO"})
            entry = self._entry(
                _Common(patient=patient, study=study), document_unique_id=kos_uid,
                kind=DocumentKind.MANIFEST, mime_type="application/dicom",
                title=study.study_description or "Imaging study manifest",
                type_code=_code(self._settings.type_code), format_code=KOS_FORMAT,
                event_codes=tuple(Code(code=m, scheme=DCM_SCHEME, display=m) for m in modalities),
                data=data, blob_key=key)
            await self._metadata.put_document(entry)
            if previous is not None:
                await self._metadata.deprecate_document(previous.document_unique_id)
            await self._audit.record(AuditRecord(
                event="manifest-published", outcome="success", occurred_at=now,
                source="imx", transaction="RAD-68", study_instance_uids=(study_instance_uid,),
                patient_ids=(patient.patient_id.to_cx(),)))
            return entry

    async def _references(self, entry: DocumentEntry) -> set[str]:
        try:
            ds = pydicom.dcmread(io.BytesIO(await self._blobs.read_bytes(entry.blob_key)))
            return {sop for c in parse_manifest(ds) for s in c.series for _cls, sop in s.instances}
        except Exception:  # noqa: BLE001 - an unreadable old manifest is simply replaced
            return set()

    # -- reports ----------------------------------------------------------------------

    async def _register_report(self, stored: StoredInstance) -> None:
        inst = stored.instance
        kind = classify_report(inst.sop_class_uid)
        if kind is None:
            return
        data = await self._blobs.read_bytes(inst.blob_key)
        ds = await anyio.to_thread.run_sync(read_part10, data)
        key = inst.blob_key
        if kind.mime_type == "application/pdf":
            data = extract_pdf(ds)
            key = self._blobs.key_for(study_instance_uid=inst.study_instance_uid,
                                      series_instance_uid=inst.series_instance_uid,
                                      sop_instance_uid=inst.sop_instance_uid,
                                      sha256=hashlib.sha256(data).hexdigest())
            await self._blobs.put_bytes(key, data)
        entry = self._entry(
            _Common(patient=stored.patient, study=stored.study),
            document_unique_id=inst.sop_instance_uid, kind=DocumentKind.REPORT,
            mime_type=kind.mime_type, title=report_title(ds), type_code=REPORT_TYPE_CODE,
            format_code=kind.format_code,
            event_codes=(Code(code=stored.series.modality, scheme=DCM_SCHEME,
                              display=stored.series.modality),) if stored.series.modality else (),
            data=data, blob_key=key)
        await self._metadata.put_document(entry)

    def _entry(self, common: _Common, *, document_unique_id: str, kind: str, mime_type: str,
               title: str, type_code: Code, format_code: Code, event_codes: tuple[Code, ...],
               data: bytes, blob_key: str) -> DocumentEntry:
        patient, study = common.patient, common.study
        start = None
        if study.study_date is not None:
            t = (study.study_time or "000000").split(".")[0].ljust(6, "0")[:6]
            try:
                start = dt.datetime.combine(study.study_date, dt.time(int(t[:2]), int(t[2:4]),
                                                                      int(t[4:6])), tzinfo=dt.UTC)
            except ValueError:
                start = dt.datetime.combine(study.study_date, dt.time(0), tzinfo=dt.UTC)
        pid = patient.patient_id
        info = [f"PID-3|{pid.to_cx()}"]
        if patient.patient_name:
            info.append(f"PID-5|{patient.patient_name}")
        if patient.birth_date:
            info.append(f"PID-7|{patient.birth_date.strftime('%Y%m%d')}")
        if patient.sex:
            info.append(f"PID-8|{patient.sex}")
        home_oid = self._node.home_community_id.removeprefix("urn:oid:")
        return DocumentEntry(
            entry_uuid=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_OID, document_unique_id)}",
            document_unique_id=document_unique_id, kind=kind, patient_id=pid,
            source_patient_id=pid, source_patient_info=tuple(info),
            repository_unique_id=self._node.repository_unique_id, mime_type=mime_type,
            title=title[:256], class_code=_code(self._settings.class_code), type_code=type_code,
            format_code=format_code, confidentiality_code=_code(self._settings.confidentiality_code),
            healthcare_facility_type_code=_code(self._settings.healthcare_facility_type_code),
            practice_setting_code=_code(self._settings.practice_setting_code),
            event_codes=event_codes, language_code=self._settings.language_code,
            creation_time=self._clock.now(), service_start_time=start, service_stop_time=start,
            size_bytes=len(data),
            hash_sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            study_instance_uid=study.study_instance_uid, accession_number=study.accession_number,
            accession_issuer=study.accession_issuer,
            author_institution=f"{self._node.institution_name}^^^^^^^^^{home_oid}",
            blob_key=blob_key)
