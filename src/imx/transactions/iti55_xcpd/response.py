"""PRPA_IN201306UV02 builder (ITI TF-2b 3.55.4.2; SPEC-NOTES 2.3-2.4).

Outcomes: AA/OK with one subject per match; AA/NF with no subject (optionally with
DetectedIssue codes such as AnswerNotAvailable or ...Requested); AE/QE for a query
error; AE/AE for an application error. The request's queryByParameter is echoed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from imx.errors import MalformedMessageError
from imx.model.identifiers import PatientId
from imx.model.patient_discovery import (
    Address,
    DetectedIssue,
    InstanceIdentifier,
    PatientDemographics,
    PatientDiscoveryAnswer,
    PatientDiscoveryRequest,
    PatientMatch,
    PersonName,
    QueryResponseCode,
)
from imx.transactions.iti55_xcpd.codes import (
    ACK_ACCEPT,
    ACK_ERROR,
    ADMINISTRATIVE_GENDER_SYSTEM,
    DETECTED_ISSUE_ALIASES,
    DETECTED_ISSUE_SYSTEM,
    INTERACTION_ID_ROOT,
    MATCH_OBSERVATION_CODE,
    NS_HL7,
    NS_XSI,
    RESPONSE_INTERACTION,
    RESPONSE_TRIGGER,
)
from imx.wire.hl7v3 import (
    build_ad,
    build_ii,
    build_pn,
    format_ts,
    hl7,
    parse_ad,
    parse_ii,
    parse_pn,
    parse_ts_date,
)
from imx.wire.hl7v3 import sub as _sub  # noqa: I001 - one helper, local name

__all__ = ["DiscoveryResponse", "ResponderIdentity", "build_response", "parse_response"]

Element = etree._Element


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponderIdentity:
    home_community_id: str  # bare OID
    organization_name: str
    device_id: str  # OID of the responding gateway device (often the HCID)



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


# --- initiating side: reading a PRPA_IN201306UV02 (ITI TF-2b 3.55.4.2; SPEC-NOTES §2.3-2.4) ---

@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryResponse:
    """A parsed PRPA_IN201306UV02 as the initiator sees it.

    ``custodians[i]`` is the home community ID (bare OID) that holds ``answer.matches[i]``:
    ITI TF-2b 3.55.4.2.2.1 puts it in registrationEvent/custodian/assignedEntity/id.
    """

    acknowledgement: str  # AA | AE | AR
    answer: PatientDiscoveryAnswer
    custodians: tuple[str, ...]
    target_message_id: InstanceIdentifier | None


def parse_response(root: Element) -> DiscoveryResponse:
    """Parse a PRPA_IN201306UV02 leniently (SPEC-NOTES §2.4: AA/OK with no subject is NF).

    Raises:
        MalformedMessageError: not a PRPA_IN201306UV02, or a subject without a patient id.
    """
    if root.tag != hl7(RESPONSE_INTERACTION):
        raise MalformedMessageError("body is not a PRPA_IN201306UV02")
    ack = root.find(hl7("acknowledgement"))
    ack_code = ""
    issues: list[DetectedIssue] = []
    texts: list[str] = []
    target = None
    if ack is not None:
        type_code = ack.find(hl7("typeCode"))
        ack_code = (type_code.get("code") or "").strip() if type_code is not None else ""
        target = parse_ii(ack.find(f"{hl7('targetMessage')}/{hl7('id')}"))
        for detail in ack.iterchildren(hl7("acknowledgementDetail")):
            code = detail.find(hl7("code"))
            raw = (code.get("code") or "").strip() if code is not None else ""
            raw = DETECTED_ISSUE_ALIASES.get(raw, raw)
            if raw in _ISSUES:
                issues.append(DetectedIssue(raw))
            text = detail.find(hl7("text"))
            if text is not None and (text.text or "").strip():
                texts.append(" ".join(text.text.split())[:200])
    cap = root.find(hl7("controlActProcess"))
    matches: list[PatientMatch] = []
    custodians: list[str] = []
    response_code = QueryResponseCode.APPLICATION_ERROR if ack_code in ("AE", "AR") else \
        QueryResponseCode.NO_MATCH
    if cap is not None:
        qrc = cap.find(f"{hl7('queryAck')}/{hl7('queryResponseCode')}")
        if qrc is not None and (qrc.get("code") or "").strip() in _RESPONSE_CODES:
            response_code = QueryResponseCode((qrc.get("code") or "").strip())
        for subject in cap.iterchildren(hl7("subject")):
            event = subject.find(hl7("registrationEvent"))
            if event is None:
                continue
            matches.append(_parse_subject(event))
            custodian = event.find(f"{hl7('custodian')}/{hl7('assignedEntity')}/{hl7('id')}")
            custodians.append((custodian.get("root") or "").strip().removeprefix("urn:oid:")
                              if custodian is not None else "")
    if response_code is QueryResponseCode.OK and not matches:
        response_code = QueryResponseCode.NO_MATCH
    answer = PatientDiscoveryAnswer(
        response_code=response_code,
        matches=tuple(matches) if response_code is QueryResponseCode.OK else (),
        detected_issues=tuple(issues), error_text="; ".join(texts))
    return DiscoveryResponse(acknowledgement=ack_code, answer=answer,
                             custodians=tuple(custodians) if answer.matches else (),
                             target_message_id=target)


_ISSUES = frozenset(i.value for i in DetectedIssue)
_RESPONSE_CODES = frozenset(c.value for c in QueryResponseCode)


def _parse_subject(event: Element) -> PatientMatch:
    patient = event.find(f"{hl7('subject1')}/{hl7('patient')}")
    if patient is None:
        raise MalformedMessageError("XCPD subject without subject1/patient")
    ids = tuple(PatientId(id=ii.extension, assigning_authority=ii.root)
                for ii in (parse_ii(e) for e in patient.iterchildren(hl7("id")))
                if ii is not None and ii.extension)
    if not ids:
        raise MalformedMessageError("XCPD subject without a patient id")
    person = patient.find(hl7("patientPerson"))
    names: tuple[PersonName, ...] = ()
    gender = ""
    birth = None
    addresses: tuple[Address, ...] = ()
    telecoms: tuple[str, ...] = ()
    if person is not None:
        names = tuple(parse_pn(n) for n in person.iterchildren(hl7("name")))
        g = person.find(hl7("administrativeGenderCode"))
        gender = (g.get("code") or "").strip().upper() if g is not None else ""
        b = person.find(hl7("birthTime"))
        if b is not None and b.get("value"):
            try:
                birth = parse_ts_date(b.get("value", ""))
            except MalformedMessageError:
                birth = None
        addresses = tuple(parse_ad(a) for a in person.iterchildren(hl7("addr")))
        telecoms = tuple(t.get("value", "").strip() for t in person.iterchildren(hl7("telecom"))
                         if t.get("value"))
    score = 0
    value = patient.find(f"{hl7('subjectOf1')}/{hl7('queryMatchObservation')}/{hl7('value')}")
    if value is not None and (value.get("value") or "").strip().isdigit():
        score = min(100, int((value.get("value") or "0").strip()))
    return PatientMatch(
        demographics=PatientDemographics(names=names, gender="" if gender in ("UN", "UNK") else gender,
                                         birth_date=birth, addresses=addresses,
                                         telecoms=telecoms, ids=ids),
        score=score)
