"""Builders of model records for the contract tests."""

from __future__ import annotations

import datetime as dt
import hashlib

from imx.model.identifiers import PatientId
from imx.model.imaging import (
    InstanceRecord,
    PatientRecord,
    SeriesRecord,
    StoredInstance,
    StudyRecord,
)

ROOT = "1.2.826.0.1.3680043.10.999"


def stored(
    *,
    patient: str = "P1",
    issuer: str = "1.2.3.4",
    name: str = "Doe^Jane",
    birth: dt.date | None = dt.date(1980, 2, 15),
    sex: str = "F",
    study: int = 1,
    series: int = 1,
    instance: int = 1,
    modality: str = "CT",
    study_date: dt.date | None = dt.date(2024, 3, 1),
    accession: str = "ACC1",
    description: str = "CT CHEST",
    content: bytes = b"x",
) -> StoredInstance:
    pid = PatientId(id=patient, assigning_authority=issuer)
    study_uid = f"{ROOT}.{study}"
    series_uid = f"{ROOT}.{study}.{series}"
    sop = f"{ROOT}.{study}.{series}.{instance}"
    sha = hashlib.sha256(content).hexdigest()
    return StoredInstance(
        patient=PatientRecord(patient_id=pid, patient_name=name, birth_date=birth, sex=sex),
        study=StudyRecord(
            study_instance_uid=study_uid,
            patient_id=pid,
            study_date=study_date,
            study_time="101500",
            accession_number=accession,
            study_description=description,
            referring_physician_name="Who^Doctor",
        ),
        series=SeriesRecord(
            series_instance_uid=series_uid,
            study_instance_uid=study_uid,
            modality=modality,
            series_number=series,
            series_description="AX",
        ),
        instance=InstanceRecord(
            sop_instance_uid=sop,
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            series_instance_uid=series_uid,
            study_instance_uid=study_uid,
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            blob_key=f"{study_uid}/{series_uid}/{sop}.{sha[:12]}.dcm",
            size_bytes=len(content),
            sha256=sha,
            instance_number=instance,
            received_at=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC),
        ),
        dicom_json=b'{"00080018":{"vr":"UI","Value":["' + sop.encode() + b'"]}}',
    )
