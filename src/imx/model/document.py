"""XDS DocumentEntry metadata (ITI TF-3 4.2.3.2; XDS-I.b manifest values, RAD TF-3 4.68.4.1.2)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from imx.model.identifiers import PatientId

__all__ = ["Code", "DocumentEntry", "DocumentKind"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    """A coded value: code, coding scheme (OID or name) and display name."""

    code: str
    scheme: str
    display: str = ""


class DocumentKind:
    """What a DocumentEntry points at."""

    MANIFEST = "manifest"  # a KOS imaging manifest (XDS-I.b)
    REPORT = "report"  # a radiology report (DICOM SR or encapsulated PDF)


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentEntry:
    """A stable DocumentEntry with everything an XCA responder returns (LeafClass).

    ``document_unique_id`` is the SOP Instance UID of the KOS or report; the
    document bytes are the stored Part-10 file (``blob_key``), or for an
    encapsulated PDF report that is served as application/pdf, the extracted PDF.
    """

    entry_uuid: str  # urn:uuid:...
    document_unique_id: str
    kind: str  # DocumentKind
    patient_id: PatientId  # the affinity-domain (XAD) patient ID
    source_patient_id: PatientId
    source_patient_info: tuple[str, ...]  # PID-3|..., PID-5|..., PID-7|..., PID-8|...
    repository_unique_id: str
    mime_type: str
    title: str
    class_code: Code
    type_code: Code
    format_code: Code
    confidentiality_code: Code
    healthcare_facility_type_code: Code
    practice_setting_code: Code
    event_codes: tuple[Code, ...]
    language_code: str
    creation_time: dt.datetime
    service_start_time: dt.datetime | None
    service_stop_time: dt.datetime | None
    size_bytes: int
    hash_sha1: str  # hex SHA-1 of the document bytes (ITI TF-3 4.2.3.2.12)
    study_instance_uid: str
    accession_number: str = ""
    accession_issuer: str = ""
    author_institution: str = ""
    author_person: str = ""
    blob_key: str = ""
    status: str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
    updated_at: dt.datetime | None = None

    @property
    def reference_id_list(self) -> tuple[str, ...]:
        """CXi values for the referenceIdList slot (ITI TF-3 4.2.3.2.28; RAD TF-3 4.68.4.1.2.3.5)."""
        refs = [f"{self.study_instance_uid}^^^^urn:ihe:iti:xds:2016:studyInstanceUID"]
        if self.accession_number:
            if self.accession_issuer:
                refs.append(
                    f"{self.accession_number}^^^&{self.accession_issuer}&ISO"
                    "^urn:ihe:iti:xds:2013:accession"
                )
            else:
                refs.append(f"{self.accession_number}^^^^urn:ihe:iti:xds:2013:accession")
        return tuple(refs)
