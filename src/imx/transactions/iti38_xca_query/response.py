"""ITI-38 AdhocQueryResponse builder (ITI TF-2b 3.38.4.1.3; metadata per ITI TF-3 4.2.3.2).

Every returned object carries ``home`` (ITI TF-2b 3.38.4.1.2.1) and every
RegistryError's ``location`` is the responding community (ITI TF-2b 3.38.4.1.3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lxml import etree

from imx.errors import MalformedMessageError
from imx.model.document import Code, DocumentEntry
from imx.model.network import RemoteDocument, RemoteQueryResult
from imx.model.registry import Association, RegistryErrorItem, SubmissionSet
from imx.transactions.iti38_xca_query.codes import (
    DOCUMENT_ENTRY_TYPE_STABLE,
    ResponseStatus,
    Scheme,
    Severity,
)
from imx.transactions.iti38_xca_query.registry_objects import (
    author_classification,
    build_association,
    build_registry_package,
    child_id,
)
from imx.wire.dtm import format_dtm, parse_dtm
from imx.wire.ebrim import (
    NS_QUERY,
    NS_RIM,
    NS_RS,
    classification,
    external_identifier,
    localized_name,
    rim,
    slot,
    slot_values,
)

__all__ = [
    "build_registry_error_list",
    "build_response",
    "overall_status",
    "parse_registry_error",
    "parse_response",
]

Element = etree._Element
_NSMAP = {"query": NS_QUERY, "rim": NS_RIM, "rs": NS_RS}
_MAX_CONTEXT = 256


def overall_status(*, has_results: bool, errors: Sequence[RegistryErrorItem]) -> ResponseStatus:
    """Success / PartialSuccess / Failure from what is returned (ITI TF-2b 3.38.4.1.3)."""
    if not any(not e.is_warning for e in errors):
        return ResponseStatus.SUCCESS
    return ResponseStatus.PARTIAL_SUCCESS if has_results else ResponseStatus.FAILURE


def build_response(*, entries: Sequence[DocumentEntry], return_type: str, home_community_id: str,
                   errors: Sequence[RegistryErrorItem] = (),
                   submission_sets: Sequence[SubmissionSet] = (),
                   associations: Sequence[Association] = ()) -> Element:
    """Build a ``query:AdhocQueryResponse``: SubmissionSets, DocumentEntries, then
    Associations, each in full (LeafClass) or as an ObjectRef, all with ``home``."""
    has_results = bool(entries or submission_sets or associations)
    status = overall_status(has_results=has_results, errors=errors)
    root = etree.Element(f"{{{NS_QUERY}}}AdhocQueryResponse", nsmap=_NSMAP, status=status.value)
    if errors:
        root.append(build_registry_error_list(errors, home_community_id))
    objects = etree.SubElement(root, rim("RegistryObjectList"))
    if return_type != "LeafClass":
        for ref in (*(s.entry_uuid for s in submission_sets), *(e.entry_uuid for e in entries),
                    *(a.entry_uuid for a in associations)):
            etree.SubElement(objects, rim("ObjectRef"), id=ref, home=home_community_id)
        return root
    for submission_set in submission_sets:
        objects.append(build_registry_package(submission_set, home_community_id))
    for entry in entries:
        objects.append(build_extrinsic_object(entry, home_community_id))
    for association in associations:
        objects.append(build_association(association, home_community_id))
    return root


def build_registry_error_list(errors: Sequence[RegistryErrorItem], home_community_id: str) -> Element:
    """``rs:RegistryErrorList`` with highestSeverity."""
    highest = Severity.WARNING if all(e.is_warning for e in errors) else Severity.ERROR
    el = etree.Element(f"{{{NS_RS}}}RegistryErrorList", nsmap={"rs": NS_RS},
                       highestSeverity=highest.value)
    for e in errors:
        etree.SubElement(
            el, f"{{{NS_RS}}}RegistryError", errorCode=e.error_code,
            codeContext=e.code_context[:_MAX_CONTEXT],
            severity=(Severity.WARNING if e.is_warning else Severity.ERROR).value,
            location=e.location or home_community_id,
        )
    return el


def _coded(entry: DocumentEntry, scheme: Scheme, code: Code, name: str) -> Element:
    return classification(
        classification_scheme=scheme.value, classified_object=entry.entry_uuid,
        node_representation=code.code, object_id=child_id(entry.entry_uuid, name),
        coding_scheme=code.scheme, display_name=code.display or code.code,
    )


def _slots(entry: DocumentEntry) -> list[Element]:
    # ITI TF-3 Table 4.2.3.2-1; slot order is free, keep a readable one.
    out = [slot("creationTime", [format_dtm(entry.creation_time)]),
           slot("languageCode", [entry.language_code])]
    if entry.service_start_time is not None:
        out.append(slot("serviceStartTime", [format_dtm(entry.service_start_time)]))
    if entry.service_stop_time is not None:
        out.append(slot("serviceStopTime", [format_dtm(entry.service_stop_time)]))
    out += [
        slot("sourcePatientId", [entry.source_patient_id.to_cx()]),
        slot("sourcePatientInfo", list(entry.source_patient_info)),
        slot("hash", [entry.hash_sha1]),
        slot("size", [str(entry.size_bytes)]),
        slot("repositoryUniqueId", [entry.repository_unique_id]),
        slot("urn:ihe:iti:xds:2013:referenceIdList", list(entry.reference_id_list)),
    ]
    return out


def build_extrinsic_object(entry: DocumentEntry, home_community_id: str) -> Element:
    """A full LeafClass DocumentEntry (ITI TF-3 4.2.3.2, R and R2 attributes)."""
    eo = etree.Element(
        rim("ExtrinsicObject"), id=entry.entry_uuid, lid=entry.entry_uuid,
        objectType=DOCUMENT_ENTRY_TYPE_STABLE, mimeType=entry.mime_type, status=entry.status,
        home=home_community_id, isOpaque="false",
    )
    for s in _slots(entry):
        eo.append(s)
    eo.append(localized_name("Name", entry.title))
    eo.append(etree.Element(rim("VersionInfo"), versionName="1"))
    author = author_classification(Scheme.AUTHOR.value, entry.entry_uuid,
                                   person=entry.author_person,
                                   institution=entry.author_institution)
    if author is not None:
        eo.append(author)
    eo.append(_coded(entry, Scheme.CLASS_CODE, entry.class_code, "class"))
    eo.append(_coded(entry, Scheme.CONFIDENTIALITY_CODE, entry.confidentiality_code, "conf"))
    for i, code in enumerate(entry.event_codes):
        eo.append(_coded(entry, Scheme.EVENT_CODE_LIST, code, f"event{i}"))
    eo.append(_coded(entry, Scheme.FORMAT_CODE, entry.format_code, "format"))
    eo.append(_coded(entry, Scheme.HEALTHCARE_FACILITY_TYPE_CODE,
                     entry.healthcare_facility_type_code, "hcft"))
    eo.append(_coded(entry, Scheme.PRACTICE_SETTING_CODE, entry.practice_setting_code, "practice"))
    eo.append(_coded(entry, Scheme.TYPE_CODE, entry.type_code, "type"))
    eo.append(external_identifier(
        identification_scheme=Scheme.PATIENT_ID.value, registry_object=entry.entry_uuid,
        value=entry.patient_id.to_cx(), object_id=child_id(entry.entry_uuid, "pid"),
        name="XDSDocumentEntry.patientId"))
    eo.append(external_identifier(
        identification_scheme=Scheme.UNIQUE_ID.value, registry_object=entry.entry_uuid,
        value=entry.document_unique_id, object_id=child_id(entry.entry_uuid, "uid"),
        name="XDSDocumentEntry.uniqueId"))
    return eo


# --- initiating side: reading an AdhocQueryResponse (ITI TF-2b 3.38.4.1.3) -------------------

_CODED_FIELDS = {Scheme.CLASS_CODE.value: "class_code", Scheme.TYPE_CODE.value: "type_code",
                 Scheme.FORMAT_CODE.value: "format_code"}


def parse_response(root: Element) -> RemoteQueryResult:
    """Read an AdhocQueryResponse: LeafClass DocumentEntries and RegistryErrors.

    ObjectRefs (a responder that ignored returnType) are skipped. An ExtrinsicObject without
    uniqueId or repositoryUniqueId cannot be retrieved and is reported as an XDSRegistryError
    warning instead of failing the whole answer.

    Raises:
        MalformedMessageError: not an AdhocQueryResponse or no status.
    """
    if root.tag != f"{{{NS_QUERY}}}AdhocQueryResponse":
        raise MalformedMessageError("body is not an AdhocQueryResponse")
    status = root.get("status") or ""
    if not status:
        raise MalformedMessageError("AdhocQueryResponse without status")
    errors = [parse_registry_error(e) for e in root.iter(f"{{{NS_RS}}}RegistryError")]
    documents = []
    objects = root.find(rim("RegistryObjectList"))
    for eo in objects.iterchildren(rim("ExtrinsicObject")) if objects is not None else ():
        doc = _parse_extrinsic_object(eo)
        if doc is None:
            errors.append(RegistryErrorItem(
                error_code="XDSRegistryError", is_warning=True, location=eo.get("home") or "",
                code_context="DocumentEntry without uniqueId or repositoryUniqueId skipped"))
            continue
        documents.append(doc)
    return RemoteQueryResult(status=status, documents=tuple(documents), errors=tuple(errors))


def parse_registry_error(el: Element) -> RegistryErrorItem:
    """One ``rs:RegistryError`` (the context is cut: it may be free text from a peer)."""
    return RegistryErrorItem(
        error_code=el.get("errorCode") or "XDSRegistryError",
        code_context=(el.get("codeContext") or "")[:_MAX_CONTEXT],
        location=el.get("location") or "",
        is_warning=(el.get("severity") or "").endswith(":Warning"))


def _parse_extrinsic_object(eo: Element) -> RemoteDocument | None:
    slots = slot_values(eo)
    unique_id = ""
    patient_id = ""
    for ext in eo.iterchildren(rim("ExternalIdentifier")):
        scheme = ext.get("identificationScheme")
        if scheme == Scheme.UNIQUE_ID.value:
            unique_id = (ext.get("value") or "").strip()
        elif scheme == Scheme.PATIENT_ID.value:
            patient_id = (ext.get("value") or "").strip()
    repository = (slots.get("repositoryUniqueId") or [""])[0]
    if not unique_id or not repository:
        return None
    coded: dict[str, Code] = {}
    author_institution = ""
    for c in eo.iterchildren(rim("Classification")):
        scheme = c.get("classificationScheme") or ""
        if scheme in _CODED_FIELDS:
            coding = (slot_values(c).get("codingScheme") or [""])[0]
            name = c.find(f"{rim('Name')}/{rim('LocalizedString')}")
            coded[_CODED_FIELDS[scheme]] = Code(
                code=c.get("nodeRepresentation") or "", scheme=coding,
                display=name.get("value", "") if name is not None else "")
        elif scheme == Scheme.AUTHOR.value and not author_institution:
            inst = (slot_values(c).get("authorInstitution") or [""])[0]
            author_institution = inst.split("^")[0]
    title_el = eo.find(f"{rim('Name')}/{rim('LocalizedString')}")
    size = (slots.get("size") or [""])[0]
    return RemoteDocument(
        home_community_id=eo.get("home") or "", repository_unique_id=repository,
        document_unique_id=unique_id, entry_uuid=eo.get("id") or "",
        mime_type=eo.get("mimeType") or "",
        title=title_el.get("value", "") if title_el is not None else "",
        patient_id=patient_id, author_institution=author_institution,
        creation_time=_dtm((slots.get("creationTime") or [""])[0]),
        service_start_time=_dtm((slots.get("serviceStartTime") or [""])[0]),
        size_bytes=int(size) if size.isdigit() else None,
        reference_ids=tuple(slots.get("urn:ihe:iti:xds:2013:referenceIdList") or ()),
        **coded)  # type: ignore[arg-type]


def _dtm(raw: str) -> dt.datetime | None:
    if not raw:
        return None
    try:
        return parse_dtm(raw)
    except MalformedMessageError:
        return None
