"""ITI-55 Deferred Response Option, which imx does not offer: a deferred request gets the accept
acknowledgement AE "unsupported processing mode" (schema-valid MCCI_IN000002UV01), a deferred
priority on the immediate action gets AE in the PRPA_IN201306UV02; neither discloses a match."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
from lxml import etree

from imx.dicom.synth import generate_patients, generate_study
from imx.model.patient_discovery import InstanceIdentifier, PatientDemographics, PersonName
from imx.transactions.iti55_xcpd.request import build_request
from imx.wire.addressing import build_request_headers
from imx.wire.schemas import validate
from imx.wire.soap import build_envelope
from imx.wire.xml import serialize
from tests.e2e.test_three_communities import load
from tests.support.server import running_node

H = "{urn:hl7-org:v3}"
DEFERRED = "urn:hl7-org:v3:PRPA_IN201305UV02:Deferred:CrossGatewayPatientDiscovery"
IMMEDIATE = "urn:hl7-org:v3:PRPA_IN201305UV02:CrossGatewayPatientDiscovery"


def _request(action: str, patient, *, priority: str = "I") -> bytes:  # noqa: ANN001
    body = build_request(
        message_id=InstanceIdentifier(root="1.2.3", extension="m-1"), created_at=dt.datetime.now(dt.UTC),
        sender_device_id="1.2.3", sender_home_community_id="1.2.3", receiver_device_id="1.2.4",
        query_id=InstanceIdentifier(root="1.2.3", extension="q-1"),
        demographics=PatientDemographics(names=(PersonName(given=(patient.given,), family=patient.family),),
                                         gender=patient.sex, birth_date=patient.birth_date))
    body.find(f"{H}controlActProcess/{H}queryByParameter/{H}responsePriorityCode").set("code", priority)
    return serialize(build_envelope(body, build_request_headers(action, "http://x/xcpd", "urn:uuid:d1")))


def test_deferred_requests_are_refused_the_standard_way(tmp_path: Path) -> None:
    patient = generate_patients(4711, 1)[0]
    with running_node(tmp_path) as node:
        load(node, generate_study(patient, seed=3, series_count=1, instances_per_series=1, rows=8,
                                  columns=8))
        r = httpx.post(f"{node.url}/xcpd", content=_request(DEFERRED, patient, priority="D"),
                       headers={"Content-Type": "application/soap+xml"}, timeout=30)
        assert r.status_code == 200
        env = etree.fromstring(r.content)
        ack = env.find(f".//{H}MCCI_IN000002UV01")
        validate(ack, "mcci-000002")
        assert ack.find(f"{H}acknowledgement/{H}typeCode").get("code") == "AE"
        assert ack.find(f"{H}acknowledgement/{H}targetMessage/{H}id").get("extension") == "m-1"
        assert "unsupported processing mode" in r.text
        assert patient.patient_id.encode() not in r.content

        r = httpx.post(f"{node.url}/xcpd", content=_request(IMMEDIATE, patient, priority="D"),
                       headers={"Content-Type": "application/soap+xml"}, timeout=30)
        answer = etree.fromstring(r.content).find(f".//{H}PRPA_IN201306UV02")
        validate(answer, "prpa-201306")
        assert answer.find(f"{H}acknowledgement/{H}typeCode").get("code") == "AE"
        assert answer.find(f".//{H}queryResponseCode").get("code") == "AE"
        assert patient.patient_id.encode() not in r.content
        # the same query, immediate: the patient is found (the refusal above was the mode)
        r = httpx.post(f"{node.url}/xcpd", content=_request(IMMEDIATE, patient),
                       headers={"Content-Type": "application/soap+xml"}, timeout=30)
        assert patient.patient_id.encode() in r.content
