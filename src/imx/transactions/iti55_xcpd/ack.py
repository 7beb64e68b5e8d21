"""MCCI_IN000002UV01, the HL7 v3 accept acknowledgement (ITI TF-2b 3.55.4.1.3, Deferred Response
Option): imx answers a deferred request with AE "unsupported processing mode"."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from imx.model.patient_discovery import InstanceIdentifier, PatientDiscoveryRequest
from imx.transactions.iti55_xcpd.codes import ACK_ERROR, INTERACTION_ID_ROOT, NS_HL7, NS_XSI
from imx.wire.hl7v3 import build_ii, format_ts
from imx.wire.hl7v3 import sub as _sub

__all__ = ["ACK_INTERACTION", "UNSUPPORTED_MODE", "build_accept_ack"]

ACK_INTERACTION = "MCCI_IN000002UV01"
UNSUPPORTED_MODE = "unsupported processing mode"


def _device(
    parent: etree._Element, tag: str, type_code: str, device: InstanceIdentifier, org_id: str
) -> None:
    party = _sub(parent, tag, typeCode=type_code)
    dev = _sub(party, "device", classCode="DEV", determinerCode="INSTANCE")
    build_ii(dev, "id", device)
    agent = _sub(dev, "asAgent", classCode="AGNT")
    org = _sub(agent, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    _sub(org, "id", root=org_id)


def build_accept_ack(
    *,
    request: PatientDiscoveryRequest,
    responder_home_community_id: str,
    message_id: InstanceIdentifier,
    created_at: dt.datetime,
    type_code: str = ACK_ERROR,
    text: str = UNSUPPORTED_MODE,
) -> etree._Element:
    """An accept acknowledgement for ``request`` (AE with ``text`` by default)."""
    root = etree.Element(
        f"{{{NS_HL7}}}{ACK_INTERACTION}", nsmap={None: NS_HL7, "xsi": NS_XSI}, ITSVersion="XML_1.0"
    )
    build_ii(root, "id", message_id)
    _sub(root, "creationTime", value=format_ts(created_at))
    _sub(root, "interactionId", root=INTERACTION_ID_ROOT, extension=ACK_INTERACTION)
    _sub(root, "processingCode", code=request.processing_code or "P")
    _sub(root, "processingModeCode", code="T")
    _sub(root, "acceptAckCode", code="NE")
    _device(root, "receiver", "RCV", request.sender_device_id, request.sender_home_community_id)
    _device(
        root,
        "sender",
        "SND",
        InstanceIdentifier(root=responder_home_community_id),
        responder_home_community_id,
    )
    ack = _sub(root, "acknowledgement")
    _sub(ack, "typeCode", code=type_code)
    target = _sub(ack, "targetMessage")
    build_ii(target, "id", request.message_id)
    if text:
        detail = _sub(ack, "acknowledgementDetail", typeCode="E")
        _sub(detail, "text").text = text
    return root
