"""PRPA_IN201306UV02 builder (ITI TF-2b 3.55.4.2; SPEC-NOTES 2.3-2.4).

Outcomes: AA/OK with one subject per match; AA/NF with no subject (optionally with
DetectedIssue codes such as AnswerNotAvailable or ...Requested); AE/QE for a query
error; AE/AE for an application error. The request's queryByParameter is echoed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from imx.model.patient_discovery import (
    InstanceIdentifier,
    PatientDiscoveryAnswer,
    PatientDiscoveryRequest,
    PatientMatch,
    QueryResponseCode,
)
from imx.transactions.iti55_xcpd.codes import (
    ACK_ACCEPT,
    ACK_ERROR,
    ADMINISTRATIVE_GENDER_SYSTEM,
    DETECTED_ISSUE_SYSTEM,
    INTERACTION_ID_ROOT,
    MATCH_OBSERVATION_CODE,
    NS_HL7,
    NS_XSI,
    RESPONSE_INTERACTION,
    RESPONSE_TRIGGER,
)
from imx.wire.hl7v3 import build_ad, build_ii, build_pn, format_ts, hl7

__all__ = ["ResponderIdentity", "build_response"]

Element = etree._Element


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponderIdentity:
    home_community_id: str  # bare OID
    organization_name: str
    device_id: str  # OID of the responding gateway device (often the HCID)


def _sub(parent: Element, tag: str, **attrs: str) -> Element:
    return etree.SubElement(parent, hl7(tag), **attrs)


def _device(parent: Element, tag: str, type_code: str, device: InstanceIdentifier,
            org_id: str, org_name: str = "") -> None:
    party = _sub(parent, tag, typeCode=type_code)
    dev = _sub(party, "device", classCode="DEV", determinerCode="INSTANCE")
    build_ii(dev, "id", device)
    agent = _sub(dev, "asAgent", classCode="AGNT")
    org = _sub(agent, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    _sub(org, "id", root=org_id)
    if org_name:
        _sub(org, "name").text = org_name


def _ack_type(code: QueryResponseCode) -> str:
    if code in (QueryResponseCode.OK, QueryResponseCode.NO_MATCH):
        return ACK_ACCEPT
    return ACK_ERROR


def build_response(*, request: PatientDiscoveryRequest, answer: PatientDiscoveryAnswer,
                   responder: ResponderIdentity, message_id: InstanceIdentifier,
                   created_at: dt.datetime) -> Element:
    """Build the PRPA_IN201306UV02 answering ``request``."""
    root = etree.Element(hl7(RESPONSE_INTERACTION), nsmap={None: NS_HL7, "xsi": NS_XSI},
                         ITSVersion="XML_1.0")
    build_ii(root, "id", message_id)
    _sub(root, "creationTime", value=format_ts(created_at))
    _sub(root, "interactionId", root=INTERACTION_ID_ROOT, extension=RESPONSE_INTERACTION)
    _sub(root, "processingCode", code=request.processing_code or "P")
    _sub(root, "processingModeCode", code="T")
    _sub(root, "acceptAckCode", code="NE")
    _device(root, "receiver", "RCV", request.sender_device_id, request.sender_home_community_id)
    _device(root, "sender", "SND", InstanceIdentifier(root=responder.device_id),
            responder.home_community_id, responder.organization_name)
    ack = _sub(root, "acknowledgement")
    _sub(ack, "typeCode", code=_ack_type(answer.response_code))
    target = _sub(ack, "targetMessage")
    build_ii(target, "id", request.message_id)
    for issue in answer.detected_issues:
        detail = _sub(ack, "acknowledgementDetail", typeCode="I")
        _sub(detail, "code", code=issue.value, codeSystem=DETECTED_ISSUE_SYSTEM)
    if answer.error_text:
        detail = _sub(ack, "acknowledgementDetail", typeCode="E")
        _sub(detail, "text").text = answer.error_text
    cap = _sub(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _sub(cap, "code", code=RESPONSE_TRIGGER, codeSystem=INTERACTION_ID_ROOT)
    if answer.response_code is QueryResponseCode.OK:
        for match in answer.matches:
            cap.append(_subject(match, responder))
    qack = _sub(cap, "queryAck")
    build_ii(qack, "queryId", request.query_id)
    _sub(qack, "statusCode", code="deliveredResponse")
    _sub(qack, "queryResponseCode", code=answer.response_code.value)
    count = str(len(answer.matches)) if answer.response_code is QueryResponseCode.OK else "0"
    _sub(qack, "resultTotalQuantity", value=count)
    _sub(qack, "resultCurrentQuantity", value=count)
    _sub(qack, "resultRemainingQuantity", value="0")
    # ITI TF-2b 3.55.4.2.2.7: echo the query parameters.
    cap.append(etree.fromstring(request.query_by_parameter))
    return root


def _subject(match: PatientMatch, responder: ResponderIdentity) -> Element:
    subject = etree.Element(hl7("subject"), typeCode="SUBJ", contextConductionInd="false")
    event = _sub(subject, "registrationEvent", classCode="REG", moodCode="EVN")
    _sub(event, "id", nullFlavor="NA")
    _sub(event, "statusCode", code="active")
    subject1 = _sub(event, "subject1", typeCode="SBJ")
    patient = _sub(subject1, "patient", classCode="PAT")
    demo = match.demographics
    for pid in demo.ids:
        _sub(patient, "id", root=pid.assigning_authority, extension=pid.id)
    _sub(patient, "statusCode", code="active")
    person = _sub(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
    for name in demo.names or ():
        build_pn(person, "name", name)
    for tel in demo.telecoms:
        _sub(person, "telecom", value=tel)
    if demo.gender:
        _sub(person, "administrativeGenderCode", code=demo.gender,
             codeSystem=ADMINISTRATIVE_GENDER_SYSTEM)
    if demo.birth_date is not None:
        _sub(person, "birthTime", value=demo.birth_date.strftime("%Y%m%d"))
    for addr in demo.addresses:
        build_ad(person, "addr", addr)
    obs_holder = _sub(patient, "subjectOf1")
    obs = _sub(obs_holder, "queryMatchObservation", classCode="COND", moodCode="EVN")
    _sub(obs, "code", code=MATCH_OBSERVATION_CODE)
    value = _sub(obs, "value", value=str(max(0, min(100, match.score))))
    value.set(f"{{{NS_XSI}}}type", "INT")
    custodian = _sub(event, "custodian", typeCode="CST")
    entity = _sub(custodian, "assignedEntity", classCode="ASSIGNED")
    # ITI TF-2b 3.55.4.2.2.1: the responding gateway's home community ID.
    _sub(entity, "id", root=responder.home_community_id)
    return subject
