"""XCPD (ITI-55) requests and answers as model values (ITI TF-2b 3.55; SPEC-NOTES §2)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from imx.model.identifiers import PatientId

__all__ = [
    "Address",
    "DetectedIssue",
    "InstanceIdentifier",
    "PatientDemographics",
    "PatientDiscoveryAnswer",
    "PatientDiscoveryRequest",
    "PatientMatch",
    "PersonName",
    "QueryResponseCode",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceIdentifier:
    """HL7v3 II: root (OID or UUID) and optional extension."""

    root: str
    extension: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonName:
    given: tuple[str, ...] = ()
    family: str = ""
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    street_lines: tuple[str, ...] = ()
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientDemographics:
    """Demographics as sent or returned in XCPD. ``ids`` root = assigning authority OID."""

    names: tuple[PersonName, ...] = ()
    gender: str = ""  # HL7 AdministrativeGender: M | F | UN, "" when absent
    birth_date: dt.date | None = None
    addresses: tuple[Address, ...] = ()
    telecoms: tuple[str, ...] = ()  # "tel:+1-555-..." / "mailto:..."
    ids: tuple[PatientId, ...] = ()
    mothers_maiden_name: PersonName | None = None
    birth_place: Address | None = None


class QueryResponseCode(enum.StrEnum):
    """queryAck/queryResponseCode (HL7 QueryResponse; ITI TF-2b 3.55.4.2.2.6)."""

    OK = "OK"
    NO_MATCH = "NF"
    QUERY_ERROR = "QE"
    APPLICATION_ERROR = "AE"


class DetectedIssue(enum.StrEnum):
    """acknowledgementDetail codes, system 1.3.6.1.4.1.19376.1.2.27.1 (ITI TF-2b 3.55.4.2.2.6)."""

    ANSWER_NOT_AVAILABLE = "AnswerNotAvailable"
    RESPONDER_BUSY = "ResponderBusy"
    GENDER_REQUESTED = "LivingSubjectAdministrativeGenderRequested"
    ADDRESS_REQUESTED = "PatientAddressRequested"
    TELECOM_REQUESTED = "PatientTelecomRequested"
    BIRTH_PLACE_NAME_REQUESTED = "LivingSubjectBirthPlaceNameRequested"
    BIRTH_PLACE_ADDRESS_REQUESTED = "LivingSubjectBirthPlaceAddressRequested"
    MOTHERS_MAIDEN_NAME_REQUESTED = "MothersMaidenNameRequested"
    SSN_REQUESTED = "SSNRequested"


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientDiscoveryRequest:
    """A parsed PRPA_IN201305UV02. ``query_by_parameter`` keeps the exact XML for the echo
    in the response and the audit record (ITI TF-2b 3.55.4.2.2.7, 3.55.5.1)."""

    message_id: InstanceIdentifier
    creation_time: str
    sender_device_id: InstanceIdentifier
    sender_home_community_id: str  # bare OID from sender/device/asAgent/representedOrganization
    receiver_device_id: InstanceIdentifier | None
    query_id: InstanceIdentifier
    processing_code: str  # P | T | D
    response_priority: str  # I (immediate) | D (deferred)
    demographics: PatientDemographics
    query_by_parameter: bytes
    initial_quantity: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientMatch:
    """One matched patient as we return it: our IDs and our demographics."""

    demographics: PatientDemographics  # ids[0] is the ID the initiator should use in ITI-38
    score: int  # queryMatchObservation 0..100


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientDiscoveryAnswer:
    """What the responder decided, to be built into PRPA_IN201306UV02."""

    response_code: QueryResponseCode
    matches: tuple[PatientMatch, ...] = ()
    detected_issues: tuple[DetectedIssue, ...] = ()
    error_text: str = ""  # PHI-free
