"""The FHIR R4 AuditEvent view of a record (what `imx audit list --fhir` prints)."""

from __future__ import annotations

import base64

import pytest

from imx.audit.fhir import to_fhir_audit_event
from tests.unit.audit.records import PATIENT, QUERY, STUDY, US, initiator, responder


def test_query_event_in_fhir_terms() -> None:
    event = to_fhir_audit_event(responder("ITI-55"), source=US, resource_id="12")
    assert event["id"] == "12"
    assert event["type"] == {"system": "http://dicom.nema.org/resources/ontology/DCM",
                             "code": "110112", "display": "Query"}
    assert event["subtype"][0]["system"] == "urn:ihe:event-type-code"
    assert event["subtype"][0]["code"] == "ITI-55"
    assert (event["action"], event["outcome"]) == ("E", "0")
    assert event["purposeOfEvent"][0]["coding"][0]["system"] == (
        "http://healthit.gov/nhin/purposeofuse")
    source, = [a for a in event["agent"] if a["type"]["coding"][0]["code"] == "110153"]
    assert source["requestor"] is True
    assert source["network"] == {"address": "192.0.2.10", "type": "2"}
    patient, query = event["entity"]
    assert patient["what"]["identifier"]["value"] == PATIENT
    assert (patient["type"]["code"], patient["role"]["code"]) == ("1", "1")
    assert query["query"] == QUERY
    assert query["role"]["code"] == "24"
    assert base64.b64decode(query["detail"][0]["valueBase64Binary"]) == b"urn:oid:2.999.1"
    assert event["source"]["site"] == "urn:oid:2.999.1"


def test_imaging_retrieve_names_the_study() -> None:
    event = to_fhir_audit_event(initiator("RAD-75"), source=US)
    assert event["type"]["code"] == "110104"
    assert "id" not in event
    assert STUDY in [e["what"]["identifier"]["value"] for e in event["entity"]]


@pytest.mark.parametrize("transaction", ["ITI-55", "ITI-38", "ITI-39", "RAD-69", "RAD-75"])
def test_valid_fhir_r4_audit_event(transaction: str) -> None:
    audit_event = pytest.importorskip("fhir.resources.R4B.auditevent")
    for record in (responder(transaction), initiator(transaction)):
        audit_event.AuditEvent.model_validate(to_fhir_audit_event(record, source=US))
