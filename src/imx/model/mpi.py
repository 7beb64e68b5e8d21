"""The responder's patient index (MPI) entries and cross-community correlations.

ITI TF-2b 3.55.4.2.3 (responding gateway matching) and SPEC-NOTES §2.5 (correlations kept
after a match, incl. the Query-and-Feed reverse correlation of §2.1).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from typing import NamedTuple

from imx.model.identifiers import PatientId
from imx.model.imaging import PatientRecord
from imx.model.patient_discovery import Address, PatientDemographics, PersonName

__all__ = [
    "MpiCandidate",
    "MpiPatient",
    "MpiSource",
    "PatientCorrelation",
    "dicom_address",
    "dicom_person_name",
    "dicom_telecoms",
    "mpi_patient_from_record",
    "refreshed_dicom_entry",
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


# USPS state and territory codes: a trailing "ST 12345" is read as a US address only with one.
_US_STATES = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
))
_STATE_ZIP = re.compile(r"^(?:(?P<city>[A-Za-z][A-Za-z .'-]*?)\s+)?(?P<state>[A-Z]{2})\s+"
                        r"(?P<zip>\d{5}(?:-\d{4})?)$")
_CITY = re.compile(r"^[A-Za-z][A-Za-z .'-]*$")
_COUNTRY = {"USA": "US", "US": "US", "U.S.A.": "US", "UNITED STATES": "US"}


def dicom_address(text: str) -> Address | None:
    """Patient's Address (0010,1040, free text) as an address, conservatively.

    ``street^other^city^state^zip^country`` (HL7 XAD, as some HL7-to-DICOM mappings write
    it) is read by component. Free text is split into city, state and ZIP only in the
    unambiguous US form ``<street>, <city>, ST 12345`` or ``<street>, <city> ST 12345``
    (a known state code, a city of letters, optionally ``, USA``); anything else is kept
    whole as the street line, so nothing is guessed.
    """
    text = " ".join(text.split())
    if not text:
        return None
    if "^" in text:
        c = [*(p.strip() for p in text.split("^")), "", "", "", "", "", ""]
        lines = tuple(x for x in (c[0], c[1]) if x)
        return Address(street_lines=lines, city=c[2], state=c[3], postal_code=c[4],
                       country=c[5])
    parts = [p.strip() for p in text.split(",")]
    country = ""
    if len(parts) > 2 and parts[-1].upper() in _COUNTRY:
        country = _COUNTRY[parts.pop().upper()]
    m = _STATE_ZIP.match(parts[-1]) if len(parts) >= 2 else None
    if m is not None and m.group("state") in _US_STATES:
        city, street = m.group("city"), parts[:-1]
        if city is None and len(parts) >= 3 and _CITY.match(parts[-2]):
            city, street = parts[-2], parts[:-2]
        if city and street and all(street):
            return Address(street_lines=tuple(street), city=city, state=m.group("state"),
                           postal_code=m.group("zip"), country=country)
    return Address(street_lines=(text,))


def dicom_telecoms(numbers: tuple[str, ...]) -> tuple[str, ...]:
    """Patient's Telephone Numbers (0010,2154) as ``tel:`` URIs (digits and ``+`` kept);
    values with fewer than seven digits are not phone numbers."""
    out = []
    for number in numbers:
        digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
        if sum(ch.isdigit() for ch in digits) >= 7:
            out.append(f"tel:{digits}")
    return tuple(dict.fromkeys(out))


def mpi_patient_from_record(record: PatientRecord,
                            source: MpiSource = MpiSource.DICOM) -> MpiPatient:
    """An index entry from DICOM header demographics (PS3.3 C.7.1.1 Patient Module and
    C.2.2 Patient Demographic Module: address, telephone numbers, mother's birth name)."""
    gender = {"M": "M", "F": "F", "O": "UN"}.get(record.sex, "")
    name = dicom_person_name(record.patient_name) if record.patient_name else None
    address = dicom_address(record.address)
    # The mother's birth (maiden) name is her family name at birth: the first PN component.
    mother = dicom_person_name(record.mothers_birth_name).family
    return MpiPatient(
        patient_id=record.patient_id, source=source,
        demographics=PatientDemographics(
            names=(name,) if name else (), gender=gender, birth_date=record.birth_date,
            addresses=(address,) if address else (),
            telecoms=dicom_telecoms(record.telephone_numbers),
            ids=record.other_patient_ids,
            mothers_maiden_name=PersonName(family=mother) if mother else None))


def refreshed_dicom_entry(previous: MpiPatient, latest: MpiPatient) -> MpiPatient:
    """The entry a later DICOM header makes of an earlier DICOM-derived one.

    The latest header's name, birth date and sex win (corrections); an address, phones,
    mother's maiden name or other IDs it lacks are kept from before, since series from
    different modalities rarely all carry them and losing them would lose matches.
    """
    old, new = previous.demographics, latest.demographics
    return dataclasses.replace(latest, demographics=dataclasses.replace(
        new, addresses=new.addresses or old.addresses, telecoms=new.telecoms or old.telecoms,
        mothers_maiden_name=new.mothers_maiden_name or old.mothers_maiden_name,
        ids=new.ids or old.ids))
