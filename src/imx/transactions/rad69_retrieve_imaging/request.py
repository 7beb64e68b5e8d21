"""RetrieveImagingDocumentSetRequest ↔ ``ImagingRetrieveRequest`` (RAD TF-3 4.69.4.1.2; RAD-75 same body).

Tolerates dicomtrolley's DocumentRequest in the XDS.b namespace (shared/peers/README.md).
"""

from __future__ import annotations

from lxml import etree

from imx.errors import MalformedMessageError, MissingParameterError
from imx.model.identifiers import is_valid_uid
from imx.model.retrieve import ImagingRetrieveRequest, SeriesRequest, StudyRequest
from imx.transactions.iti39_xca_retrieve.codes import NS_XDS
from imx.transactions.iti39_xca_retrieve.request import (
    build_document_request,
    parse_document_request,
)
from imx.transactions.rad69_retrieve_imaging.codes import NS_XDSI

__all__ = ["build_request", "parse_request"]

Element = etree._Element
_DOC_TAGS = (f"{{{NS_XDS}}}DocumentRequest", f"{{{NS_XDSI}}}DocumentRequest")


def _uid(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise MissingParameterError(f"{what} is required")
    if not is_valid_uid(value):
        raise MalformedMessageError(f"{what} is not a valid DICOM UID")
    return value


def parse_request(root: Element) -> ImagingRetrieveRequest:
    """Parse ``xdsi:RetrieveImagingDocumentSetRequest``.

    Raises MalformedMessageError / MissingParameterError for a wrong root, invalid or
    missing UIDs, or a request with no document or no transfer syntax.
    """
    if root.tag != f"{{{NS_XDSI}}}RetrieveImagingDocumentSetRequest":
        raise MalformedMessageError("body is not an xdsi:RetrieveImagingDocumentSetRequest")
    studies: list[StudyRequest] = []
    for st in root.iterchildren(f"{{{NS_XDSI}}}StudyRequest"):
        series: list[SeriesRequest] = []
        for se in st.iterchildren(f"{{{NS_XDSI}}}SeriesRequest"):
            docs = tuple(parse_document_request(d) for d in se.iterchildren(*_DOC_TAGS))
            if not docs:
                raise MissingParameterError("SeriesRequest without DocumentRequest")
            series.append(SeriesRequest(
                series_instance_uid=_uid(se.get("seriesInstanceUID"), "seriesInstanceUID"),
                documents=docs))
        if not series:
            raise MissingParameterError("StudyRequest without SeriesRequest")
        studies.append(StudyRequest(
            study_instance_uid=_uid(st.get("studyInstanceUID"), "studyInstanceUID"),
            series=tuple(series)))
    if not studies:
        raise MissingParameterError("RetrieveImagingDocumentSetRequest without StudyRequest")
    ts_list = root.find(f"{{{NS_XDSI}}}TransferSyntaxUIDList")
    syntaxes = tuple(
        _uid(t.text, "TransferSyntaxUID")
        for t in (ts_list.iterchildren(f"{{{NS_XDSI}}}TransferSyntaxUID")
                  if ts_list is not None else ())
    )
    if not syntaxes:
        raise MissingParameterError("TransferSyntaxUIDList is required")
    return ImagingRetrieveRequest(studies=tuple(studies), transfer_syntax_uids=syntaxes)


def build_request(request: ImagingRetrieveRequest) -> Element:
    """Build the request (Initiating Imaging Gateway / Imaging Document Consumer side)."""
    root = etree.Element(f"{{{NS_XDSI}}}RetrieveImagingDocumentSetRequest",
                         nsmap={"xdsi": NS_XDSI, "xds": NS_XDS})
    for st in request.studies:
        st_el = etree.SubElement(root, f"{{{NS_XDSI}}}StudyRequest",
                                 studyInstanceUID=st.study_instance_uid)
        for se in st.series:
            se_el = etree.SubElement(st_el, f"{{{NS_XDSI}}}SeriesRequest",
                                     seriesInstanceUID=se.series_instance_uid)
            for d in se.documents:
                se_el.append(build_document_request(d, NS_XDS))
    ts = etree.SubElement(root, f"{{{NS_XDSI}}}TransferSyntaxUIDList")
    for uid in request.transfer_syntax_uids:
        etree.SubElement(ts, f"{{{NS_XDSI}}}TransferSyntaxUID").text = uid
    return root
