"""The responder's patient index (MPI) entries and cross-community correlations.

ITI TF-2b 3.55.4.2.3 (responding gateway matching) and SPEC-NOTES §2.5 (correlations kept
after a match, incl. the Query-and-Feed reverse correlation of §2.1).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from imx.model.identifiers import PatientId
from imx.model.imaging import PatientRecord
from imx.model.patient_discovery import PatientDemographics, PersonName

__all__ = [
    "MpiCandidate",
    "MpiPatient",
    "MpiSource",
    "PatientCorrelation",
    "dicom_person_name",
    "mpi_patient_from_record",
]


class MpiSource(enum.StrEnum):
    """Where an index entry's demographics came from (a richer source is never overwritten
    by a poorer one: DICOM headers only create an entry the ADT feed has not)."""

    ADT = "adt"  # ITI-8 registration feed
    IMPORT = "import"  # `imx patients import`
    DICOM = "dicom"  # ingested DICOM headers


@dataclass(frozen=True, slots=True, kw_only=True)
class MpiPatient:
    """One person in the index: our identifier and the demographics we match against.

    ``demographics.ids`` holds the person's other identifiers (SSN, other MRNs), never
    ``patient_id`` itself; ``demographics.gender`` is HL7 AdministrativeGender (M/F/UN/"").
    """

    patient_id: PatientId
    demographics: PatientDemographics
    source: MpiSource = MpiSource.ADT


class MpiCandidate(NamedTuple):
    """A blocking hit: the entry's identifier and the matcher's normalised form as stored
    with it (``imx.matching.mpi_form``), so a query neither re-normalises nor decodes the
    full demographics of every candidate (only the matched one is read whole).

    A NamedTuple, not a frozen dataclass: a query at 1M patients reads ~150 of these and a
    frozen dataclass (with a PatientId inside) cost ~5 us each to build; this costs <1 us.
    """

    id: str
    assigning_authority: str
    match_form: str

    @property
    def patient_id(self) -> PatientId:
        return PatientId(id=self.id, assigning_authority=self.assigning_authority)


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientCorrelation:
    """Another community's identifier for one of our patients (SPEC-NOTES §2.5).

    ``remote_patient_id`` is their ID with their assigning authority (an OID);
    ``home_community_id`` is their home community (bare OID, as in HL7v3).
    """

    local_patient_id: PatientId
    remote_patient_id: PatientId
    home_community_id: str


def dicom_person_name(patient_name: str) -> PersonName:
    """PS3.5 6.2 PN ``Family^Given^Middle^Prefix^Suffix`` (alphabetic group only)."""
    parts = [*patient_name.split("=")[0].split("^"), "", "", "", "", ""][:5]
    given = tuple(p.strip() for p in (parts[1], parts[2]) if p.strip())
    return PersonName(family=parts[0].strip(), given=given, prefix=parts[3].strip(),
                      suffix=parts[4].strip())


def mpi_patient_from_record(record: PatientRecord,
                            source: MpiSource = MpiSource.DICOM) -> MpiPatient:
    """An index entry from DICOM header demographics (PS3.3 C.7.1.1 Patient Module)."""
    gender = {"M": "M", "F": "F", "O": "UN"}.get(record.sex, "")
    name = dicom_person_name(record.patient_name) if record.patient_name else None
    return MpiPatient(
        patient_id=record.patient_id, source=source,
        demographics=PatientDemographics(
            names=(name,) if name else (), gender=gender, birth_date=record.birth_date,
            ids=record.other_patient_ids))
