"""ITI-8 ADT feed parsing: registrations, updates, merges, bad messages, and ACKs."""

from __future__ import annotations

import datetime as dt

import pytest

from imx.errors import MalformedMessageError, MissingParameterError, UnsupportedError
from imx.model.identifiers import PatientId
from imx.transactions.iti8_patient_identity_feed.message import FeedAction, build_ack, parse_adt

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def adt(trigger: str, pid: str, extra: str = "") -> str:
    return (f"MSH|^~\\&|ADT|HOSP|IMX|IMX|20260301120000||ADT^{trigger}^ADT_{trigger}|C{trigger}|P|2.5\r"
            f"EVN|{trigger}|20260301120000\r{pid}\r{extra}")


PID = ("PID|1||MRN123^^^HOSP&1.2.3.4&ISO~999-99-9999^^^SSA&2.16.840.1.113883.4.1&ISO||"
       "Müller^José^Q^Jr||19800215|F|||1 Main St^Apt 2^Boston^MA^02115^USA||"
       "^PRN^PH^^1^617^5551234~^NET^Internet^jose@example.org")


@pytest.mark.parametrize("trigger, action", [("A01", FeedAction.REGISTER), ("A04", FeedAction.REGISTER),
                                             ("A08", FeedAction.UPDATE)])
def test_register_and_update(trigger: str, action: FeedAction) -> None:
    e = parse_adt(adt(trigger, PID))
    assert e.action is action
    d = e.demographics
    assert d.ids[0] == PatientId(id="MRN123", assigning_authority="1.2.3.4")
    assert d.names[0].family == "Müller" and d.names[0].given == ("José", "Q")
    assert d.birth_date == dt.date(1980, 2, 15) and d.gender == "F"
    assert d.addresses[0].city == "Boston" and d.addresses[0].postal_code == "02115"
    assert d.telecoms == ("tel:+16175551234", "mailto:jose@example.org")


def test_merge_carries_prior_ids() -> None:
    e = parse_adt(adt("A40", "PID|1||MRN200^^^HOSP&1.2.3.4&ISO||Doe^Jane", "MRG|MRN123^^^HOSP&1.2.3.4&ISO\r"))
    assert e.action is FeedAction.MERGE
    assert e.prior_ids == (PatientId(id="MRN123", assigning_authority="1.2.3.4"),)
    with pytest.raises(MissingParameterError):
        parse_adt(adt("A40", "PID|1||MRN200^^^HOSP&1.2.3.4&ISO||Doe^Jane"))


def test_lf_separated_message_is_tolerated() -> None:
    assert parse_adt(adt("A01", PID).replace("\r", "\n")).demographics.ids[0].id == "MRN123"


def test_bad_messages() -> None:
    with pytest.raises(MalformedMessageError):
        parse_adt("this is not hl7")
    with pytest.raises(UnsupportedError):
        parse_adt(adt("A03", PID))
    with pytest.raises(MissingParameterError):
        parse_adt(adt("A01", "PID|1||||Doe^Jane"))
    with pytest.raises(MalformedMessageError):
        parse_adt(adt("A01", PID.replace("19800215", "19801345")))


def test_ack_echoes_control_id_and_escapes_text() -> None:
    msg = adt("A01", PID)
    ack = build_ack(msg, code="AE", text="PID-3 | missing", now=NOW)
    segments = ack.strip("\r").split("\r")
    assert segments[0].startswith("MSH|^~\\&|IMX|IMX|ADT|HOSP|20260301120000||ACK^A01^ACK|")
    assert segments[1] == "MSA|AE|CA01"
    assert "PID-3 \\F\\ missing" in segments[2]
