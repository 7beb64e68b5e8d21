"""Radiology reports as XDS documents: DICOM SR and Encapsulated PDF (RAD TF-3 4.68; ITI TF-3 4.2.3.2).

Pure: classify SOP classes, derive titles and codes, extract the PDF of an
Encapsulated PDF instance (served as application/pdf, formatCode urn:ihe:rad:PDF).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

from imx.model.document import Code

__all__ = ["ReportKind", "classify_report", "extract_pdf", "report_title"]

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SR_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
}
DICOM_UID_SCHEME = "1.2.840.10008.2.6.1"
IHE_FORMAT_SCHEME = "1.3.6.1.4.1.19376.1.2.3"
# LOINC 18782-3 "Radiology Study observation (narrative)" for reports (RAD TF-3 Table 4.68.4.1.2.3-1
# lists report typeCodes as affinity-domain defined; this LOINC code is the common choice).
REPORT_TYPE_CODE = Code(code="18782-3", scheme="2.16.840.1.113883.6.1",
                        display="Radiology Study observation (narrative)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportKind:
    mime_type: str
    format_code: Code


def classify_report(sop_class_uid: str) -> ReportKind | None:
    """The XDS shape of a report SOP class, or None if it is not a report."""
    if sop_class_uid == ENCAPSULATED_PDF:
        return ReportKind(mime_type="application/pdf",
                          format_code=Code(code="urn:ihe:rad:PDF", scheme=IHE_FORMAT_SCHEME,
                                           display="PDF Report"))
    if sop_class_uid in SR_CLASSES:
        return ReportKind(mime_type="application/dicom",
                          format_code=Code(code=sop_class_uid, scheme=DICOM_UID_SCHEME,
                                           display=SR_CLASSES[sop_class_uid]))
    return None


def report_title(ds: Dataset) -> str:
    """Document Title (SR root Concept Name) or the PDF's Document Title, else a default."""
    for item in ds.get("ConceptNameCodeSequence", []) or []:
        meaning = str(item.get("CodeMeaning", "")).strip()
        if meaning:
            return meaning
    title = str(ds.get("DocumentTitle", "") or "").strip()
    return title or "Radiology report"


def extract_pdf(ds: Dataset) -> bytes:
    """The PDF inside an Encapsulated PDF instance (PS3.3 C.24.2), without DICOM padding."""
    data = bytes(ds.EncapsulatedDocument)
    end = data.rfind(b"%%EOF")
    return data[: end + 5] if end >= 0 else data.rstrip(b"\x00")
