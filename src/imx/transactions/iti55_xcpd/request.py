"""PRPA_IN201305UV02 ↔ ``PatientDiscoveryRequest`` (ITI TF-2b 3.55.4.1; SPEC-NOTES 2.2)."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from imx.errors import MalformedMessageError, MissingParameterError
from imx.model.identifiers import PatientId
from imx.model.patient_discovery import (
    InstanceIdentifier,
    PatientDemographics,
    PatientDiscoveryRequest,
)
from imx.transactions.iti55_xcpd.codes import (
    ADMINISTRATIVE_GENDER_SYSTEM,
    INTERACTION_ID_ROOT,
    NS_HL7,
    NS_XSI,
    REQUEST_INTERACTION,
    REQUEST_TRIGGER,
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

__all__ = ["build_request", "parse_request"]

Element = etree._Element


def _req(el: Element | None, what: str) -> Element:
    if el is None:
        raise MalformedMessageError(f"PRPA_IN201305UV02 without {what}")
    return el


def _values(params: Element, name: str) -> list[Element]:
    return [v for p in params.iterchildren(hl7(name)) for v in p.iterchildren(hl7("value"))]


def _demographics(params: Element, *, required: bool = True) -> PatientDemographics:
    names = tuple(parse_pn(v) for v in _values(params, "livingSubjectName"))
    if required and not any(n.family or n.given for n in names):
        # ITI TF-2b 3.55.4.1.2.1: LivingSubjectName is required.
        raise MissingParameterError("livingSubjectName is required")
    births = _values(params, "livingSubjectBirthTime")
    if required and (not births or not births[0].get("value")):
        raise MissingParameterError("livingSubjectBirthTime is required")
    genders = _values(params, "livingSubjectAdministrativeGender")
    gender = (genders[0].get("code") or "").strip().upper() if genders else ""
    ids = tuple(
        PatientId(id=ii.extension, assigning_authority=ii.root)
        for ii in (parse_ii(v) for v in _values(params, "livingSubjectId"))
        if ii is not None and ii.extension
    )
    maiden = _values(params, "mothersMaidenName")
    birth_place = _values(params, "livingSubjectBirthPlaceAddress")
    return PatientDemographics(
        names=names,
        gender="" if gender in ("UN", "UNK") else gender,
        birth_date=parse_ts_date(births[0].get("value", "")) if births and births[0].get("value") else None,
        addresses=tuple(parse_ad(v) for v in _values(params, "patientAddress")),
        telecoms=tuple(v.get("value", "").strip() for v in _values(params, "patientTelecom")
                       if v.get("value")),
        ids=ids,
        mothers_maiden_name=parse_pn(maiden[0]) if maiden else None,
        birth_place=parse_ad(birth_place[0]) if birth_place else None,
    )


def parse_request(root: Element, *, require_demographics: bool = True) -> PatientDiscoveryRequest:
    """Parse a PRPA_IN201305UV02 element.

    Raises:
        MalformedMessageError: wrong root or interaction, missing message structure
            (answered with a SOAP fault / ack AE).
        MissingParameterError: required demographics missing (queryResponseCode QE).
    """
    if root.tag != hl7(REQUEST_INTERACTION):
        raise MalformedMessageError("body is not a PRPA_IN201305UV02")
    message_id = parse_ii(root.find(hl7("id")))
    if message_id is None:
        raise MalformedMessageError("PRPA_IN201305UV02 without id")
    org_id = root.find(f"{hl7('sender')}/{hl7('device')}/{hl7('asAgent')}/"
                       f"{hl7('representedOrganization')}/{hl7('id')}")
    sender_device = parse_ii(root.find(f"{hl7('sender')}/{hl7('device')}/{hl7('id')}"))
    if org_id is None or not org_id.get("root"):
        # ITI TF-2b 3.55.4.1.2: the sender's home community ID is required.
        raise MalformedMessageError("sender representedOrganization id (home community) is required")
    qbp = _req(root.find(f"{hl7('controlActProcess')}/{hl7('queryByParameter')}"),
               "controlActProcess/queryByParameter")
    query_id = parse_ii(qbp.find(hl7("queryId")))
    if query_id is None:
        raise MalformedMessageError("queryByParameter without queryId")
    params = _req(qbp.find(hl7("parameterList")), "parameterList")
    priority = qbp.find(hl7("responsePriorityCode"))
    quantity = qbp.find(hl7("initialQuantity"))
    processing = root.find(hl7("processingCode"))
    return PatientDiscoveryRequest(
        message_id=message_id,
        creation_time=_attr(root.find(hl7("creationTime")), "value"),
        sender_device_id=sender_device or InstanceIdentifier(root=org_id.get("root", "")),
        sender_home_community_id=org_id.get("root", "").strip().removeprefix("urn:oid:"),
        receiver_device_id=parse_ii(root.find(f"{hl7('receiver')}/{hl7('device')}/{hl7('id')}")),
        query_id=query_id,
        processing_code=_attr(processing, "code") or "P",
        response_priority=(_attr(priority, "code") or "I").upper(),
        demographics=_demographics(params, required=require_demographics),
        query_by_parameter=etree.tostring(qbp),
        initial_quantity=_int(_attr(quantity, "value")),
    )


def _attr(el: Element | None, name: str) -> str:
    return (el.get(name) or "").strip() if el is not None else ""


def _int(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


# --- initiating side (ITI TF-2b 3.55.4.1.2) -------------------------------------------------

def build_request(*, message_id: InstanceIdentifier, created_at: dt.datetime,
                  sender_device_id: str, sender_home_community_id: str,
                  receiver_device_id: str, receiver_endpoint: str = "",
                  query_id: InstanceIdentifier, demographics: PatientDemographics,
                  processing_code: str = "P", organization_name: str = "") -> Element:
    """Build a PRPA_IN201305UV02 (immediate mode) for ``demographics``.

    Parameters go in the order of PRPA_MT201306UV02.ParameterList (SPEC-NOTES §2.2); gender is
    omitted rather than sent as UN when unknown (implementer practice, §2.2). ``demographics.ids``
    with our assigning authority make this a Demographic Query and Feed (ITI TF-2b 3.55.4.1.2.4).
    """
    root = etree.Element(hl7(REQUEST_INTERACTION), nsmap={None: NS_HL7, "xsi": NS_XSI},
                         ITSVersion="XML_1.0")
    build_ii(root, "id", message_id)
    _sub(root, "creationTime", value=format_ts(created_at))
    _sub(root, "interactionId", root=INTERACTION_ID_ROOT, extension=REQUEST_INTERACTION)
    _sub(root, "processingCode", code=processing_code)
    _sub(root, "processingModeCode", code="T")
    _sub(root, "acceptAckCode", code="AL")
    receiver = _sub(root, "receiver", typeCode="RCV")
    rdev = _sub(receiver, "device", classCode="DEV", determinerCode="INSTANCE")
    _sub(rdev, "id", root=receiver_device_id.removeprefix("urn:oid:"))
    if receiver_endpoint:
        _sub(rdev, "telecom", value=receiver_endpoint)
    ragent = _sub(rdev, "asAgent", classCode="AGNT")
    rorg = _sub(ragent, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    _sub(rorg, "id", root=receiver_device_id.removeprefix("urn:oid:"))
    sender = _sub(root, "sender", typeCode="SND")
    sdev = _sub(sender, "device", classCode="DEV", determinerCode="INSTANCE")
    _sub(sdev, "id", root=sender_device_id.removeprefix("urn:oid:"))
    sagent = _sub(sdev, "asAgent", classCode="AGNT")
    sorg = _sub(sagent, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    # ITI TF-2b 3.55.4.1.2: the initiator's home community ID, bare OID.
    _sub(sorg, "id", root=sender_home_community_id.removeprefix("urn:oid:"))
    if organization_name:
        _sub(sorg, "name").text = organization_name
    cap = _sub(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _sub(cap, "code", code=REQUEST_TRIGGER, codeSystem=INTERACTION_ID_ROOT)
    qbp = _sub(cap, "queryByParameter")
    build_ii(qbp, "queryId", query_id)
    _sub(qbp, "statusCode", code="new")
    _sub(qbp, "responseModalityCode", code="R")
    _sub(qbp, "responsePriorityCode", code="I")
    params = _sub(qbp, "parameterList")
    d = demographics
    if d.gender in ("M", "F"):
        p = _sub(params, "livingSubjectAdministrativeGender")
        _sub(p, "value", code=d.gender, codeSystem=ADMINISTRATIVE_GENDER_SYSTEM)
        _sub(p, "semanticsText").text = "LivingSubject.administrativeGender"
    if d.birth_date is not None:
        p = _sub(params, "livingSubjectBirthTime")
        _sub(p, "value", value=d.birth_date.strftime("%Y%m%d"))
        _sub(p, "semanticsText").text = "LivingSubject.birthTime"
    for pid in d.ids:
        p = _sub(params, "livingSubjectId")
        _sub(p, "value", root=pid.assigning_authority, extension=pid.id)
        _sub(p, "semanticsText").text = "LivingSubject.id"
    if d.names:
        p = _sub(params, "livingSubjectName")
        for name in d.names:
            build_pn(p, "value", name)
        _sub(p, "semanticsText").text = "LivingSubject.name"
    if d.mothers_maiden_name is not None:
        p = _sub(params, "mothersMaidenName")
        build_pn(p, "value", d.mothers_maiden_name)
        _sub(p, "semanticsText").text = "Person.MothersMaidenName"
    if d.addresses:
        p = _sub(params, "patientAddress")
        for addr in d.addresses:
            build_ad(p, "value", addr)
        _sub(p, "semanticsText").text = "Patient.addr"
    if d.telecoms:
        p = _sub(params, "patientTelecom")
        for tel in d.telecoms:
            _sub(p, "value", value=tel)
        _sub(p, "semanticsText").text = "Patient.telecom"
    return root

