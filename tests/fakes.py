"""In-memory doubles of the ports, with the same semantics as the real adapters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path

from imx.errors import NotFoundError, StoreError
from imx.matching.blocking import key_kind
from imx.matching.mpi_form import index_entry
from imx.model.audit import AuditRecord
from imx.model.document import DocumentEntry
from imx.model.identifiers import PatientId
from imx.model.imaging import (
    InstanceRecord,
    PatientRecord,
    SeriesRecord,
    StoredInstance,
    StoreOutcome,
    StudyRecord,
)
from imx.model.mpi import (
    MpiCandidate,
    MpiPatient,
    MpiSource,
    PatientCorrelation,
    mpi_patient_from_record,
    refreshed_dicom_entry,
)
from imx.model.query import DateRange, ImagingQuery
from imx.storage.files import check_key, instance_key
from imx.storage.text import fold

DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"


class FakeClock:
    def __init__(self, start: dt.datetime | None = None) -> None:
        self.current = start or dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=seconds)


class RecordingAuditSink:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    async def record(self, record: AuditRecord) -> None:
        self.records.append(record)

    async def list_events(
        self, *, limit: int = 100, offset: int = 0, event: str | None = None
    ) -> list[AuditRecord]:
        """Newest first, like ``SqlAuditSink.list_events``."""
        found = [r for r in reversed(self.records) if event is None or r.event == event]
        return found[offset : offset + limit]


class InMemoryQuarantine:
    def __init__(self) -> None:
        self.kept: list[dict[str, object]] = []

    async def keep(
        self, *, data: bytes | None, source_path: Path | None, reason: str, detail: str, source: str
    ) -> Path:
        self.kept.append(
            {
                "data": data,
                "source_path": source_path,
                "reason": reason,
                "detail": detail,
                "source": source,
            }
        )
        return Path(f"/quarantine/{len(self.kept)}")


class InMemoryBlobStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    # The key rules are FileBlobStore's own functions: the fake cannot drift from them.
    def key_for(self, *, study_instance_uid: str, series_instance_uid: str,
                sop_instance_uid: str, sha256: str) -> str:
        return instance_key(study_instance_uid=study_instance_uid,
                            series_instance_uid=series_instance_uid,
                            sop_instance_uid=sop_instance_uid, sha256=sha256)

    _check = staticmethod(check_key)

    async def put_bytes(self, key: str, data: bytes) -> None:
        self.put_bytes_blocking(key, data)

    def put_bytes_blocking(self, key: str, data: bytes) -> None:
        self._check(key)
        self.objects[key] = bytes(data)

    async def put_file(self, key: str, source: Path) -> None:
        self._check(key)
        try:
            self.objects[key] = source.read_bytes()
        except OSError as exc:
            raise StoreError("blob write failed") from exc

    async def open_chunks(self, key: str, *, chunk_bytes: int = 1 << 20) -> AsyncIterator[bytes]:
        data = await self.read_bytes(key)
        for i in range(0, len(data), chunk_bytes):
            yield data[i : i + chunk_bytes]

    async def read_bytes(self, key: str) -> bytes:
        self._check(key)
        if key not in self.objects:
            raise NotFoundError("blob not found")
        return self.objects[key]

    async def size(self, key: str) -> int:
        return len(await self.read_bytes(key))

    async def exists(self, key: str) -> bool:
        self._check(key)
        return key in self.objects

    async def delete(self, key: str) -> None:
        self._check(key)
        self.objects.pop(key, None)

    def local_path(self, key: str) -> Path | None:
        self._check(key)
        return None


def _text_match(value: str, pattern: str, *, fold_case: bool = False) -> bool:
    if not pattern or pattern == "*":
        return True
    if fold_case:
        value, pattern = fold(value), fold(pattern)
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))
    return value == pattern


def _date_match(value: dt.date | None, rng: DateRange | None) -> bool:
    return rng is None or (rng.start is None and rng.end is None) or rng.contains(value)


class InMemoryMetadataStore:
    def __init__(self) -> None:
        self.patients: dict[PatientId, PatientRecord] = {}
        self.studies: dict[str, StudyRecord] = {}
        self.series: dict[str, SeriesRecord] = {}
        self.instances: dict[str, InstanceRecord] = {}
        self.instance_json: dict[str, bytes] = {}
        self.documents: dict[str, DocumentEntry] = {}
        self.mpi: dict[PatientId, tuple[MpiPatient, str, set[str]]] = {}
        self.blocks: dict[str, set[PatientId]] = {}
        self.correlations: dict[PatientId, PatientCorrelation] = {}

    async def close(self) -> None:
        return None

    # -- PatientIndex -------------------------------------------------------------------

    def _index(self, patient: MpiPatient) -> bool:
        old = self.mpi.get(patient.patient_id)
        if old is not None and patient.source is MpiSource.DICOM:
            if old[0].source is not MpiSource.DICOM:
                return False
            patient = refreshed_dicom_entry(old[0], patient)
        if old is not None:
            for key in old[2]:
                self.blocks[key].discard(patient.patient_id)
        form, keys = index_entry(patient)
        keys = {k[:160] for k in keys}
        self.mpi[patient.patient_id] = (patient, form, keys)
        for key in keys:
            self.blocks.setdefault(key, set()).add(patient.patient_id)
        return True

    async def upsert_mpi_patient(self, patient: MpiPatient) -> None:
        self._index(patient)

    async def upsert_mpi_patients(self, patients: Sequence[MpiPatient]) -> int:
        return sum(self._index(p) for p in patients)

    async def get_mpi_patient(self, patient_id: PatientId) -> MpiPatient | None:
        entry = self.mpi.get(patient_id)
        return entry[0] if entry else None

    async def count_mpi_patients(self) -> int:
        return len(self.mpi)

    async def find_mpi_candidates(self, keys: Collection[str], *, limit: int = 2000,
                                  min_kinds: int = 1,
                                  strong_kinds: Collection[str] = ()) -> list[MpiCandidate]:
        kinds: dict[PatientId, set[str]] = {}
        for key in sorted({k[:160] for k in keys})[:64]:
            for pid in self.blocks.get(key, set()):
                kinds.setdefault(pid, set()).add(key_kind(key))
        found = [p for p, k in kinds.items()
                 if len(k) >= min_kinds or bool(k & set(strong_kinds))]
        ordered = sorted(found, key=lambda p: (p.assigning_authority, p.id))[:limit]
        return [MpiCandidate(p.id, p.assigning_authority, self.mpi[p][1]) for p in ordered]

    async def merge_mpi_patient(self, *, surviving: PatientId, retired: PatientId) -> None:
        if surviving == retired:
            return
        for remote, c in list(self.correlations.items()):
            if c.local_patient_id == retired:
                self.correlations[remote] = dataclasses.replace(c, local_patient_id=surviving)
        old = self.mpi.pop(retired, None)
        if old is not None:
            for key in old[2]:
                self.blocks[key].discard(retired)

    async def add_correlation(self, correlation: PatientCorrelation) -> bool:
        known = self.correlations.get(correlation.remote_patient_id)
        if known is not None and known.local_patient_id == correlation.local_patient_id:
            return False
        self.correlations[correlation.remote_patient_id] = correlation
        return True

    async def resolve_correlation(self, remote_patient_id: PatientId) -> PatientId | None:
        c = self.correlations.get(remote_patient_id)
        return c.local_patient_id if c else None

    async def list_correlations(self, local_patient_id: PatientId) -> list[PatientCorrelation]:
        return [c for c in self.correlations.values() if c.local_patient_id == local_patient_id]

    # -- MetadataStore ------------------------------------------------------------------

    async def store_instance(self, item: StoredInstance, *, replace: bool = True) -> StoreOutcome:
        return (await self.store_instances([item], replace=replace))[0]

    async def store_instances(
        self, items: Sequence[StoredInstance], *, replace: bool = True
    ) -> list[StoreOutcome]:
        outcomes = []
        for item in items:
            existing = self.instances.get(item.instance.sop_instance_uid)
            if existing is not None and (existing.sha256 == item.instance.sha256 or not replace):
                outcomes.append(StoreOutcome(is_new=False, previous=existing, written=False))
                continue
            self.patients[item.patient.patient_id] = item.patient
            self._index(mpi_patient_from_record(item.patient))
            self.studies[item.study.study_instance_uid] = dataclasses.replace(
                item.study, updated_at=item.instance.received_at
            )
            self.series[item.series.series_instance_uid] = item.series
            previous = self.instances.get(item.instance.sop_instance_uid)
            self.instances[item.instance.sop_instance_uid] = item.instance
            self.instance_json[item.instance.sop_instance_uid] = item.dicom_json
            outcomes.append(StoreOutcome(is_new=previous is None, previous=previous))
            if (
                previous is not None
                and previous.study_instance_uid != item.study.study_instance_uid
            ):
                self._refresh(previous.study_instance_uid)
            self._refresh(item.study.study_instance_uid)
        return outcomes

    def _refresh(self, study_uid: str) -> None:
        insts = [i for i in self.instances.values() if i.study_instance_uid == study_uid]
        for se_uid, se in list(self.series.items()):
            if se.study_instance_uid != study_uid:
                continue
            n = sum(1 for i in insts if i.series_instance_uid == se_uid)
            if n == 0:
                del self.series[se_uid]
            else:
                self.series[se_uid] = dataclasses.replace(se, number_of_instances=n)
        if not insts:
            self.studies.pop(study_uid, None)
            return
        series = [s for s in self.series.values() if s.study_instance_uid == study_uid]
        self.studies[study_uid] = dataclasses.replace(
            self.studies[study_uid],
            number_of_instances=len(insts),
            number_of_series=len(series),
            modalities_in_study=tuple(sorted({s.modality for s in series if s.modality})),
        )

    async def delete_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        inst = self.instances.pop(sop_instance_uid, None)
        self.instance_json.pop(sop_instance_uid, None)
        if inst is not None:
            self._refresh(inst.study_instance_uid)
        return inst

    async def get_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        return self.instances.get(sop_instance_uid)

    async def get_instance_json(self, sop_instance_uid: str) -> bytes | None:
        return self.instance_json.get(sop_instance_uid)

    async def set_instance_json(self, sop_instance_uid: str, dicom_json: bytes) -> None:
        if sop_instance_uid in self.instances:
            self.instance_json[sop_instance_uid] = dicom_json

    async def get_study(self, study_instance_uid: str) -> StudyRecord | None:
        return self.studies.get(study_instance_uid)

    async def upsert_patient(self, patient: PatientRecord) -> None:
        self.patients[patient.patient_id] = patient

    async def merge_patient(self, *, surviving: PatientId, retired: PatientId) -> int:
        if surviving not in self.patients:
            raise NotFoundError("surviving patient unknown")
        if retired not in self.patients or retired == surviving:
            return 0
        moved = 0
        for uid, st in list(self.studies.items()):
            if st.patient_id == retired:
                self.studies[uid] = dataclasses.replace(st, patient_id=surviving)
                moved += 1
        del self.patients[retired]
        return moved

    async def get_patient(self, patient_id: PatientId) -> PatientRecord | None:
        return self.patients.get(patient_id)

    def _series_key(self, s: SeriesRecord) -> tuple[object, ...]:
        return (s.series_number is None, s.series_number or 0, s.series_instance_uid)

    async def list_series(self, study_instance_uid: str) -> list[SeriesRecord]:
        return sorted(
            (s for s in self.series.values() if s.study_instance_uid == study_instance_uid),
            key=self._series_key,
        )

    def _instance_key(self, i: InstanceRecord) -> tuple[object, ...]:
        se = self.series[i.series_instance_uid]
        return (
            *self._series_key(se),
            i.instance_number is None,
            i.instance_number or 0,
            i.sop_instance_uid,
        )

    async def list_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> list[InstanceRecord]:
        out = [
            i
            for i in self.instances.values()
            if i.study_instance_uid == study_instance_uid
            and (series_instance_uid is None or i.series_instance_uid == series_instance_uid)
        ]
        return sorted(out, key=self._instance_key)

    @staticmethod
    def _page(items: list, q: ImagingQuery) -> list:  # type: ignore[type-arg]
        items = items[q.offset :]
        return items[: q.limit] if q.limit is not None else items

    def _patient_ok(self, p: PatientRecord, q: ImagingQuery) -> bool:
        name = q.patient_name
        if q.fuzzy_matching and name and "*" not in name:
            name += "*"
        name_ok = _text_match(p.patient_name, name, fold_case=True) or (
            q.fuzzy_matching
            and any(
                _text_match(part, name, fold_case=True) for part in p.patient_name.split("^")[1:]
            )
        )
        return (
            _text_match(p.patient_id.id, q.patient_id)
            and name_ok
            and (
                not q.issuer_of_patient_id
                or p.patient_id.assigning_authority == q.issuer_of_patient_id
            )
            and _date_match(p.birth_date, q.patient_birth_date)
            and (not q.patient_sex or p.sex == q.patient_sex)
        )

    def _study_ok(self, s: StudyRecord, q: ImagingQuery) -> bool:
        p = self.patients[s.patient_id]
        return (
            self._patient_ok(p, q)
            and (not q.study_instance_uids or s.study_instance_uid in q.study_instance_uids)
            and _date_match(s.study_date, q.study_date)
            and _text_match(s.accession_number, q.accession_number)
            and _text_match(s.study_id, q.study_id)
            and _text_match(s.study_description, q.study_description)
            and _text_match(s.referring_physician_name, q.referring_physician_name)
            and (
                not q.modalities_in_study
                or bool(set(q.modalities_in_study) & set(s.modalities_in_study))
            )
        )

    def _series_ok(self, s: SeriesRecord, q: ImagingQuery) -> bool:
        return (
            self._study_ok(self.studies[s.study_instance_uid], q)
            and (not q.series_instance_uids or s.series_instance_uid in q.series_instance_uids)
            and _text_match(s.modality, q.modality)
            and (q.series_number is None or s.series_number == q.series_number)
        )

    async def find_patients(self, query: ImagingQuery) -> list[PatientRecord]:
        found = sorted(
            (p for p in self.patients.values() if self._patient_ok(p, query)),
            key=lambda p: (p.patient_id.id, p.patient_id.assigning_authority),
        )
        return self._page(found, query)

    async def find_studies(self, query: ImagingQuery) -> list[StudyRecord]:
        found = [s for s in self.studies.values() if self._study_ok(s, query)]
        found.sort(key=lambda s: s.study_instance_uid)
        found.sort(key=lambda s: s.study_date or dt.date.min, reverse=True)
        return self._page(found, query)

    async def find_series(self, query: ImagingQuery) -> list[SeriesRecord]:
        found = sorted(
            (s for s in self.series.values() if self._series_ok(s, query)),
            key=lambda s: (s.study_instance_uid, *self._series_key(s)),
        )
        return self._page(found, query)

    async def find_instances(self, query: ImagingQuery) -> list[InstanceRecord]:
        found = [
            i
            for i in self.instances.values()
            if self._series_ok(self.series[i.series_instance_uid], query)
            and (not query.sop_instance_uids or i.sop_instance_uid in query.sop_instance_uids)
            and (not query.sop_class_uids or i.sop_class_uid in query.sop_class_uids)
            and (query.instance_number is None or i.instance_number == query.instance_number)
        ]
        found.sort(key=lambda i: (i.study_instance_uid, *self._instance_key(i)))
        return self._page(found, query)

    async def put_document(self, entry: DocumentEntry) -> None:
        self.documents[entry.document_unique_id] = entry

    async def get_document(self, document_unique_id: str) -> DocumentEntry | None:
        return self.documents.get(document_unique_id)

    async def find_documents(
        self,
        *,
        patient_id: PatientId | None = None,
        study_instance_uid: str | None = None,
        kinds: Sequence[str] = (),
        entry_uuids: Sequence[str] = (),
    ) -> list[DocumentEntry]:
        return [
            e
            for e in self.documents.values()
            if (patient_id is None or e.patient_id == patient_id)
            and (study_instance_uid is None or e.study_instance_uid == study_instance_uid)
            and (not kinds or e.kind in kinds)
            and (not entry_uuids or e.entry_uuid in entry_uuids)
        ]

    async def deprecate_document(self, document_unique_id: str) -> None:
        if document_unique_id in self.documents:
            self.documents[document_unique_id] = dataclasses.replace(
                self.documents[document_unique_id], status=DEPRECATED
            )
