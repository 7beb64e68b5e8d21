"""Import reconciliation keeps the source's identity in Original Attributes and nothing else moves."""

from __future__ import annotations

import datetime as dt
import io

import pydicom
import pytest

from imx.dicom.reconcile import reconcile_patient
from imx.dicom.synth import generate_patients, generate_study
from imx.errors import MalformedMessageError
from imx.model.identifiers import PatientId

LOCAL = PatientId(id="LOCAL-9", assigning_authority="1.2.3.4.5.6")


def _part10() -> bytes:
    ds = next(iter(generate_study(generate_patients(5, 1)[0], seed=5, series_count=1,
                                  instances_per_series=1, rows=8, columns=8)))
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_patient_id_rewritten_and_previous_values_kept() -> None:
    data = _part10()
    before = pydicom.dcmread(io.BytesIO(data))
    after = pydicom.dcmread(io.BytesIO(reconcile_patient(
        data, LOCAL, modified_at=dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC),
        source_of_previous_values="Community B")))
    assert after.PatientID == "LOCAL-9" and after.IssuerOfPatientID == "1.2.3.4.5.6"
    item = after.OriginalAttributesSequence[-1]
    assert item.ReasonForTheAttributeModification == "COERCE"
    assert item.ModifiedAttributesSequence[0].PatientID == before.PatientID
    assert item.AttributeModificationDateTime == "20261127120000"
    assert item.SourceOfPreviousValues == "Community B"
    assert after.PixelData == before.PixelData
    assert after.SOPInstanceUID == before.SOPInstanceUID
    assert after.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID


def test_already_ours_is_bit_identical_and_garbage_is_refused() -> None:
    data = reconcile_patient(_part10(), LOCAL, modified_at=dt.datetime.now(dt.UTC))
    assert reconcile_patient(data, LOCAL, modified_at=dt.datetime.now(dt.UTC)) == data
    with pytest.raises(MalformedMessageError):
        reconcile_patient(b"not dicom at all", LOCAL, modified_at=dt.datetime.now(dt.UTC))
