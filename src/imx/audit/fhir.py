"""AuditRecord → FHIR R4 AuditEvent (JSON), pure.

Derived from the DICOM audit message itself (``imx.audit.message``), so the node's FHIR view
and what the repository receives cannot disagree. Mapping per the FHIR R4 AuditEvent
"DICOM and RFC 3881" mapping table and IHE BasicAudit (urn:ihe:event-type-code subtypes).
"""

from __future__ import annotations

from typing import Any, Final

from lxml import etree

from imx.audit.message import AuditSource, build_audit_message
from imx.model.audit import AuditRecord

__all__ = ["to_fhir_audit_event"]

DCM: Final = "http://dicom.nema.org/resources/ontology/DCM"
_SYSTEMS: Final = {
    "DCM": DCM,
    "IHE Transactions": "urn:ihe:event-type-code",
    "RFC-3881": "http://terminology.hl7.org/CodeSystem/v2-0203",
    "2.16.840.1.113883.3.18.7.1": "http://healthit.gov/nhin/purposeofuse",
    "2.16.840.1.113883.6.96": "http://snomed.info/sct",
}
_ENTITY_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE: Final = "http://terminology.hl7.org/CodeSystem/object-role"
_SOURCE_TYPE: Final = "http://terminology.hl7.org/CodeSystem/security-source-type"
# RFC 3881 ID type "2" (patient number) is v2-0203 "PI"; "9" (report number) has no v2 peer.
_RFC3881_TO_V2: Final = {"2": "PI"}


def _coding(el: etree._Element) -> dict[str, str]:
    system_name = el.get("codeSystemName", "")
    code = el.get("csd-code", "")
    if system_name == "RFC-3881":
        code = _RFC3881_TO_V2.get(code, code)
    system = _SYSTEMS.get(system_name, f"urn:oid:{system_name}" if system_name[:1].isdigit()
                          else system_name)
    return {"system": system, "code": code, "display": el.get("originalText", "")}


def _agent(el: etree._Element) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "who": {"identifier": {"value": el.get("UserID", "")}},
        "requestor": el.get("UserIsRequestor") == "true",
    }
    roles = el.findall("RoleIDCode")
    if roles:
        agent["type"] = {"coding": [_coding(roles[0])]}
        if len(roles) > 1:
            agent["role"] = [{"coding": [_coding(r)]} for r in roles[1:]]
    if el.get("UserName"):
        agent["name"] = el.get("UserName")
    if el.get("NetworkAccessPointID"):
        agent["network"] = {"address": el.get("NetworkAccessPointID"),
                            "type": el.get("NetworkAccessPointTypeCode", "1")}
    return agent


def _entity(el: etree._Element) -> dict[str, Any]:
    entity: dict[str, Any] = {}
    if el.get("ParticipantObjectID"):
        id_type = el.find("ParticipantObjectIDTypeCode")
        identifier: dict[str, Any] = {"value": el.get("ParticipantObjectID")}
        if id_type is not None:
            identifier["type"] = {"coding": [_coding(id_type)]}
        entity["what"] = {"identifier": identifier}
    entity["type"] = {"system": _ENTITY_TYPE, "code": el.get("ParticipantObjectTypeCode", "2")}
    entity["role"] = {"system": _OBJECT_ROLE, "code": el.get("ParticipantObjectTypeCodeRole", "")}
    query = el.findtext("ParticipantObjectQuery")
    if query:
        entity["query"] = query
    details = [{"type": d.get("type", ""), "valueBase64Binary": d.get("value", "")}
               for d in el.findall("ParticipantObjectDetail")]
    if details:
        entity["detail"] = details
    return entity


def _child(parent: etree._Element, tag: str) -> etree._Element:
    found = parent.find(tag)
    if found is None:  # the builder always writes these (dicom2017c.xsd: required)
        raise ValueError(f"audit message without {tag}")
    return found


def to_fhir_audit_event(record: AuditRecord, *, source: AuditSource,
                        resource_id: str | None = None) -> dict[str, Any]:
    """The record as a FHIR R4 ``AuditEvent`` resource (a JSON-ready dict)."""
    message = build_audit_message(record, source=source)
    event = _child(message, "EventIdentification")
    audit_source = _child(message, "AuditSourceIdentification")
    resource: dict[str, Any] = {"resourceType": "AuditEvent"}
    if resource_id is not None:
        resource["id"] = resource_id
    resource["type"] = _coding(_child(event, "EventID"))
    subtypes = [_coding(t) for t in event.findall("EventTypeCode")]
    if subtypes:
        resource["subtype"] = subtypes
    resource["action"] = event.get("EventActionCode")
    resource["recorded"] = event.get("EventDateTime")
    resource["outcome"] = event.get("EventOutcomeIndicator")
    description = event.findtext("EventOutcomeDescription")
    if description:
        resource["outcomeDesc"] = description
    purposes = [{"coding": [_coding(p)]} for p in event.findall("PurposeOfUse")]
    if purposes:
        resource["purposeOfEvent"] = purposes
    resource["agent"] = [_agent(a) for a in message.findall("ActiveParticipant")]
    resource["source"] = {
        "site": audit_source.get("AuditEnterpriseSiteID", ""),
        "observer": {"display": audit_source.get("AuditSourceID", "")},
        "type": [{"system": _SOURCE_TYPE, "code": t.get("csd-code", "")}
                 for t in audit_source.findall("AuditSourceTypeCode")],
    }
    entities = [_entity(o) for o in message.findall("ParticipantObjectIdentification")]
    if entities:
        resource["entity"] = entities
    return resource
