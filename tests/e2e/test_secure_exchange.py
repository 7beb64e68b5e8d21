"""Two communities with the network's trust on: mutual TLS with certificates from one network CA,
and a signed XUA assertion on every request. The initiator's clinician shows up in the
responder's audit trail with the purpose of use; without an assertion the responder refuses
and the initiator reports that community as failed, not the whole search."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imx.dicom.synth import generate_patients, generate_study
from imx.model.network import Requester
from imx.model.patient_discovery import PatientDemographics, PersonName
from imx.security import pki
from tests.e2e.test_three_communities import endpoints, load
from tests.support.node import test_settings as make_settings
from tests.support.server import NodeThread

pytestmark = pytest.mark.e2e

HOME_A = "urn:oid:1.3.6.1.4.1.21367.2026.201"
HOME_B = "urn:oid:1.3.6.1.4.1.21367.2026.202"


def _issue(ca: pki.CertificateAuthority, out: Path, name: str, home: str) -> dict[str, Path]:
    issued = pki.issue_node_to_dir(ca, out, common_name=name, organization=f"Community {name}",
                                   home_community_id=home, now=dt.datetime.now(dt.UTC),
                                   dns_names=["localhost"], ip_addresses=["127.0.0.1"],
                                   key_type="rsa2048")
    return {"cert_file": issued.cert_file, "key_file": issued.key_file}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("secure-pki")
    ca = pki.init_ca_dir(root / "ca", common_name="imx e2e CA", organization="imx e2e",
                         now=dt.datetime.now(dt.UTC), key_type="rsa2048")
    bundle = root / "ca" / pki.CA_CERT
    return {
        "A": {**_issue(ca, root / "a", "A", HOME_A), "trust_bundle": bundle},
        "B": {**_issue(ca, root / "b", "B", HOME_B), "trust_bundle": bundle},
        "bundle": bundle,
    }


def _node(tmp: Path, name: str, home: str, tls: dict, **extra) -> NodeThread:  # noqa: ANN003
    return NodeThread(make_settings(
        tmp / name, tls=tls,
        node={"home_community_id": home, "repository_unique_id": home.removeprefix("urn:oid:") + ".1",
              "institution_name": f"Community {name}"},
        **extra)).start()


@pytest.mark.parametrize("send_assertion", [True, False])
def test_xcpd_over_mtls_with_assertion(tmp_path: Path, network: dict, send_assertion: bool) -> None:
    patient = generate_patients(777, 1)[0]
    b = _node(tmp_path, "B", HOME_B, network["B"],
              trust={"require_assertion": True, "trust_bundle": network["bundle"]})
    a = None
    try:
        assert b.url.startswith("https://")
        load(b, generate_study(patient, seed=5, series_count=1, instances_per_series=2, rows=8,
                               columns=8))
        a = _node(tmp_path, "A", HOME_A, network["A"],
                  initiating={"send_assertion": send_assertion},
                  communities=[{"home_community_id": HOME_B, "name": "Community B",
                                "endpoints": endpoints(b)}])
        query = PatientDemographics(names=(PersonName(given=(patient.given,), family=patient.family),),
                                    gender=patient.sex, birth_date=patient.birth_date)
        clinician = Requester(subject_id="Dr. Ana Smith", role_code="112247003")
        found = a.call(a.services.network.search_patient(query, requester=clinician))  # type: ignore[union-attr]
        records = b.call(b.services.audit.list_events(limit=50))  # type: ignore[union-attr]
        if send_assertion:
            assert not found.failures
            assert [p.home_community_id for p in found.patients] == [HOME_B]
            answered = [r for r in records if r.transaction == "ITI-55" and r.outcome == "success"]
            assert answered and answered[0].requester_user_id == "Dr. Ana Smith"
            assert answered[0].purpose_of_use == "TREATMENT"
            assert answered[0].requester_home_community_id == HOME_A
        else:
            assert found.patients == ()
            assert [f.home_community_id for f in found.failures] == [HOME_B]
            assert "fault" in found.failures[0].detail.lower()
            assert not [r for r in records if r.transaction == "ITI-55" and r.outcome == "success"]
    finally:
        for n in (a, b):
            if n is not None:
                n.stop()
