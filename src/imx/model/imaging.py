"""Imaging records: the patient/study/series/instance hierarchy of PS3.3 / PS3.4 C.6."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from imx.model.identifiers import PatientId

__all__ = [
    "InstanceRecord",
    "PatientRecord",
    "SeriesRecord",
    "StoreOutcome",
    "StoredInstance",
    "StudyRecord",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientRecord:
    """Demographics as received (DICOM PN form for ``patient_name``: ``Family^Given^Middle``).

    ``address``, ``telephone_numbers`` and ``mothers_birth_name`` are the DICOM header's
    Patient's Address (0010,1040), Telephone Numbers (0010,2154) and Mother's Birth Name
    (0010,1060) as received: ingest hands them to the patient index (for ITI-55 matching);
    the patients table does not keep them.
    """

    patient_id: PatientId
    patient_name: str = ""
    birth_date: dt.date | None = None
    sex: str = ""  # M | F | O | ""
    other_patient_ids: tuple[PatientId, ...] = ()
    address: str = ""
    telephone_numbers: tuple[str, ...] = ()
    mothers_birth_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyRecord:
    study_instance_uid: str
    patient_id: PatientId
    study_date: dt.date | None = None
    study_time: str = ""  # DICOM TM as received
    accession_number: str = ""
    accession_issuer: str = ""  # Issuer of Accession Number (0008,0051) UEID, if any
    study_id: str = ""
    study_description: str = ""
    referring_physician_name: str = ""
    modalities_in_study: tuple[str, ...] = ()
    number_of_series: int = 0
    number_of_instances: int = 0
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesRecord:
    series_instance_uid: str
    study_instance_uid: str
    modality: str = ""
    series_number: int | None = None
    series_description: str = ""
    body_part_examined: str = ""
    number_of_instances: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRecord:
    """One stored SOP instance. ``blob_key`` locates its Part-10 bytes in the BlobStore."""

    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    transfer_syntax_uid: str
    blob_key: str
    size_bytes: int
    sha256: str  # hex digest of the stored Part-10 bytes
    instance_number: int | None = None
    number_of_frames: int = 1
    rows: int | None = None
    columns: int | None = None
    received_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredInstance:
    """Everything the metadata store records for one ingested instance, in one transaction.

    ``dicom_json`` is the PS3.18 F.2 DICOM JSON of the header (bulk data such as
    Pixel Data replaced by a BulkDataURI), used for WADO-RS metadata and QIDO
    includefield without touching the blob.
    """

    patient: PatientRecord
    study: StudyRecord
    series: SeriesRecord
    instance: InstanceRecord
    dicom_json: bytes = b""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreOutcome:
    """What the metadata store did with a StoredInstance."""

    is_new: bool  # False: an instance with that SOP Instance UID existed already
    previous: InstanceRecord | None = None
    written: bool = True  # False: the existing instance was kept (same bytes, or not replaced)
