"""Import reconciliation: give a retrieved instance our patient's identity, keeping the source's
in the Original Attributes Sequence (PS3.3 C.12.1.1.9; IHE RAD IRWF.b "Import Reconciliation").

Pure: bytes in, bytes out. Only the patient module's identifiers change; pixel data and every
other element are written back as read (same transfer syntax, same encoding).
"""

from __future__ import annotations

import copy
import datetime as dt
import io

from pydicom import Dataset, dcmread
from pydicom.sequence import Sequence

from imx.errors import MalformedMessageError
from imx.model.identifiers import PatientId

__all__ = ["reconcile_patient"]

_KEYWORDS = (
    "PatientID",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "OtherPatientIDsSequence",
)


def reconcile_patient(
    data: bytes,
    patient: PatientId,
    *,
    modified_at: dt.datetime,
    modifying_system: str = "imx",
    source_of_previous_values: str = "",
) -> bytes:
    """Rewrite Patient ID / Issuer to ``patient``; the previous values go into a new item of
    the Original Attributes Sequence with reason COERCE (PS3.3 Table C.12-1, C.12.1.1.9.2).

    Raises:
        MalformedMessageError: not a DICOM Part 10 file.
    """
    try:
        ds = dcmread(io.BytesIO(data))
    except Exception as exc:
        raise MalformedMessageError("not a DICOM Part 10 file") from exc
    if (
        str(ds.get("PatientID", "")) == patient.id
        and str(ds.get("IssuerOfPatientID", "")) == patient.assigning_authority
    ):
        return data  # already ours: the bytes stay identical
    previous = Dataset()
    for keyword in _KEYWORDS:
        if keyword in ds:
            previous[keyword] = copy.deepcopy(ds[keyword])  # not shared: ds changes next
    item = Dataset()
    item.ModifiedAttributesSequence = Sequence([previous])
    item.AttributeModificationDateTime = modified_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    item.ModifyingSystem = modifying_system[:64]
    item.ReasonForTheAttributeModification = "COERCE"
    if source_of_previous_values:
        item.SourceOfPreviousValues = source_of_previous_values[:64]
    original = list(ds.get("OriginalAttributesSequence", []) or [])
    ds.OriginalAttributesSequence = Sequence([*original, item])
    ds.PatientID = patient.id
    ds.IssuerOfPatientID = patient.assigning_authority
    if "IssuerOfPatientIDQualifiersSequence" in ds:
        del ds.IssuerOfPatientIDQualifiersSequence
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
