"""AuditRecord → DICOM PS3.15 A.5 audit message (``dicom2017c.xsd``), pure.

Element order follows the schema: EventIdentification, ActiveParticipant+,
AuditSourceIdentification, ParticipantObjectIdentification*. Coded values use the DICOM 2017
attribute form (``csd-code``/``codeSystemName``/``originalText``, SPEC-NOTES §6.1).
All ParticipantObjectDetail values and the query are base64 (PS3.15 A.5.2.5 BinaryValuePair).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from lxml import etree

from imx.audit.events import CodedValue, DataFlow, EventSpec, event_for
from imx.model.audit import AuditRecord

__all__ = ["AuditSource", "build_audit_message", "outcome_indicator"]

_OUTCOME: Final = {"success": "0", "minor-failure": "4", "serious-failure": "8",
                   "major-failure": "12"}
SOURCE_ROLE: Final = CodedValue("110153", "DCM", "Source Role ID")
DESTINATION_ROLE: Final = CodedValue("110152", "DCM", "Destination Role ID")
APPLICATION_ROLE: Final = CodedValue("110150", "DCM", "Application")
PATIENT_NUMBER: Final = CodedValue("2", "RFC-3881", "Patient Number")
REPORT_NUMBER: Final = CodedValue("9", "RFC-3881", "Report Number")
STUDY_INSTANCE_UID: Final = CodedValue("110180", "DCM", "Study Instance UID")
# NHIN PurposeOfUse (SPEC-NOTES §5.3) and SNOMED CT for XUA subject roles (ITI TF-2 3.40.4.1)
PURPOSE_OF_USE_SYSTEM: Final = "2.16.840.1.113883.3.18.7.1"
ROLE_SYSTEM: Final = "2.16.840.1.113883.6.96"
# PS3.15 A.5.1: AuditSourceTypeCode 4, application server process
_SOURCE_TYPE: Final = CodedValue("4", "DCM", "Application Server Process Tier in Multi-tier System")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditSource:
    """This node as the audit source (PS3.15 A.5.1 AuditSourceIdentification)."""

    source_id: str  # AuditSourceID: the node's name
    enterprise_site_id: str = ""  # AuditEnterpriseSiteID: our home community id
    user_id: str = ""  # our application's UserID when a participant (base URL or AE title)


def outcome_indicator(outcome: str) -> str:
    """EventOutcomeIndicator; PS3.15 says 0 when the status is otherwise unknown."""
    return _OUTCOME.get(outcome, "0")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _query_b64(payload: str) -> str:
    # The record should already hold base64; anything else is encoded so the message stays
    # schema-valid and the payload is kept byte for byte (A.5.2.5: no loss of attack text).
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return _b64(payload)
    return payload


def _timestamp(value: dt.datetime) -> str:
    # xs:dateTime with an explicit offset; UTC written as Z, milliseconds kept.
    text = value.isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _coded(tag: str, value: CodedValue) -> etree._Element:
    el = etree.Element(tag)
    el.set("csd-code", value.code)
    el.set("codeSystemName", value.system_name)
    el.set("originalText", value.display)
    return el


def _parse_code(text: str, system: str) -> CodedValue:
    """``code`` or ``code|system|display`` (how requester roles/purposes are carried)."""
    parts = text.split("|")
    if len(parts) == 3 and all(parts):
        return CodedValue(parts[0], parts[1], parts[2])
    return CodedValue(text, system, text.replace("_", " ").title())


def _network_access_point(endpoint: str, address: str) -> tuple[str, str] | None:
    """(NetworkAccessPointID, TypeCode): 2 for an IP address, 1 for a DNS name."""
    candidate = address or (urlsplit(endpoint).hostname or "" if "://" in endpoint else endpoint)
    if not candidate or candidate == "?":
        return None
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        # A DNS name has no spaces or colons; an AE title or a free-form name is no access point.
        is_name = "." in candidate or candidate == "localhost"
        if " " in candidate or ":" in candidate or not is_name:
            return None
        return candidate, "1"
    return candidate, "2"


def _machine(user_id: str, address: str, *, role: CodedValue, is_requestor: bool) -> etree._Element:
    el = etree.Element("ActiveParticipant")
    el.set("UserID", user_id or "unknown")
    el.set("UserIsRequestor", "true" if is_requestor else "false")
    nap = _network_access_point(user_id, address)
    if nap is not None:
        el.set("NetworkAccessPointID", nap[0])
        el.set("NetworkAccessPointTypeCode", nap[1])
    el.append(_coded("RoleIDCode", role))
    return el


def _human(record: AuditRecord) -> etree._Element:
    # ITI TF-2 3.40.4.2 (XUA): the human requester, from the SAML assertion
    el = etree.Element("ActiveParticipant")
    el.set("UserID", record.requester_user_id)
    org = record.requester_organization_id or record.requester_home_community_id
    el.set("UserName", f"{record.requester_user_id}<{org}>" if org else record.requester_user_id)
    el.set("UserIsRequestor", "true")
    if record.requester_role:
        el.append(_coded("RoleIDCode", _parse_code(record.requester_role, ROLE_SYSTEM)))
    return el


def _participants(record: AuditRecord, spec: EventSpec, us: AuditSource) -> list[etree._Element]:
    me = us.user_id or us.source_id
    if spec.flow is DataFlow.LOCAL:
        out = [_machine(me, "", role=APPLICATION_ROLE, is_requestor=not record.requester_user_id)]
    else:
        is_initiator = record.role == "initiator"
        requester = record.source_endpoint or record.source or (me if is_initiator else "")
        answerer = record.destination_endpoint or record.destination or ("" if is_initiator else me)
        # Queries and stores: data flows from the requester; retrieves: from the answerer.
        requester_role, answerer_role = (
            (SOURCE_ROLE, DESTINATION_ROLE) if spec.flow is DataFlow.REQUEST
            else (DESTINATION_ROLE, SOURCE_ROLE))
        out = [
            _machine(requester, record.source_address or record.source, role=requester_role,
                     is_requestor=True),
            _machine(answerer, record.destination_address, role=answerer_role, is_requestor=False),
        ]
    if record.requester_user_id:
        out.append(_human(record))
    return out


def _object(object_id: str, *, type_code: str, role: str, id_type: CodedValue,
            query: str = "", details: tuple[tuple[str, str], ...] = ()) -> etree._Element:
    el = etree.Element("ParticipantObjectIdentification")
    if object_id:
        el.set("ParticipantObjectID", object_id)
    el.set("ParticipantObjectTypeCode", type_code)
    el.set("ParticipantObjectTypeCodeRole", role)
    el.append(_coded("ParticipantObjectIDTypeCode", id_type))
    if query:
        etree.SubElement(el, "ParticipantObjectQuery").text = _query_b64(query)
    for kind, value in details:
        if value:
            detail = etree.SubElement(el, "ParticipantObjectDetail")
            detail.set("type", kind)
            detail.set("value", _b64(value))
    return el


def _query_object(record: AuditRecord, spec: EventSpec) -> etree._Element | None:
    if spec.type_code is None and not record.query_payload_b64:
        return None
    id_type = spec.type_code or CodedValue("110181", "DCM", "SOP Class UID")
    details: list[tuple[str, str]] = []
    if record.transaction == "ITI-38":
        details.append(("QueryEncoding", "UTF-8"))  # ITI TF-2b 3.38.5.1.2
    details.append(("ihe:homeCommunityID",
                    record.home_community_id or record.requester_home_community_id))
    # PS3.15 A.5.3.12 / ITI TF-2b 3.55.5, 3.38.5: type 2 (system object), role 24 (query)
    return _object(record.query_id, type_code="2", role="24", id_type=id_type,
                   query=record.query_payload_b64, details=tuple(details))


def _objects(record: AuditRecord, spec: EventSpec) -> list[etree._Element]:
    # Patients: type 1 (person), role 1 (patient), ID type 2 (RFC-3881 Patient Number)
    out = [_object(pid, type_code="1", role="1", id_type=PATIENT_NUMBER)
           for pid in record.patient_ids]
    if spec.is_query:
        query = _query_object(record, spec)
        if query is not None:
            out.append(query)
    # Documents (ITI TF-2b 3.39.5.1): type 2, role 3 (report), ID type 9, with repository
    # and community of each document.
    doc_details = (("Repository Unique Id", record.repository_unique_id),
                   ("ihe:homeCommunityID", record.home_community_id))
    out.extend(_object(uid, type_code="2", role="3", id_type=REPORT_NUMBER, details=doc_details)
               for uid in record.document_unique_ids)
    # Studies (PS3.15 A.5.3.2, RAD TF-3 5.1): type 2, role 3, ID type 110180
    study_details = (("Repository Unique Id", record.repository_unique_id),
                     ("urn:ihe:iti:xca:2010:homeCommunityId",
                      record.home_community_id if record.transaction == "RAD-75" else ""))
    out.extend(_object(uid, type_code="2", role="3", id_type=STUDY_INSTANCE_UID,
                       details=study_details)
               for uid in record.study_instance_uids)
    return out


def _event_identification(record: AuditRecord, spec: EventSpec) -> etree._Element:
    el = etree.Element("EventIdentification")
    el.set("EventActionCode", spec.action)
    el.set("EventDateTime", _timestamp(record.occurred_at))
    el.set("EventOutcomeIndicator", outcome_indicator(record.outcome))
    el.append(_coded("EventID", spec.event_id))
    if spec.type_code is not None:
        el.append(_coded("EventTypeCode", spec.type_code))
    if record.detail and record.outcome != "success":
        etree.SubElement(el, "EventOutcomeDescription").text = record.detail
    if record.purpose_of_use:
        # ITI TF-2 3.40.4.2 / DICOM 2017c: PurposeOfUse from the XUA assertion
        el.append(_coded("PurposeOfUse", _parse_code(record.purpose_of_use,
                                                     PURPOSE_OF_USE_SYSTEM)))
    return el


def build_audit_message(record: AuditRecord, *, source: AuditSource) -> etree._Element:
    """Encode one record as an ``AuditMessage`` element valid against dicom2017c.xsd."""
    spec = event_for(record)
    root = etree.Element("AuditMessage")
    root.append(_event_identification(record, spec))
    root.extend(_participants(record, spec, source))
    audit_source = etree.SubElement(root, "AuditSourceIdentification")
    if source.enterprise_site_id:
        audit_source.set("AuditEnterpriseSiteID", source.enterprise_site_id)
    audit_source.set("AuditSourceID", source.source_id)
    audit_source.append(_coded("AuditSourceTypeCode", _SOURCE_TYPE))
    root.extend(_objects(record, spec))
    return root
