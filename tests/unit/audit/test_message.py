"""Audit messages per transaction and side: schema-valid (dicom2017c.xsd) and coded right."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from lxml import etree

from imx.audit.message import build_audit_message
from imx.model.audit import AuditRecord
from tests.unit.audit.records import AT, DOC, PATIENT, QUERY, STUDY, US, initiator, responder

_SHARED = Path("/work/shared/schemas/audit/dicom2017c.xsd")
_PACKAGED = Path(__file__).parents[3] / "src/imx/wire/schemas/audit/dicom2017c.xsd"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    path = _SHARED if _SHARED.is_file() else _PACKAGED
    return etree.XMLSchema(etree.parse(str(path)))


def _valid(schema: etree.XMLSchema, record: AuditRecord) -> etree._Element:
    # Through bytes, as the repository receives it.
    message = etree.fromstring(etree.tostring(build_audit_message(record, source=US)))
    assert schema.validate(message), schema.error_log
    return message


def _event(m: etree._Element) -> tuple[str, str, str | None]:
    e = m.find("EventIdentification")
    type_code = e.find("EventTypeCode")
    return (e.find("EventID").get("csd-code"), e.get("EventActionCode"),
            type_code.get("csd-code") if type_code is not None else None)


def _by_role(m: etree._Element, code: str) -> etree._Element:
    (found,) = [a for a in m.findall("ActiveParticipant")
                if any(r.get("csd-code") == code for r in a.findall("RoleIDCode"))]
    return found


def _objects(m: etree._Element, role: str) -> list[etree._Element]:
    return [o for o in m.findall("ParticipantObjectIdentification")
            if o.get("ParticipantObjectTypeCodeRole") == role]


def _details(o: etree._Element) -> dict[str, str]:
    return {d.get("type"): base64.b64decode(d.get("value")).decode()
            for d in o.findall("ParticipantObjectDetail")}


# (transaction, side) → (EventID, EventActionCode); ITI TF-2b 3.55.5 / 3.38.5 / 3.39.5,
# RAD TF-3 5.1 (Begin Transferring at the sender, Instances Transferred at the receiver).
CASES = {
    ("ITI-55", "responder"): ("110112", "E"), ("ITI-55", "initiator"): ("110112", "E"),
    ("ITI-38", "responder"): ("110112", "E"), ("ITI-38", "initiator"): ("110112", "E"),
    ("ITI-39", "responder"): ("110106", "R"), ("ITI-39", "initiator"): ("110107", "C"),
    ("RAD-69", "responder"): ("110102", "E"), ("RAD-69", "initiator"): ("110104", "C"),
    ("RAD-75", "responder"): ("110102", "E"), ("RAD-75", "initiator"): ("110104", "C"),
}


@pytest.mark.parametrize(("transaction", "side"), list(CASES), ids=[f"{t}-{s}" for t, s in CASES])
def test_each_transaction_and_side(schema: etree.XMLSchema, transaction: str, side: str) -> None:
    record = responder(transaction) if side == "responder" else initiator(transaction)
    m = _valid(schema, record)
    event_id, action = CASES[(transaction, side)]
    assert _event(m) == (event_id, action, transaction)
    assert m.find("EventIdentification").get("EventDateTime") == "2026-03-01T12:30:15.250Z"
    purpose = m.find("EventIdentification/PurposeOfUse")
    assert purpose.get("csd-code") == "TREATMENT"
    # The human requester from the SAML assertion, with organization
    human = [a for a in m.findall("ActiveParticipant") if a.get("UserID") == "Jane Reader MD"]
    assert human[0].get("UserName") == "Jane Reader MD<2.999.9>"
    assert human[0].get("UserIsRequestor") == "true"
    assert m.find("AuditSourceIdentification").get("AuditEnterpriseSiteID") == "urn:oid:2.999.1"
    (patient,) = _objects(m, "1")
    assert patient.get("ParticipantObjectID") == PATIENT
    assert patient.get("ParticipantObjectTypeCode") == "1"
    assert patient.find("ParticipantObjectIDTypeCode").get("csd-code") == "2"


@pytest.mark.parametrize("transaction", ["ITI-55", "ITI-38"])
@pytest.mark.parametrize("side", ["responder", "initiator"])
def test_queries_carry_the_query_and_the_requester_is_the_source(
        schema: etree.XMLSchema, transaction: str, side: str) -> None:
    m = _valid(schema, responder(transaction) if side == "responder" else initiator(transaction))
    source = _by_role(m, "110153")
    destination = _by_role(m, "110152")
    assert source.get("UserIsRequestor") == "true"
    assert destination.get("UserIsRequestor") == "false"
    if side == "responder":
        # the remote gateway asked us: its IP is the source's access point; we are destination
        assert (source.get("NetworkAccessPointID"), source.get("NetworkAccessPointTypeCode")) == (
            "192.0.2.10", "2")
        assert destination.get("UserID") == "https://imx.example.org/soap"
    else:
        assert destination.get("UserID") == "https://gw.example.net/xca"
        assert (destination.get("NetworkAccessPointID"),
                destination.get("NetworkAccessPointTypeCode")) == ("gw.example.net", "1")
    (query,) = _objects(m, "24")
    assert query.get("ParticipantObjectTypeCode") == "2"
    assert query.find("ParticipantObjectIDTypeCode").get("csd-code") == transaction
    assert query.findtext("ParticipantObjectQuery") == QUERY
    details = _details(query)
    assert details["ihe:homeCommunityID"].startswith("urn:oid:2.999.")
    if transaction == "ITI-38":
        assert query.get("ParticipantObjectID").startswith("urn:uuid:14d4debf")
        assert details["QueryEncoding"] == "UTF-8"


@pytest.mark.parametrize("side", ["responder", "initiator"])
def test_retrieves_name_each_document_and_the_responder_is_the_source(
        schema: etree.XMLSchema, side: str) -> None:
    m = _valid(schema, responder("ITI-39") if side == "responder" else initiator("ITI-39"))
    # ITI TF-2b 3.39.5: documents flow from the responding gateway to the requester
    assert _by_role(m, "110152").get("UserIsRequestor") == "true"
    assert _by_role(m, "110153").get("UserIsRequestor") == "false"
    (doc,) = _objects(m, "3")
    assert doc.get("ParticipantObjectID") == DOC
    assert doc.find("ParticipantObjectIDTypeCode").get("csd-code") == "9"
    assert _details(doc) == {"Repository Unique Id": "2.999.2.7.2",
                             "ihe:homeCommunityID": "urn:oid:2.999.2"}


@pytest.mark.parametrize("transaction", ["RAD-69", "RAD-75"])
def test_imaging_retrieves_name_each_study(schema: etree.XMLSchema, transaction: str) -> None:
    m = _valid(schema, responder(transaction))
    (study,) = _objects(m, "3")
    assert study.get("ParticipantObjectID") == STUDY
    assert study.find("ParticipantObjectIDTypeCode").get("csd-code") == "110180"
    expected = {"Repository Unique Id": "2.999.2.7.2"}
    if transaction == "RAD-75":  # the community only matters across gateways
        expected["urn:ihe:iti:xca:2010:homeCommunityId"] = "urn:oid:2.999.2"
    assert _details(study) == expected


def test_dicom_instances_stored_by_c_store(schema: etree.XMLSchema) -> None:
    # PS3.15 A.5.3.2: the receiver of stored instances: 110104 with action C; the sending AE
    # is the source and the requester.
    record = AuditRecord(event="dicom-instances-stored", outcome="success", occurred_at=AT,
                         source="MODALITY1", source_address="10.0.0.7", destination="IMX",
                         transaction="DIMSE C-STORE", patient_ids=(PATIENT,),
                         study_instance_uids=(STUDY,))
    m = _valid(schema, record)
    assert _event(m) == ("110104", "C", None)
    assert _by_role(m, "110153").get("UserID") == "MODALITY1"
    assert _by_role(m, "110153").get("NetworkAccessPointID") == "10.0.0.7"
    assert _by_role(m, "110152").get("UserID") == "IMX"
    assert [o.get("ParticipantObjectID") for o in _objects(m, "3")] == [STUDY]


def test_dicom_instances_transferred_by_c_move(schema: etree.XMLSchema) -> None:
    # As the DIMSE edge records a C-MOVE / C-GET: we send (R), the peer is the requester.
    record = AuditRecord(event="instances-transferred", outcome="success", occurred_at=AT,
                         source="VIEWER", destination="IMX", transaction="DIMSE",
                         detail="C-MOVE 12 instances to VIEWER")
    m = _valid(schema, record)
    assert _event(m) == ("110104", "R", None)
    assert _by_role(m, "110153").get("UserID") == "IMX"
    assert _by_role(m, "110152").get("UserIsRequestor") == "true"


def test_refused_request_of_a_known_transaction(schema: etree.XMLSchema) -> None:
    # As soap.py records a schema-invalid ITI-38: the transaction's event, serious failure.
    record = AuditRecord(event="soap-request-refused", outcome="serious-failure", occurred_at=AT,
                         source="192.0.2.66", transaction="ITI-38",
                         detail="MalformedMessageError")
    m = _valid(schema, record)
    assert _event(m) == ("110112", "E", "ITI-38")
    e = m.find("EventIdentification")
    assert e.get("EventOutcomeIndicator") == "8"
    assert e.findtext("EventOutcomeDescription") == "MalformedMessageError"


@pytest.mark.parametrize(("event", "type_code"), [("soap-request-refused", "110132"),
                                                  ("tls-client-refused", "110126")])
def test_refused_before_any_transaction_is_a_security_alert(
        schema: etree.XMLSchema, event: str, type_code: str) -> None:
    record = AuditRecord(event=event, outcome="serious-failure", occurred_at=AT,
                         source="192.0.2.66", detail="no verified client certificate")
    m = _valid(schema, record)
    assert _event(m) == ("110113", "E", type_code)
    assert _by_role(m, "110153").get("NetworkAccessPointID") == "192.0.2.66"


def test_records_of_unknown_kinds_are_still_encoded(schema: etree.XMLSchema) -> None:
    record = AuditRecord(event="manifest-published", outcome="success", occurred_at=AT,
                         source="imx", transaction="RAD-68", study_instance_uids=(STUDY,))
    assert _event(_valid(schema, record)) == ("110107", "C", "RAD-68")
    odd = AuditRecord(event="something-new", outcome="weird", occurred_at=AT, source="x")
    m = _valid(schema, odd)
    assert _event(m) == ("110100", "E", "something-new")
    # PS3.15: 0 when the outcome is otherwise unknown
    assert m.find("EventIdentification").get("EventOutcomeIndicator") == "0"


def test_a_query_that_is_not_base64_is_kept_byte_for_byte(schema: etree.XMLSchema) -> None:
    m = _valid(schema, responder("ITI-55", query_payload_b64="<not base64 & odd/>"))
    (query,) = _objects(m, "24")
    assert base64.b64decode(query.findtext("ParticipantObjectQuery")) == b"<not base64 & odd/>"


def test_without_requester_fields_only_machines_participate(schema: etree.XMLSchema) -> None:
    record = AuditRecord(event="ITI-55", outcome="success", occurred_at=AT,
                         source="urn:oid:2.999.2", transaction="ITI-55")
    m = _valid(schema, record)
    assert len(m.findall("ActiveParticipant")) == 2
    assert m.find("EventIdentification/PurposeOfUse") is None
