"""ITI-38 AdhocQueryRequest ↔ ``DocumentQuery`` (ITI TF-2b 3.38.4.1.2, ITI TF-2a 3.18.4.1.2.3.7)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lxml import etree

from imx.errors import MalformedMessageError, MissingParameterError, UnsupportedError
from imx.model.document_query import (
    CodeMatch,
    DocumentQuery,
    FindDocumentsQuery,
    GetDocumentsQuery,
    TimeRange,
)
from imx.transactions.iti38_xca_query.codes import (
    DOCUMENT_ENTRY_TYPE_STABLE,
    StatusType,
    StoredQuery,
)
from imx.transactions.iti38_xca_query.params import (
    Slots,
    codes,
    one_of,
    patient_id,
    required_list,
    single,
    text_list,
    time,
)
from imx.transactions.iti38_xca_query.stored_queries import parse_stored_query
from imx.wire.dtm import format_dtm
from imx.wire.ebrim import (
    NS_QUERY,
    parse_query_value,
    quote_query_value,
    rim,
    slot,
    slot_values,
)

__all__ = ["build_request", "parse_request"]

Element = etree._Element

# Queries answered from DocumentEntries alone; the others (stored_queries.py) also return
# SubmissionSets and Associations, or Folders (none here).
_ENTRY_QUERIES = {StoredQuery.FIND_DOCUMENTS, StoredQuery.FIND_DOCUMENTS_BY_REFERENCE_ID,
                  StoredQuery.GET_DOCUMENTS}
_CODE_SLOTS = {
    "class_codes": "$XDSDocumentEntryClassCode",
    "type_codes": "$XDSDocumentEntryTypeCode",
    "practice_setting_codes": "$XDSDocumentEntryPracticeSettingCode",
    "healthcare_facility_type_codes": "$XDSDocumentEntryHealthcareFacilityTypeCode",
    "format_codes": "$XDSDocumentEntryFormatCode",
}
_TIME_SLOTS = {
    "creation_time": ("$XDSDocumentEntryCreationTimeFrom", "$XDSDocumentEntryCreationTimeTo"),
    "service_start_time": ("$XDSDocumentEntryServiceStartTimeFrom",
                           "$XDSDocumentEntryServiceStartTimeTo"),
    "service_stop_time": ("$XDSDocumentEntryServiceStopTimeFrom",
                          "$XDSDocumentEntryServiceStopTimeTo"),
}


def parse_request(root: Element) -> DocumentQuery:
    """Parse a ``query:AdhocQueryRequest`` element.

    Raises:
        MalformedMessageError: not an AdhocQueryRequest, or a malformed value.
        UnsupportedError: an unknown stored query id (XDSUnknownStoredQuery).
        MissingParameterError: a required parameter is absent (XDSStoredQueryMissingParam).
        ParameterNumberError: a single-valued parameter given several values, or both of
            an exclusive pair (XDSStoredQueryParamNumber).
    """
    if root.tag != f"{{{NS_QUERY}}}AdhocQueryRequest":
        raise MalformedMessageError("body is not a query:AdhocQueryRequest")
    option = root.find(f"{{{NS_QUERY}}}ResponseOption")
    return_type = option.get("returnType", "ObjectRef") if option is not None else "ObjectRef"
    if return_type not in ("LeafClass", "ObjectRef"):
        raise MalformedMessageError("ResponseOption returnType must be LeafClass or ObjectRef")
    adhoc = root.find(rim("AdhocQuery"))
    if adhoc is None:
        raise MalformedMessageError("AdhocQueryRequest without rim:AdhocQuery")
    query_id = (adhoc.get("id") or "").strip()
    try:
        stored = StoredQuery(query_id.lower())
    except ValueError as exc:
        raise UnsupportedError("unknown stored query id") from exc
    slots = slot_values(adhoc)
    home = (adhoc.get("home") or "").strip() or None
    if home is None and "$homeCommunityId" in slots:
        home = parse_query_value(slots["$homeCommunityId"][0])
    max_results = _int(root.get("maxResults", "-1"))
    query = DocumentQuery(stored_query_id=stored.value, return_type=return_type,
                          home_community_id=home, max_results=max_results)
    if stored in (StoredQuery.FIND_DOCUMENTS, StoredQuery.FIND_DOCUMENTS_BY_REFERENCE_ID):
        return replace(query, find=_find_documents(slots, by_reference=(
            stored is StoredQuery.FIND_DOCUMENTS_BY_REFERENCE_ID)))
    if stored is StoredQuery.GET_DOCUMENTS:
        return replace(query, get=_get_documents(slots))
    return parse_stored_query(stored, query, slots)


def is_entry_query(stored_query_id: str) -> bool:
    """True if the stored query returns DocumentEntries this source keeps."""
    return stored_query_id in {q.value for q in _ENTRY_QUERIES}


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise MalformedMessageError("maxResults is not an integer") from exc


def _find_documents(slots: Slots, *, by_reference: bool) -> FindDocumentsQuery:
    pid = patient_id(slots, "$XDSDocumentEntryPatientId")
    statuses = required_list(slots, "$XDSDocumentEntryStatus")
    reference_ids = text_list(slots, "$XDSDocumentEntryReferenceIdList")
    if by_reference and not reference_ids:
        raise MissingParameterError("$XDSDocumentEntryReferenceIdList is required")
    kw: dict[str, object] = {name: codes(slots.get(slot_name, []))
                             for name, slot_name in _CODE_SLOTS.items()}
    for name, (start, end) in _TIME_SLOTS.items():
        kw[name] = TimeRange(start=time(slots, start), end=time(slots, end))
    # AND of ORs: each slot occurrence is one OR-list (ITI TF-2a 3.18.4.1.2.3.5).
    kw["event_codes"] = tuple(
        codes([raw]) for raw in slots.get("$XDSDocumentEntryEventCodeList", []))
    kw["confidentiality_codes"] = tuple(
        codes([raw]) for raw in slots.get("$XDSDocumentEntryConfidentialityCode", []))
    entry_types = text_list(slots, "$XDSDocumentEntryType")
    authors = text_list(slots, "$XDSDocumentEntryAuthorPerson")
    level = single(slots, "$MetadataLevel")
    return FindDocumentsQuery(
        patient_id=pid, statuses=statuses, reference_ids=reference_ids,
        entry_types=entry_types or (DOCUMENT_ENTRY_TYPE_STABLE,), author_persons=authors,
        metadata_level=int(level) if level and level.isdigit() else 1,
        **kw,  # type: ignore[arg-type]
    )


def _get_documents(slots: Slots) -> GetDocumentsQuery:
    # ITI TF-2a 3.18.4.1.2.3.7.5: exactly one of the two (XDSStoredQueryParamNumber)
    uuids, unique_ids = one_of(slots, "$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")
    return GetDocumentsQuery(entry_uuids=uuids, unique_ids=unique_ids)


def build_request(query: DocumentQuery) -> Element:
    """Build an AdhocQueryRequest (the Initiating Gateway's side)."""
    root = etree.Element(f"{{{NS_QUERY}}}AdhocQueryRequest", nsmap={"query": NS_QUERY,
                         "rim": "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"})
    etree.SubElement(root, f"{{{NS_QUERY}}}ResponseOption", returnType=query.return_type,
                     returnComposedObjects="true")
    attrs = {"id": query.stored_query_id}
    if query.home_community_id:
        attrs["home"] = query.home_community_id
    adhoc = etree.SubElement(root, rim("AdhocQuery"), **attrs)
    if query.find is not None:
        for s in _find_slots(query.find):
            adhoc.append(s)
    if query.get is not None:
        if query.get.entry_uuids:
            adhoc.append(slot("$XDSDocumentEntryEntryUUID", [_list(query.get.entry_uuids)]))
        else:
            adhoc.append(slot("$XDSDocumentEntryUniqueId", [_list(query.get.unique_ids)]))
    return root


def _list(values: Sequence[str]) -> str:
    return "(" + ",".join(quote_query_value(v) for v in values) + ")"


def _code_list(codes: Sequence[CodeMatch]) -> str:
    return _list([f"{c.code}^^{c.scheme}" if c.scheme else c.code for c in codes])


def _find_slots(find: FindDocumentsQuery) -> list[Element]:
    out = [slot("$XDSDocumentEntryPatientId", [quote_query_value(find.patient_id.to_cx())]),
           slot("$XDSDocumentEntryStatus", [_list(find.statuses or (StatusType.APPROVED.value,))])]
    for name, slot_name in _CODE_SLOTS.items():
        codes = getattr(find, name)
        if codes:
            out.append(slot(slot_name, [_code_list(codes)]))
    for group in find.event_codes:
        out.append(slot("$XDSDocumentEntryEventCodeList", [_code_list(group)]))
    for name, (start, end) in _TIME_SLOTS.items():
        rng: TimeRange = getattr(find, name)
        if rng.start is not None:
            out.append(slot(start, [format_dtm(rng.start)]))
        if rng.end is not None:
            out.append(slot(end, [format_dtm(rng.end)]))
    if find.reference_ids:
        out.append(slot("$XDSDocumentEntryReferenceIdList", [_list(find.reference_ids)]))
    if find.entry_types:
        out.append(slot("$XDSDocumentEntryType", [_list(find.entry_types)]))
    return out

