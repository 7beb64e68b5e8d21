"""Deterministic synthetic patients and studies (CT/MR with real 16-bit pixel data).

Used by tests, the demo and the benchmarks. Same seed → byte-identical files. UIDs are
derived from the seed under imx's root ``1.2.826.0.1.3680043.10.1492`` (a sub-arc of
Medical Connections' free UID root, PS3.5 9.1 / B.2), so they are valid and stable.
A study is a generator: a 2,000-slice study never sits in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian

from imx.dicom.phantom import phantom_slice

__all__ = [
    "SynthPatient",
    "community_variant",
    "generate_patients",
    "generate_study",
    "iter_write_study",
    "synth_uid",
    "write_study",
]

UID_ROOT = "1.2.826.0.1.3680043.10.1492"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

_GIVEN_F = [
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Zoë",
    "María",
    "Aoife",
    "Chloé",
    "Ingrid",
    "Mei",
    "Priya",
    "Fatima",
    "Olga",
    "Sofía",
    "Katherine",
]
_GIVEN_M = [
    "James",
    "Robert",
    "John",
    "Michael",
    "William",
    "José",
    "Łukasz",
    "Søren",
    "François",
    "Hiroshi",
    "Mohammed",
    "Seán",
    "Björn",
    "Thomas",
    "Daniel",
    "Richard",
]
_FAMILY = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "García",
    "Müller",
    "Ó Briain",
    "Nguyen",
    "Kowalski",
    "Dubois",
    "Østergaard",
    "Rossi",
    "Yamamoto",
    "Patel",
    "Schäfer",
    "O'Connor",
    "Hernández-López",
    "Van der Berg",
    "Cohen",
]
_NICK = {
    "James": "Jim",
    "Robert": "Bob",
    "William": "Bill",
    "Katherine": "Kate",
    "Elizabeth": "Liz",
    "Michael": "Mike",
    "Richard": "Rick",
    "Thomas": "Tom",
    "Daniel": "Dan",
    "Patricia": "Pat",
    "Jennifer": "Jen",
}
_STREETS = ["Main St", "Oak Ave", "Maple Dr", "Harbor View Rd", "Elm St", "Cedar Ln", "Park Blvd"]
_CITIES = [
    ("Portland", "ME", "04101"),
    ("Boston", "MA", "02115"),
    ("Albany", "NY", "12207"),
    ("Burlington", "VT", "05401"),
    ("Hartford", "CT", "06103"),
]
_CT_PROCS = [
    ("CT CHEST WITH CONTRAST", "CHEST"),
    ("CT ABDOMEN PELVIS", "ABDOMEN"),
    ("CT HEAD WITHOUT CONTRAST", "HEAD"),
]
_MR_PROCS = [
    ("MR BRAIN WITHOUT CONTRAST", "BRAIN"),
    ("MR KNEE LEFT", "KNEE"),
    ("MR LUMBAR SPINE", "LSPINE"),
]


def synth_uid(*parts: object) -> str:
    """A valid, deterministic UID under imx's root for the given parts (≤ 64 chars)."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    number = str(int.from_bytes(digest[:16], "big"))
    return f"{UID_ROOT}.{number}"[:64].rstrip(".")


@dataclass(frozen=True, slots=True, kw_only=True)
class SynthPatient:
    key: str
    patient_id: str
    issuer_oid: str
    family: str
    given: str
    middle: str
    sex: str
    birth_date: dt.date
    street: str
    city: str
    state: str
    postal_code: str
    phone: str

    @property
    def dicom_name(self) -> str:
        return f"{self.family}^{self.given}^{self.middle}"


