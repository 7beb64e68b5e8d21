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
from typing import TYPE_CHECKING

import anyio
import pydicom

from imx.dicom.kos import build_manifest, parse_manifest
from imx.dicom.part10 import read_part10
from imx.dicom.reports import describe_report, extract_pdf, is_report
from imx.dicom.synth import synth_uid
from imx.model.audit import AuditRecord
from imx.model.document import Code, DocumentEntry, DocumentKind
from imx.model.identifiers import PatientId
from imx.model.imaging import PatientRecord, SeriesRecord, StoredInstance, StudyRecord
from imx.ports import AuditSink, BlobStore, Clock, MetadataStore
from imx.settings import ManifestSettings, NodeSettings

if TYPE_CHECKING:
    from imx.services.ingest import IngestResult

__all__ = ["ANATOMIC_REGIONS", "ManifestService", "document_event_codes"]

log = logging.getLogger(__name__)
APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
KOS_FORMAT = Code(
    code="1.2.840.10008.5.1.4.1.1.88.59",
    scheme="1.2.840.10008.2.6.1",
    display="Key Object Selection Document",
)
DCM_SCHEME = "1.2.840.10008.2.16.4"  # DICOM Controlled Terminology, for modality eventCodes
SNOMED_SCHEME = "2.16.840.1.113883.6.96"
# Body Part Examined -> anatomic region (PS3.16 Annex L / CID 4031; values as in the DICOM
# standard's SCT codes). Unknown body parts add no eventCode rather than a guessed one.
ANATOMIC_REGIONS: dict[str, tuple[str, str]] = {
    "HEAD": ("69536005", "Head"),
    "BRAIN": ("12738006", "Brain"),
    "SKULL": ("89546000", "Skull"),
    "NECK": ("45048000", "Neck"),
    "CHEST": ("816094009", "Thorax"),
    "ABDOMEN": ("818981001", "Abdomen"),
    "PELVIS": ("816092008", "Pelvis"),
    "ABDOMENPELVIS": ("818982008", "Abdomen and Pelvis"),
    "CHESTABDOMEN": ("416550000", "Chest and Abdomen"),
    "HEART": ("80891009", "Heart"),
    "BREAST": ("76752008", "Breast"),
    "SPINE": ("421060004", "Spine"),
    "CSPINE": ("122494005", "Cervical spine"),
    "TSPINE": ("122495006", "Thoracic spine"),
    "LSPINE": ("122496007", "Lumbar spine"),
    "SHOULDER": ("16982005", "Shoulder"),
    "HAND": ("85562004", "Hand"),
    "HIP": ("29836001", "Hip"),
    "KNEE": ("72696002", "Knee"),
    "FOOT": ("56459004", "Foot"),
    "EXTREMITY": ("66019005", "Extremity"),
    "LIVER": ("10200004", "Liver"),
    "KIDNEY": ("64033007", "Kidney"),
}


def document_event_codes(series: list[SeriesRecord]) -> tuple[Code, ...]:
    """eventCodeList: modalities (DCM, CID 29) then anatomic regions (SNOMED CT, CID 4031).

    SPEC-NOTES 4.5; RAD TF-3 4.68.4.1.2.3. The KO modality of manifests is not an event.
    """
    modalities = sorted({s.modality for s in series if s.modality and s.modality != "KO"})
    parts = sorted({s.body_part_examined.upper() for s in series if s.body_part_examined})
    regions = [ANATOMIC_REGIONS[p] for p in parts if p in ANATOMIC_REGIONS]
    return (
        *(Code(code=m, scheme=DCM_SCHEME, display=m) for m in modalities),
        *(Code(code=c, scheme=SNOMED_SCHEME, display=d) for c, d in regions),
    )


def _code(triple: tuple[str, str, str]) -> Code:
    return Code(code=triple[0], scheme=triple[1], display=triple[2])


@dataclass(frozen=True, slots=True, kw_only=True)
class _Common:
    """DocumentEntry fields shared by manifests and reports of one study."""

    patient: PatientRecord
    study: StudyRecord


