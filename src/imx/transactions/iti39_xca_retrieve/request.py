"""ITI-39 RetrieveDocumentSetRequest ↔ ``DocumentRequest`` list (ITI TF-2b 3.39.4.1.2)."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from imx.errors import MalformedMessageError, MissingParameterError
from imx.model.retrieve import DocumentRequest
from imx.transactions.iti39_xca_retrieve.codes import NS_XDS

__all__ = ["build_request", "parse_document_request", "parse_request"]

Element = etree._Element


def _text(parent: Element, ns: str, name: str) -> str | None:
    el = parent.find(f"{{{ns}}}{name}")
    if el is None:
        return None
    return (el.text or "").strip() or None


def parse_document_request(el: Element) -> DocumentRequest:
    """One ``DocumentRequest``; its children are in the namespace of the element itself.

    dicomtrolley puts RAD-69 DocumentRequests in the XDS.b namespace and others in the
    RAD one; both carry the same children (SPEC-NOTES 4.2, shared/peers/README.md).
    """
    ns = etree.QName(el).namespace or NS_XDS
    repository = _text(el, ns, "RepositoryUniqueId") or _text(el, NS_XDS, "RepositoryUniqueId")
    document = _text(el, ns, "DocumentUniqueId") or _text(el, NS_XDS, "DocumentUniqueId")
    home = _text(el, ns, "HomeCommunityId") or _text(el, NS_XDS, "HomeCommunityId")
    if document is None:
        raise MissingParameterError("DocumentRequest without DocumentUniqueId")
    if repository is None:
        raise MissingParameterError("DocumentRequest without RepositoryUniqueId")
    return DocumentRequest(home_community_id=home, repository_unique_id=repository,
                           document_unique_id=document)


def parse_request(root: Element) -> list[DocumentRequest]:
    """Parse ``xds:RetrieveDocumentSetRequest``; at least one DocumentRequest."""
    if root.tag != f"{{{NS_XDS}}}RetrieveDocumentSetRequest":
        raise MalformedMessageError("body is not an xds:RetrieveDocumentSetRequest")
    docs = [parse_document_request(el) for el in root.iterchildren(f"{{{NS_XDS}}}DocumentRequest")]
    if not docs:
        raise MissingParameterError("RetrieveDocumentSetRequest without DocumentRequest")
    return docs


def build_request(documents: Sequence[DocumentRequest]) -> Element:
    """Build a RetrieveDocumentSetRequest (the Initiating Gateway's side)."""
    root = etree.Element(f"{{{NS_XDS}}}RetrieveDocumentSetRequest", nsmap={"xds": NS_XDS})
    for d in documents:
        root.append(build_document_request(d, NS_XDS))
    return root


def build_document_request(d: DocumentRequest, ns: str = NS_XDS) -> Element:
    """``DocumentRequest`` with children in XSD order (HomeCommunityId, Repository, Document)."""
    el = etree.Element(f"{{{ns}}}DocumentRequest")
    if d.home_community_id:
        etree.SubElement(el, f"{{{NS_XDS}}}HomeCommunityId").text = d.home_community_id
    etree.SubElement(el, f"{{{NS_XDS}}}RepositoryUniqueId").text = d.repository_unique_id
    etree.SubElement(el, f"{{{NS_XDS}}}DocumentUniqueId").text = d.document_unique_id
    return el