def generate_patients(
    seed: int, count: int, *, issuer_oid: str = "1.3.6.1.4.1.21367.2026.1.1.2"
) -> list[SynthPatient]:
    """``count`` plausible patients (non-ASCII names included), deterministic from ``seed``."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not security)
    out = []
    for i in range(count):
        sex = rng.choice("MF")
        given = rng.choice(_GIVEN_M if sex == "M" else _GIVEN_F)
        city, state, zipcode = rng.choice(_CITIES)
        out.append(
            SynthPatient(
                key=f"{seed}-{i}",
                patient_id=f"IMX{seed:03d}{i:06d}",
                issuer_oid=issuer_oid,
                family=rng.choice(_FAMILY),
                given=given,
                middle=rng.choice("ABCDEJKLMR"),
                sex=sex,
                birth_date=dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 33000)),
                street=f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}",
                city=city,
                state=state,
                postal_code=zipcode,
                phone=f"+1-{rng.randrange(200, 999)}-555-{rng.randrange(1000, 9999)}",
            )
        )
    return out


def community_variant(
    p: SynthPatient, *, seed: int, patient_id: str, issuer_oid: str
) -> SynthPatient:
    """The same person as registered in another community: another ID and small differences
    (nickname, a transposition typo in the family name, a new address), as real
    cross-community records differ. Birth date and sex stay; at least one field changes.
    Deterministic from ``seed`` and the patient."""
    rng = random.Random(f"{seed}/{p.key}")  # noqa: S311 (synthetic data, not security)
    given = _NICK.get(p.given, p.given) if rng.random() < 0.5 else p.given
    family = p.family
    if rng.random() < 0.3 and len(family) > 3:
        i = rng.randrange(1, len(family) - 1)
        family = family[:i] + family[i + 1] + family[i] + family[i + 2 :]  # transposition typo
    street, city, state, postal_code = p.street, p.city, p.state, p.postal_code
    moved = rng.random() < 0.3
    if moved or (given == p.given and family == p.family):  # always differ in something
        street = f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}"
        if street == p.street:
            street = f"{street} Apt {rng.randrange(1, 40)}"
        if rng.random() < 0.5:
            city, state, postal_code = rng.choice(_CITIES)
    return replace(
        p,
        patient_id=patient_id,
        issuer_oid=issuer_oid,
        given=given,
        family=family,
        street=street,
        city=city,
        state=state,
        postal_code=postal_code,
    )


def generate_study(
    patient: SynthPatient,
    *,
    seed: int,
    study_index: int = 0,
    modality: str = "CT",
    series_count: int = 2,
    instances_per_series: int = 20,
    rows: int = 512,
    columns: int = 512,
) -> Iterator[FileDataset]:
    """Yield the study's instances one at a time (deterministic from the arguments).

    ``study_index`` picks which of the patient's studies (0, 1, ...): each gets its own UIDs,
    date, accession number and procedure. Slices are 2.5 mm apart along -z.
    """
    if modality not in ("CT", "MR"):
        raise ValueError(f"modality must be CT or MR, not {modality!r}")
    rng = random.Random(f"{seed}/{patient.key}/{study_index}")  # noqa: S311 (synthetic data, not security)
    study_uid = synth_uid("study", seed, patient.key, study_index)
    procs = _CT_PROCS if modality == "CT" else _MR_PROCS
    description, body_part = rng.choice(procs)
    study_date = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(0, 3000))
    study_time = f"{rng.randrange(7, 19):02d}{rng.randrange(0, 60):02d}{rng.randrange(0, 60):02d}"
    accession = f"A{seed:02d}{rng.randrange(10**7, 10**8)}"
    referring = f"{rng.choice(_FAMILY)}^{rng.choice(_GIVEN_F + _GIVEN_M)}"
    for s in range(series_count):
        series_uid = synth_uid("series", study_uid, s)
        np_rng = np.random.default_rng(int(hashlib.sha256(series_uid.encode()).hexdigest()[:8], 16))
        for i in range(instances_per_series):
            sop_uid = synth_uid("sop", series_uid, i)
            yield _instance(
                patient,
                modality=modality,
                study_uid=study_uid,
                series_uid=series_uid,
                sop_uid=sop_uid,
                series_number=s + 1,
                instance_number=i + 1,
                study_date=study_date,
                study_time=study_time,
                accession=accession,
                description=description,
                body_part=body_part,
                referring=referring,
                pixels=phantom_slice(rows, columns, i / 8.0, modality, np_rng),
            )


def _instance(
    p: SynthPatient,
    *,
    modality: str,
    study_uid: str,
    series_uid: str,
    sop_uid: str,
    series_number: int,
    instance_number: int,
    study_date: dt.date,
    study_time: str,
    accession: str,
    description: str,
    body_part: str,
    referring: str,
    pixels: np.ndarray,
) -> FileDataset:
    sop_class = CT_IMAGE_STORAGE if modality == "CT" else MR_IMAGE_STORAGE
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(f"{UID_ROOT}.1")
    meta.ImplementationVersionName = "IMX_SYNTH"
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\x00" * 128)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL" if modality == "CT" else "OTHER"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    da = study_date.strftime("%Y%m%d")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = da
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = study_time
    ds.AccessionNumber = accession
    ds.IssuerOfAccessionNumberSequence = Sequence([_ueid(f"{p.issuer_oid}.9")])
    ds.Modality = modality
    ds.Manufacturer = "imx synthetic"
    ds.InstitutionName = "imx Imaging Centre"
    ds.ReferringPhysicianName = referring
    ds.StudyDescription = description
    ds.SeriesDescription = f"{description.split(' ', 1)[1].title()} {series_number}"
    ds.PatientName = p.dicom_name
    ds.PatientID = p.patient_id
    ds.IssuerOfPatientID = p.issuer_oid
    ds.IssuerOfPatientIDQualifiersSequence = Sequence([_ueid(p.issuer_oid)])
    ds.PatientBirthDate = p.birth_date.strftime("%Y%m%d")
    ds.PatientSex = p.sex
    # Address and phone stay in SynthPatient (XCPD demographics): they are not in the CT/MR
    # Image IODs, and adding them would make a Standard Extended SOP Class (PS3.4 B.1.3).
    ds.BodyPartExamined = body_part
    if body_part == "KNEE":
        ds.Laterality = "L"  # PS3.3 C.7.3.1: Type 2C for paired body parts
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = accession[-6:]
    ds.SeriesNumber = series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = instance_number
    ds.PatientPosition = "HFS"
    ds.FrameOfReferenceUID = synth_uid("for", study_uid)
    ds.PositionReferenceIndicator = ""
    ds.SliceThickness = "2.5"
    ds.SliceLocation = f"{-instance_number * 2.5:.1f}"
    ds.ImagePositionPatient = ["-250.0", "-250.0", f"{-instance_number * 2.5:.1f}"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = [f"{500 / pixels.shape[0]:.4f}", f"{500 / pixels.shape[1]:.4f}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if modality == "CT":
        ds.KVP = "120"
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.ConvolutionKernel = "STANDARD"
    else:
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.EchoTime = "20"
        ds.RepetitionTime = "500"
        ds.EchoTrainLength = 1
        ds.MagneticFieldStrength = "1.5"
        ds.WindowCenter = "600"
        ds.WindowWidth = "1200"
    ds.PixelData = pixels.tobytes()
    return ds


def _ueid(oid: str) -> Dataset:
    item = Dataset()
    item.UniversalEntityID = oid
    item.UniversalEntityIDType = "ISO"
    return item


def iter_write_study(directory: Path, instances: Iterable[FileDataset]) -> Iterator[Path]:
    """Write each instance to ``<directory>/<series>/<sop>.dcm`` as it is made; yield the path."""
    for ds in instances:
        folder = directory / str(ds.SeriesInstanceUID)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        yield path


def write_study(directory: Path, instances: Iterable[FileDataset]) -> list[Path]:
    """Write each instance as ``<directory>/<series>/<sop>.dcm``; returns the paths written."""
    return list(iter_write_study(directory, instances))