class ManifestService:
    def __init__(
        self,
        *,
        metadata: MetadataStore,
        blobs: BlobStore,
        clock: Clock,
        audit: AuditSink,
        node: NodeSettings,
        settings: ManifestSettings,
        retrieve_ae_title: str = "IMX",
        dicomweb_prefix: str = "/dicom-web",
    ) -> None:
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

    async def instance_stored(self, stored: StoredInstance, result: IngestResult) -> None:
        """Mark the study dirty (rebuilt by ``run``/``flush``); register a report now."""
        self._dirty[stored.study.study_instance_uid] = anyio.current_time()
        if is_report(stored.instance.sop_class_uid):
            await self._register_report(stored)

    # -- manifests ------------------------------------------------------------------------

    async def run(self, *, poll_s: float = 0.5) -> None:
        """Rebuild quiet dirty studies until cancelled."""
        while True:
            await anyio.sleep(poll_s)
            now = anyio.current_time()
            due = [
                uid for uid, t in list(self._dirty.items()) if now - t >= self._settings.debounce_s
            ]
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
        except Exception:  # the top of a background task: keep serving, log and audit
            log.exception("manifest rebuild failed")
            await self._audit.record(
                AuditRecord(
                    event="manifest-published",
                    outcome="serious-failure",
                    occurred_at=self._clock.now(),
                    source="imx",
                    transaction="RAD-68",
                    study_instance_uids=(study_uid,),
                    detail="manifest rebuild failed",
                )
            )
            return None

    async def manifest_for_study(self, study_instance_uid: str) -> DocumentEntry | None:
        """The study's current (Approved) manifest entry, or None."""
        entries = await self._metadata.find_documents(
            study_instance_uid=study_instance_uid, kinds=[DocumentKind.MANIFEST]
        )
        current = [e for e in entries if e.status == APPROVED]
        return max(current, key=lambda e: e.creation_time) if current else None

    async def rebuild_study(self, study_instance_uid: str) -> DocumentEntry | None:
        """Build and register the study's manifest now; None if the study has no instances."""
        async with self._lock:
            previous = await self.manifest_for_study(study_instance_uid)
            study = await self._metadata.get_study(study_instance_uid)
            patient = None if study is None else await self._metadata.get_patient(study.patient_id)
            instances = await self._metadata.list_instances(study_instance_uid)
            if study is None or patient is None or not instances:
                if previous is not None:  # the study was emptied: its manifest lists nothing
                    await self._metadata.deprecate_document(previous.document_unique_id)
                return None
            series = await self._metadata.list_series(study_instance_uid)
            wanted = {i.sop_instance_uid for i in instances}
            if previous is not None and await self._references(previous) == wanted:
                return previous
            version = (
                len(
                    await self._metadata.find_documents(
                        study_instance_uid=study_instance_uid, kinds=[DocumentKind.MANIFEST]
                    )
                )
                + 1
            )
            now = self._clock.now()
            kos_uid = synth_uid("kos", study_instance_uid, version)
            ds = build_manifest(
                patient=patient,
                study=study,
                series=series,
                instances=instances,
                sop_instance_uid=kos_uid,
                series_instance_uid=synth_uid("kos-series", study_instance_uid),
                content_datetime=now,
                retrieve_ae_title=self._retrieve_ae_title,
                retrieve_location_uid=self._node.repository_unique_id,
                retrieve_url_base=self._retrieve_url_base,
                institution_name=self._node.institution_name,
                instance_number=version,
            )
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            data = buf.getvalue()
            key = self._blobs.key_for(
                study_instance_uid=study_instance_uid,
                series_instance_uid=str(ds.SeriesInstanceUID),
                sop_instance_uid=kos_uid,
                sha256=hashlib.sha256(data).hexdigest(),
            )
            await self._blobs.put_bytes(key, data)
            entry = self._entry(
                _Common(patient=patient, study=study),
                document_unique_id=kos_uid,
                kind=DocumentKind.MANIFEST,
                mime_type="application/dicom",
                title=study.study_description or "Imaging study manifest",
                type_code=_code(self._settings.type_code),
                format_code=KOS_FORMAT,
                event_codes=document_event_codes(series),
                data=data,
                blob_key=key,
            )
            await self._metadata.put_document(entry)
            if previous is not None:
                await self._metadata.deprecate_document(previous.document_unique_id)
            await self._audit.record(
                AuditRecord(
                    event="manifest-published",
                    outcome="success",
                    occurred_at=now,
                    source="imx",
                    transaction="RAD-68",
                    study_instance_uids=(study_instance_uid,),
                    patient_ids=(patient.patient_id.to_cx(),),
                )
            )
            return entry

    async def _references(self, entry: DocumentEntry) -> set[str]:
        try:
            ds = pydicom.dcmread(io.BytesIO(await self._blobs.read_bytes(entry.blob_key)))
            return {sop for s in parse_manifest(ds).series for _cls, sop in s.instances}
        except Exception:  # noqa: BLE001 - an unreadable old manifest is simply replaced
            return set()

    # -- reports ----------------------------------------------------------------------

    async def _register_report(self, stored: StoredInstance) -> None:
        inst = stored.instance
        data = await self._blobs.read_bytes(inst.blob_key)
        ds = await anyio.to_thread.run_sync(read_part10, data)
        report = describe_report(ds)
        if report is None:
            return
        key = inst.blob_key
        if report.is_pdf:  # the served document is the PDF itself (RAD TF-3 4.68.4.1.2)
            data = extract_pdf(ds)
            key = self._blobs.key_for(
                study_instance_uid=inst.study_instance_uid,
                series_instance_uid=inst.series_instance_uid,
                sop_instance_uid=inst.sop_instance_uid,
                sha256=hashlib.sha256(data).hexdigest(),
            )
            await self._blobs.put_bytes(key, data)
        entry = self._entry(
            _Common(patient=stored.patient, study=stored.study),
            document_unique_id=inst.sop_instance_uid,
            kind=DocumentKind.REPORT,
            mime_type=report.mime_type,
            title=report.title,
            type_code=report.type_code,
            format_code=report.format_code,
            event_codes=document_event_codes([stored.series]),
            data=data,
            blob_key=key,
        )
        await self._metadata.put_document(entry)

    def _entry(
        self,
        common: _Common,
        *,
        document_unique_id: str,
        kind: str,
        mime_type: str,
        title: str,
        type_code: Code,
        format_code: Code,
        event_codes: tuple[Code, ...],
        data: bytes,
        blob_key: str,
    ) -> DocumentEntry:
        patient, study = common.patient, common.study
        start = None
        if study.study_date is not None:
            t = (study.study_time or "000000").split(".")[0].ljust(6, "0")[:6]
            try:
                start = dt.datetime.combine(
                    study.study_date, dt.time(int(t[:2]), int(t[2:4]), int(t[4:6])), tzinfo=dt.UTC
                )
            except ValueError:
                start = dt.datetime.combine(study.study_date, dt.time(0), tzinfo=dt.UTC)
        pid = patient.patient_id
        if not pid.assigning_authority:  # XDS needs an issuer (ITI TF-3 4.2.3.2.16)
            pid = PatientId(id=pid.id, assigning_authority=self._node.default_assigning_authority)
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
            document_unique_id=document_unique_id,
            kind=kind,
            patient_id=pid,
            source_patient_id=pid,
            source_patient_info=tuple(info),
            repository_unique_id=self._node.repository_unique_id,
            mime_type=mime_type,
            title=title[:256],
            class_code=_code(self._settings.class_code),
            type_code=type_code,
            format_code=format_code,
            confidentiality_code=_code(self._settings.confidentiality_code),
            healthcare_facility_type_code=_code(self._settings.healthcare_facility_type_code),
            practice_setting_code=_code(self._settings.practice_setting_code),
            event_codes=event_codes,
            language_code=self._settings.language_code,
            creation_time=self._clock.now(),
            service_start_time=start,
            service_stop_time=start,
            size_bytes=len(data),
            hash_sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            study_instance_uid=study.study_instance_uid,
            accession_number=study.accession_number,
            accession_issuer=study.accession_issuer,
            author_institution=f"{self._node.institution_name}^^^^^^^^^{home_oid}",
            blob_key=blob_key,
        )
