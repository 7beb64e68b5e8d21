"""Radiology reports as XDS documents: DICOM SR and Encapsulated PDF (RAD TF-3 4.68).

DocumentEntry fields per ITI TF-3 4.2.3.2.

Pure: classify SOP classes, derive the DocumentEntry title and codes, and extract the
PDF of an Encapsulated PDF instance. An SR is served as the stored Part-10 file
(``application/dicom``); an Encapsulated PDF is served as the PDF itself
(``application/pdf``, formatCode ``urn:ihe:rad:PDF``), so its hash and size are those
of ``extract_pdf(ds)``, not of the DICOM file.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

from imx.model.document import Code

__all__ = [
    "DICOM_UID_SCHEME",
    "ENCAPSULATED_PDF",
    "IHE_FORMAT_SCHEME",
    "LOINC_SCHEME",
    "REPORT_TYPE_CODE",
    "SR_CLASSES",
    "ReportDocument",
    "ReportKind",
    "classify_report",
    "describe_report",
    "extract_pdf",
    "is_report",
    "report_title",
    "report_type_code",
]

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SR_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
}
# formatCode schemes (SPEC-NOTES 4.5; RAD TF-3 Table 4.68.4.1.2.3-1): DICOM SOP classes in
# the DICOM UID registry scheme; the IHE PDF format code in the IHE format code scheme.
DICOM_UID_SCHEME = "1.2.840.10008.2.6.1"
IHE_FORMAT_SCHEME = "1.3.6.1.4.1.19376.1.2.3"
LOINC_SCHEME = "2.16.840.1.113883.6.1"
# typeCode when the report's own title is not LOINC coded: LOINC 18782-3 "Radiology Study
# observation (narrative)". typeCodes are affinity-domain defined (ITI TF-3 4.2.3.2.25);
# 18748-4 already types the manifests, so reports stay distinguishable in a query.
REPORT_TYPE_CODE = Code(code="18782-3", scheme=LOINC_SCHEME,
                        display="Radiology Study observation (narrative)")
_DEFAULT_TITLE = "Radiology report"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportKind:
    """How a report SOP class is published: the served MIME type and its formatCode."""

    mime_type: str
    format_code: Code


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportDocument:
    """The report-specific DocumentEntry fields of one report instance."""

    mime_type: str
    format_code: Code
    type_code: Code
    title: str

    @property
    def is_pdf(self) -> bool:
        """True when the served document is the extracted PDF, not the DICOM file."""
        return self.mime_type == "application/pdf"


def is_report(sop_class_uid: str) -> bool:
    """True for the SOP classes registered as report documents."""
    return sop_class_uid == ENCAPSULATED_PDF or sop_class_uid in SR_CLASSES


def classify_report(sop_class_uid: str) -> ReportKind | None:
    """The XDS shape of a report SOP class, or None if it is not a report."""
    if sop_class_uid == ENCAPSULATED_PDF:
        return ReportKind(mime_type="application/pdf",
                          format_code=Code(code="urn:ihe:rad:PDF", scheme=IHE_FORMAT_SCHEME,
                                           display="PDF"))
    if sop_class_uid in SR_CLASSES:
        return ReportKind(mime_type="application/dicom",
                          format_code=Code(code=sop_class_uid, scheme=DICOM_UID_SCHEME,
                                           display=SR_CLASSES[sop_class_uid]))
    return None


def _title_code(ds: Dataset) -> Dataset | None:
    for item in ds.get("ConceptNameCodeSequence", []) or []:
        return item  # type: ignore[no-any-return]
    return None


def report_title(ds: Dataset) -> str:
    """The document title: PDF Document Title (PS3.3 C.24.2), else the SR root Concept Name.

    For SR the root Concept Name is the Document Title (PS3.3 C.17.3; CID 7000).
    """
    title = str(ds.get("DocumentTitle", "") or "").strip()
    if title:
        return title
    code = _title_code(ds)
    meaning = str(code.get("CodeMeaning", "") or "").strip() if code is not None else ""
    return meaning or _DEFAULT_TITLE


def report_type_code(ds: Dataset) -> Code:
    """The report's LOINC title code (PS3.16 CID 7000 titles are LOINC) or ``REPORT_TYPE_CODE``."""
    code = _title_code(ds)
    if code is not None and str(code.get("CodingSchemeDesignator", "")) in ("LN", "LOINC"):
        value = str(code.get("CodeValue", "") or "").strip()
        if value:
            return Code(code=value, scheme=LOINC_SCHEME,
                        display=str(code.get("CodeMeaning", "") or "").strip())
    return REPORT_TYPE_CODE


def describe_report(ds: Dataset) -> ReportDocument | None:
    """The report DocumentEntry fields of ``ds``, or None if it is not a report."""
    kind = classify_report(str(ds.get("SOPClassUID", "")))
    if kind is None:
        return None
    return ReportDocument(mime_type=kind.mime_type, format_code=kind.format_code,
                          type_code=report_type_code(ds), title=report_title(ds)[:256])


def extract_pdf(ds: Dataset) -> bytes:
    """The PDF inside an Encapsulated PDF instance (PS3.3 C.24.2), without DICOM padding.

    Encapsulated Document Length (0042,0015) gives the exact length when present;
    otherwise the single NUL that pads OB to an even length (PS3.5 7.1.1) is dropped.
    """
    data = bytes(ds.EncapsulatedDocument)
    length = ds.get("EncapsulatedDocumentLength")
    if isinstance(length, int) and 0 < length <= len(data):
        return data[:length]
    if len(data) % 2 == 0 and data.endswith(b"\x00"):
        return data[:-1]
    return data
