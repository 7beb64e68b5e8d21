"""Retrieve requests and per-document answers (ITI-39, RAD-69, RAD-75)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DocumentAnswer",
    "DocumentRequest",
    "ImagingRetrieveRequest",
    "SeriesRequest",
    "StudyRequest",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRequest:
    """One requested document (ITI TF-2b 3.39.4.1.2; for imaging the SOP Instance UID)."""

    home_community_id: str | None
    repository_unique_id: str
    document_unique_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesRequest:
    series_instance_uid: str
    documents: tuple[DocumentRequest, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyRequest:
    study_instance_uid: str
    series: tuple[SeriesRequest, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImagingRetrieveRequest:
    """RAD-69 / RAD-75 RetrieveImagingDocumentSetRequest (RAD TF-3 4.69.4.1.2)."""

    studies: tuple[StudyRequest, ...]
    transfer_syntax_uids: tuple[str, ...]

    def documents(self) -> list[tuple[str, str, DocumentRequest]]:
        """Flatten to (study UID, series UID, document request) in request order."""
        return [(st.study_instance_uid, se.series_instance_uid, doc)
                for st in self.studies for se in st.series for doc in se.documents]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentAnswer:
    """One DocumentResponse: the document travels as the MTOM part ``content_id``."""

    home_community_id: str | None
    repository_unique_id: str
    document_unique_id: str
    mime_type: str
    content_id: str
