"""ITI-55: request parsing (incl. required demographics) and every response outcome schema-valid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from imx.errors import MalformedMessageError, MissingParameterError
from imx.model.identifiers import PatientId
from imx.model.patient_discovery import (
    Address,
    DetectedIssue,
    InstanceIdentifier,
    PatientDemographics,
    PatientDiscoveryAnswer,
    PatientMatch,
    PersonName,
    QueryResponseCode,
)
from imx.transactions.iti55_xcpd.request import parse_request
from imx.transactions.iti55_xcpd.response import ResponderIdentity, build_response

GOLDEN = Path(__file__).parents[2] / "golden" / "iti55"
H = "{urn:hl7-org:v3}"
RESPONDER = ResponderIdentity(home_community_id="1.3.6.1.4.1.21367.2026.1.1",
                              organization_name="imx Imaging Centre",
                              device_id="1.3.6.1.4.1.21367.2026.1.1")


def golden() -> etree._Element:
    return etree.parse(str(GOLDEN / "query_and_feed.request.xml")).getroot()


def test_golden_request_is_schema_valid_and_parses(validate) -> None:
    root = golden()
    validate(root, "prpa-201305")
    req = parse_request(root)
    d = req.demographics
    assert d.names == (PersonName(given=("Zoë", "Anne"), family="Ó Briain"),)
    assert d.birth_date == dt.date(1975, 4, 12)
    assert d.gender == "F"
    assert d.addresses[0].postal_code == "04101"
    assert d.telecoms == ("tel:+1-207-555-0142",)
    assert d.ids == (PatientId(id="E12345", assigning_authority="1.2.840.114350.1.13.999.2.7.5"),)
    assert req.sender_home_community_id == "1.2.840.114350.1.13.999"
    assert req.query_id == InstanceIdentifier(root="1.2.840.114350.1.13.999.2.7.3", extension="q-55-001")
    assert req.response_priority == "I"


def _drop(root: etree._Element, tag: str) -> etree._Element:
    for el in list(root.iter(H + tag)):
        el.getparent().remove(el)  # type: ignore[union-attr]
    return root


def test_missing_name_or_birth_time_is_a_query_error() -> None:
    with pytest.raises(MissingParameterError):
        parse_request(_drop(golden(), "livingSubjectName"))
    with pytest.raises(MissingParameterError):
        parse_request(_drop(golden(), "livingSubjectBirthTime"))


def test_missing_sender_home_community_is_malformed() -> None:
    with pytest.raises(MalformedMessageError):
        parse_request(_drop(golden(), "representedOrganization"))


def test_wrong_root_is_malformed() -> None:
    with pytest.raises(MalformedMessageError):
        parse_request(etree.fromstring(b"<PRPA_IN201306UV02 xmlns='urn:hl7-org:v3'/>"))


def _match() -> PatientMatch:
    return PatientMatch(score=96, demographics=PatientDemographics(
        names=(PersonName(given=("Zoe",), family="O'Brien"),), gender="F",
        birth_date=dt.date(1975, 4, 12),
        addresses=(Address(street_lines=("12 Harbor View Road",), city="Portland", state="ME",
                           postal_code="04101"),),
        ids=(PatientId(id="IMX-000042", assigning_authority="1.3.6.1.4.1.21367.2026.1.1.2"),)))


def _build(answer: PatientDiscoveryAnswer) -> etree._Element:
    return build_response(request=parse_request(golden()), answer=answer, responder=RESPONDER,
                          message_id=InstanceIdentifier(root="1.3.6.1.4.1.21367.2026.1.1.9", extension="r1"),
                          created_at=dt.datetime(2026, 3, 1, 9, 30, 16, tzinfo=dt.UTC))


def test_match_response(validate) -> None:
    out = _build(PatientDiscoveryAnswer(response_code=QueryResponseCode.OK, matches=(_match(),)))
    validate(out, "prpa-201306")
    assert out.find(f"{H}acknowledgement/{H}typeCode").get("code") == "AA"
    assert out.find(f".//{H}queryResponseCode").get("code") == "OK"
    pid = out.find(f".//{H}subject1/{H}patient/{H}id")
    assert pid.get("extension") == "IMX-000042"
    custodian = out.find(f".//{H}custodian/{H}assignedEntity/{H}id")
    assert custodian.get("root") == RESPONDER.home_community_id
    # the initiator's message and query are referenced and echoed
    assert out.find(f".//{H}targetMessage/{H}id").get("extension") == "7a1c9e"
    assert out.find(f".//{H}queryAck/{H}queryId").get("extension") == "q-55-001"
    assert out.find(f".//{H}controlActProcess/{H}queryByParameter/{H}parameterList") is not None
    receiver_org = out.find(f"{H}receiver/{H}device/{H}asAgent/{H}representedOrganization/{H}id")
    assert receiver_org.get("root") == "1.2.840.114350.1.13.999"


def test_no_match_and_answer_not_available(validate) -> None:
    for issues in ((), (DetectedIssue.ANSWER_NOT_AVAILABLE,), (DetectedIssue.GENDER_REQUESTED,)):
        out = _build(PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=issues))
        validate(out, "prpa-201306")
        assert out.find(f".//{H}queryResponseCode").get("code") == "NF"
        assert out.find(f".//{H}subject") is None
        codes = [c.get("code") for c in out.iter(f"{H}code") if c.getparent().tag == f"{H}acknowledgementDetail"]
        assert codes == [i.value for i in issues]


def test_query_error_and_application_error(validate) -> None:
    for code in (QueryResponseCode.QUERY_ERROR, QueryResponseCode.APPLICATION_ERROR):
        out = _build(PatientDiscoveryAnswer(response_code=code, error_text="required parameter missing"))
        validate(out, "prpa-201306")
        assert out.find(f"{H}acknowledgement/{H}typeCode").get("code") == "AE"
        assert out.find(f".//{H}queryResponseCode").get("code") == code.value
        assert out.find(f".//{H}subject") is None
