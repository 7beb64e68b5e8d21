"""What an initiating gateway learns from other communities (ITI-55/38/39, RAD-75 as initiator)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass

from imx.model.document import Code
from imx.model.identifiers import PatientId
from imx.model.patient_discovery import DetectedIssue, PatientDemographics, QueryResponseCode
from imx.model.registry import RegistryErrorItem

__all__ = [
    "KOS_FORMAT_CODE",
    "CommunityFailure",
    "CommunityPatient",
    "RemoteDiscovery",
    "RemoteDocument",
    "RemoteQueryResult",
    "Requester",
    "RetrievedPart",
    "current_requester",
]

# DICOM KOS SOP Class as XDS-I.b formatCode (RAD TF-3 4.68.4.1.2.3.2, SPEC-NOTES §4.5).
KOS_FORMAT_CODE = "1.2.840.10008.5.1.4.1.1.88.59"
_STUDY_REF = "urn:ihe:iti:xds:2016:studyInstanceUID"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityPatient:
    """The patient as one community knows them (an ITI-55 match or a cached correlation)."""

    home_community_id: str  # "urn:oid:..."
    patient_id: PatientId  # the ID to use in ITI-38 with that community
    demographics: PatientDemographics | None = None
    score: int = 0  # the responder's queryMatchObservation, 0..100
    local_score: float | None = None  # our own re-check (matching.score), None if not checked
    from_cache: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityFailure:
    """A community that did not answer usefully: the RegistryError we report for it."""

    home_community_id: str
    error_code: str  # XDSUnavailableCommunity, XDSRegistryError, ...
    detail: str  # PHI-free


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteDocument:
    """A DocumentEntry returned by a responding gateway (ITI TF-3 4.2.3.2), as far as the
    initiator needs it: where it lives, what it is, which study it belongs to."""

    home_community_id: str
    repository_unique_id: str
    document_unique_id: str
    entry_uuid: str
    mime_type: str
    title: str = ""
    patient_id: str = ""  # CX as sent
    class_code: Code | None = None
    type_code: Code | None = None
    format_code: Code | None = None
    creation_time: dt.datetime | None = None
    service_start_time: dt.datetime | None = None
    author_institution: str = ""
    size_bytes: int | None = None
    reference_ids: tuple[str, ...] = ()

    @property
    def is_manifest(self) -> bool:
        return self.format_code is not None and self.format_code.code == KOS_FORMAT_CODE

    @property
    def study_instance_uids(self) -> tuple[str, ...]:
        """Study UIDs from referenceIdList (CXi with type urn:ihe:iti:xds:2016:studyInstanceUID)."""
        out = []
        for ref in self.reference_ids:
            parts = ref.split("^")
            if len(parts) >= 5 and parts[4] == _STUDY_REF and parts[0]:
                out.append(parts[0])
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteQueryResult:
    """One community's ITI-38 answer."""

    status: str  # ebRS status URN
    documents: tuple[RemoteDocument, ...] = ()
    errors: tuple[RegistryErrorItem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteDiscovery:
    """One community's ITI-55 answer, mapped to the patients it holds."""

    response_code: QueryResponseCode
    patients: tuple[CommunityPatient, ...] = ()
    detected_issues: tuple[DetectedIssue, ...] = ()
    error_text: str = ""  # from the peer; PHI-free is not guaranteed: never log it


@dataclass(slots=True, kw_only=True)
class RetrievedPart:
    """One document arriving from a peer (ITI-39 / RAD-75 DocumentResponse). ``chunks`` is the
    live MTOM part: read it once, before asking for the next part."""

    home_community_id: str
    repository_unique_id: str
    document_unique_id: str
    mime_type: str
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class Requester:
    """Who asks the network, carried into the outbound XUA assertion (SPEC-NOTES §5.2)."""

    subject_id: str  # the person's name, e.g. "Dr. Ana Smith"
    role_code: str = "112247003"  # SNOMED CT "Medical doctor"
    purpose_of_use: str = "TREATMENT"  # NHIN code
    npi: str | None = None


# Set by the initiating services for the duration of one request; read by the outbound
# client's assertion builder. Unset = the node itself (system) asking for treatment.
current_requester: ContextVar[Requester | None] = ContextVar("imx_current_requester", default=None)
