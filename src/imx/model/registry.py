"""Registry objects besides DocumentEntries, and registry errors (ebRIM / ebRS 3.0).

SubmissionSet and Association per ITI TF-3 4.1.3 / 4.2.2 (what an ITI-38 answer carries next
to DocumentEntries); RegistryError per ITI TF-3 4.2.4.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from imx.model.document import Code
from imx.model.identifiers import PatientId

__all__ = ["Association", "RegistryErrorItem", "SubmissionSet"]

APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryErrorItem:
    """One RegistryError. ``code_context`` must carry no PHI; it is cut to a safe length."""

    error_code: str  # e.g. "XDSUnknownPatientId"
    code_context: str
    location: str = ""  # XCA: the responding community's home community ID
    is_warning: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionSet:
    """The act of registering documents (ITI TF-3 4.1.3.3; ebRIM RegistryPackage).

    ``member_entry_uuids`` are the DocumentEntries it registered (each one a HasMember
    association from this set).
    """

    entry_uuid: str  # urn:uuid:...
    unique_id: str  # OID
    source_id: str  # OID of the Document Source that submitted it
    patient_id: PatientId
    submission_time: dt.datetime
    content_type_code: Code
    title: str = ""
    author_institution: str = ""  # XON
    author_person: str = ""  # XCN
    status: str = APPROVED
    member_entry_uuids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Association:
    """A typed link between two registry objects (ITI TF-3 4.2.2; ebRIM Association).

    ``submission_set_status`` is the HasMember slot ``SubmissionSetStatus`` ("Original" for
    an entry submitted in that set; empty for other association types).
    """

    entry_uuid: str
    association_type: str  # AssociationType URN
    source_object: str
    target_object: str
    status: str = APPROVED
    submission_set_status: str = ""
