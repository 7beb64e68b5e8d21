"""RetrieveDocumentSetResponse builder, shared by ITI-39, RAD-69 and RAD-75 (ITI TF-2b 3.39.4.2).

The XML carries one ``xop:Include`` per document; the bytes follow as MTOM parts
written by ``imx.wire.mtom`` straight from the blob store (never inline base64 for
large payloads).
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentAnswer
from imx.transactions.iti38_xca_query.codes import ResponseStatus
from imx.transactions.iti38_xca_query.response import build_registry_error_list
from imx.transactions.iti39_xca_retrieve.codes import NS_XDS, NS_XOP
from imx.wire.ebrim import NS_RS

__all__ = ["build_response", "retrieve_status"]

Element = etree._Element


def retrieve_status(*, answered: int, errors: Sequence[RegistryErrorItem]) -> ResponseStatus:
    """Success if no errors; PartialSuccess if some documents came back; else Failure."""
    if not any(not e.is_warning for e in errors):
        return ResponseStatus.SUCCESS
    return ResponseStatus.PARTIAL_SUCCESS if answered else ResponseStatus.FAILURE


def build_response(*, answers: Sequence[DocumentAnswer], errors: Sequence[RegistryErrorItem],
                   home_community_id: str, status: ResponseStatus | None = None) -> Element:
    """Build ``xds:RetrieveDocumentSetResponse`` with xop:Include per document.

    ``status`` may be given when answers are streamed and counted elsewhere.
    """
    status = status or retrieve_status(answered=len(answers), errors=errors)
    root = etree.Element(f"{{{NS_XDS}}}RetrieveDocumentSetResponse",
                         nsmap={"xds": NS_XDS, "rs": NS_RS, "xop": NS_XOP})
    rr = etree.SubElement(root, f"{{{NS_RS}}}RegistryResponse", status=status.value)
    if errors:
        rr.append(build_registry_error_list(errors, home_community_id))
    for a in answers:
        root.append(build_document_response(a))
    return root


def build_document_response(a: DocumentAnswer) -> Element:
    """One ``xds:DocumentResponse`` (children in XSD order)."""
    dr = etree.Element(f"{{{NS_XDS}}}DocumentResponse")
    if a.home_community_id:
        etree.SubElement(dr, f"{{{NS_XDS}}}HomeCommunityId").text = a.home_community_id
    etree.SubElement(dr, f"{{{NS_XDS}}}RepositoryUniqueId").text = a.repository_unique_id
    etree.SubElement(dr, f"{{{NS_XDS}}}DocumentUniqueId").text = a.document_unique_id
    etree.SubElement(dr, f"{{{NS_XDS}}}mimeType").text = a.mime_type
    doc = etree.SubElement(dr, f"{{{NS_XDS}}}Document")
    # XOP 1.0 §3.2: href is a cid: URL of the part's Content-ID (RFC 2392).
    etree.SubElement(doc, f"{{{NS_XOP}}}Include", href=f"cid:{a.content_id}")
    return dr
