"""RetrieveDocumentSetResponse builder, shared by ITI-39, RAD-69 and RAD-75 (ITI TF-2b 3.39.4.2).

The XML carries one ``xop:Include`` per document; the bytes follow as MTOM parts
written by ``imx.wire.mtom`` straight from the blob store (never inline base64 for
large payloads).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from imx.errors import MalformedMessageError
from imx.model.registry import RegistryErrorItem
from imx.model.retrieve import DocumentAnswer
from imx.transactions.iti38_xca_query.codes import ResponseStatus
from imx.transactions.iti38_xca_query.response import (
    build_registry_error_list,
    parse_registry_error,
)
from imx.transactions.iti39_xca_retrieve.codes import NS_XDS, NS_XOP
from imx.wire.ebrim import NS_RS
from imx.wire.xop import href_content_id

__all__ = [
    "RetrieveResult",
    "RetrievedDocumentRef",
    "build_response",
    "parse_response",
    "retrieve_status",
]

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


# --- initiating side: reading a RetrieveDocumentSetResponse (ITI TF-2b 3.39.4.2.2) ------------

@dataclass(frozen=True, slots=True, kw_only=True)
class RetrievedDocumentRef:
    """One DocumentResponse: its bytes are the MTOM part ``content_id`` or ``inline`` base64."""

    home_community_id: str
    repository_unique_id: str
    document_unique_id: str
    mime_type: str
    content_id: str | None
    inline: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrieveResult:
    status: str
    documents: tuple[RetrievedDocumentRef, ...]
    errors: tuple[RegistryErrorItem, ...]


def parse_response(root: Element, *, max_inline_bytes: int = 8 << 20) -> RetrieveResult:
    """Read a RetrieveDocumentSetResponse (ITI-39, RAD-69 and RAD-75 answers alike).

    Raises:
        MalformedMessageError: not a RetrieveDocumentSetResponse, no RegistryResponse, a
            DocumentResponse without its identifiers or content.
    """
    if root.tag != f"{{{NS_XDS}}}RetrieveDocumentSetResponse":
        raise MalformedMessageError("body is not a RetrieveDocumentSetResponse")
    rr = root.find(f"{{{NS_RS}}}RegistryResponse")
    if rr is None or not rr.get("status"):
        raise MalformedMessageError("RetrieveDocumentSetResponse without RegistryResponse status")
    errors = tuple(parse_registry_error(e) for e in rr.iter(f"{{{NS_RS}}}RegistryError"))
    docs = []
    for dr in root.iterchildren(f"{{{NS_XDS}}}DocumentResponse"):
        repository = _child_text(dr, "RepositoryUniqueId")
        unique_id = _child_text(dr, "DocumentUniqueId")
        document = dr.find(f"{{{NS_XDS}}}Document")
        if not repository or not unique_id or document is None:
            raise MalformedMessageError("DocumentResponse without ids or Document")
        include = document.find(f"{{{NS_XOP}}}Include")
        content_id = inline = None
        if include is not None:
            content_id = href_content_id(include.get("href") or "")
        else:
            text = "".join((document.text or "").split())
            if len(text) * 3 // 4 > max_inline_bytes:
                raise MalformedMessageError("inline document larger than the inline cap")
            try:
                inline = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedMessageError("Document is neither xop:Include nor base64") from None
        docs.append(RetrievedDocumentRef(
            home_community_id=_child_text(dr, "HomeCommunityId"), repository_unique_id=repository,
            document_unique_id=unique_id, mime_type=_child_text(dr, "mimeType"),
            content_id=content_id, inline=inline))
    return RetrieveResult(status=rr.get("status") or "", documents=tuple(docs), errors=errors)


def _child_text(parent: Element, local: str) -> str:
    el = parent.find(f"{{{NS_XDS}}}{local}")
    return (el.text or "").strip() if el is not None else ""
