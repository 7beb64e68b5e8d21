"""PRPA_IN201305UV02 ↔ ``PatientDiscoveryRequest`` (ITI TF-2b 3.55.4.1; SPEC-NOTES 2.2)."""

from __future__ import annotations

from lxml import etree

from imx.errors import MalformedMessageError, MissingParameterError
from imx.model.identifiers import PatientId
from imx.model.patient_discovery import (
    InstanceIdentifier,
    PatientDemographics,
    PatientDiscoveryRequest,
)
from imx.transactions.iti55_xcpd.codes import REQUEST_INTERACTION
from imx.wire.hl7v3 import hl7, parse_ad, parse_ii, parse_pn, parse_ts_date

__all__ = ["parse_request"]

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
