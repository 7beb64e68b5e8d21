"""Report SOP classes and their DocumentEntry fields (SR served as DICOM, PDF as the PDF)."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from imx.dicom.reports import (
    DICOM_UID_SCHEME,
    ENCAPSULATED_PDF,
    IHE_FORMAT_SCHEME,
    REPORT_TYPE_CODE,
    SR_CLASSES,
    classify_report,
    describe_report,
    extract_pdf,
    is_report,
    report_title,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
KOS = "1.2.840.10008.5.1.4.1.1.88.59"


def _title(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _sr(sop_class: str = "1.2.840.10008.5.1.4.1.1.88.33", title: Dataset | None = None) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.ConceptNameCodeSequence = [title] if title is not None else []
    return ds


def _pdf(document: bytes, *, title: str = "CT chest report") -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.DocumentTitle = title
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = document
    return ds


@pytest.mark.parametrize("sop_class", sorted(SR_CLASSES))
def test_every_sr_class_is_a_dicom_report_with_its_class_as_format(sop_class: str) -> None:
    kind = classify_report(sop_class)
    assert kind is not None and is_report(sop_class)
    assert kind.mime_type == "application/dicom"
    assert (kind.format_code.code, kind.format_code.scheme) == (sop_class, DICOM_UID_SCHEME)


def test_pdf_is_served_as_pdf_with_the_ihe_format_code() -> None:
    kind = classify_report(ENCAPSULATED_PDF)
    assert kind is not None and kind.mime_type == "application/pdf"
    format_code = (kind.format_code.code, kind.format_code.scheme)
    assert format_code == ("urn:ihe:rad:PDF", IHE_FORMAT_SCHEME)


@pytest.mark.parametrize("sop_class", [CT, KOS, "1.2.840.10008.5.1.4.1.1.104.2", ""])
def test_images_manifests_and_other_documents_are_not_reports(sop_class: str) -> None:
    assert classify_report(sop_class) is None and not is_report(sop_class)
    assert describe_report(_sr(sop_class)) is None


def test_sr_title_and_loinc_type_code_come_from_the_document_title() -> None:
    doc = describe_report(_sr(title=_title("18748-4", "LN", "Diagnostic Imaging Report")))
    assert doc is not None and not doc.is_pdf
    assert doc.title == "Diagnostic Imaging Report"
    assert (doc.type_code.code, doc.type_code.scheme) == ("18748-4", "2.16.840.1.113883.6.1")


def test_non_loinc_or_missing_title_falls_back() -> None:
    doc = describe_report(_sr(title=_title("126000", "DCM", "Imaging Measurement Report")))
    assert doc is not None and doc.type_code == REPORT_TYPE_CODE
    assert doc.title == "Imaging Measurement Report"
    untitled = describe_report(_sr())
    assert untitled is not None and untitled.title == "Radiology report"
    assert REPORT_TYPE_CODE.code == "18782-3"


def test_pdf_document_title_wins_and_is_truncated_for_xds() -> None:
    assert report_title(_pdf(b"%PDF-1.4\n%%EOF\n")) == "CT chest report"
    doc = describe_report(_pdf(b"%PDF-1.4\n%%EOF\n", title="x" * 300))
    assert doc is not None and doc.is_pdf and len(doc.title) == 256


def test_extract_pdf_drops_the_even_length_padding_only() -> None:
    odd = b"%PDF-1.4\n1 0 obj\n%%EOF"  # 22 bytes: even, stored as is
    assert extract_pdf(_pdf(odd)) == odd
    odd_eol = b"%PDF-1.4\n%%EOF\n"  # 15 bytes: pydicom/writers pad with one NUL
    padded = _pdf(odd_eol + b"\x00")
    assert extract_pdf(padded) == odd_eol
    assert extract_pdf(_pdf(b"%PDF-1.4\n%%EOF\r\n")) == b"%PDF-1.4\n%%EOF\r\n"


def test_extract_pdf_uses_the_encapsulated_document_length() -> None:
    ds = _pdf(b"%PDF-1.7 body %%EOF\n\x00\x00\x00")
    ds.EncapsulatedDocumentLength = 20
    assert extract_pdf(ds) == b"%PDF-1.7 body %%EOF\n"
