"""The JSON API an application uses instead of speaking IHE: find the patient, list the studies,
retrieve one as a background job, watch its progress; keys are required; OpenAPI is valid."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from imx.dicom.synth import generate_patients, generate_study
from tests.e2e.test_three_communities import community, load, node_settings
from tests.support.server import NodeThread

pytestmark = pytest.mark.e2e
KEY = "test-key-0123456789abcdef"


def test_search_list_retrieve_through_the_json_api(tmp_path: Path) -> None:
    patient = generate_patients(8080, 1)[0]
    b = NodeThread(node_settings(tmp_path, "B")).start()
    a = None
    try:
        load(b, generate_study(patient, seed=8, series_count=2, instances_per_series=15, rows=8,
                               columns=8))
        a = NodeThread(node_settings(tmp_path, "A", communities=[community("B", b)], api={"keys": [
            {"name": "viewer-app", "sha256": hashlib.sha256(KEY.encode()).hexdigest(),
             "requester_name": "Dr. Viewer"}]})).start()
        api = httpx.Client(base_url=f"{a.url}/api/v1", headers={"Authorization": f"Bearer {KEY}"},
                           timeout=60)

        doc = httpx.get(f"{a.url}/api/v1/openapi.json").json()
        validate(doc)
        assert "/api/v1/patients/search" in doc["paths"]

        assert httpx.get(f"{a.url}/api/v1/organizations").status_code == 401
        assert httpx.get(f"{a.url}/api/v1/organizations",
                         headers={"X-API-Key": "wrong"}).status_code == 401
        orgs = api.get("/organizations", params={"name": "community b"}).json()
        assert [o["name"] for o in orgs] == ["Community B"]
        assert "RAD-75" in orgs[0]["capabilities"]

        bad = api.post("/patients/search", json={"given": "X"})
        assert bad.status_code == 422 and "family" in bad.json()["detail"]

        found = api.post("/patients/search", json={
            "given": patient.given, "family": patient.family,
            "birth_date": patient.birth_date.isoformat(), "gender": patient.sex}).json()
        assert found["failures"] == [] and len(found["patients"]) == 1
        p = found["patients"][0]
        assert p["organization"] == "Community B" and p["family"] == patient.family

        studies = api.post("/studies/search", json={"patients": [
            {k: p[k] for k in ("home_community_id", "patient_id", "assigning_authority")}]}).json()
        assert studies["status"] == "Success"
        kos = next(d for d in studies["documents"] if d["kind"] == "manifest")
        assert kos["organization"] == "Community B" and kos["study_instance_uids"]

        started = api.post("/retrievals", json={k: kos[k] for k in (
            "home_community_id", "repository_unique_id", "document_unique_id")})
        assert started.status_code == 202
        job_url = started.headers["location"].removeprefix("/api/v1")
        deadline = time.monotonic() + 60
        while (job := api.get(job_url).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert job["total_instances"] == 30 and job["received_instances"] == 30
        assert job["missing_instances"] == 0 and job["received_bytes"] > 0
        assert api.get("/retrievals").json()[0]["id"] == job["id"]
        assert api.get("/retrievals/nope").status_code == 404

        trail = api.get("/audit", params={"limit": 200}).json()
        initiated = [e for e in trail if e["role"] == "initiator"]
        assert {e["transaction"] for e in initiated} >= {"ITI-55", "ITI-38", "RAD-75"}
        assert all(e["requester_user_id"] == "Dr. Viewer" for e in initiated)
        by_patient = api.get("/audit", params={"patient": p["patient_id"]}).json()
        assert by_patient and all(any(p["patient_id"] in x for x in e["patient_ids"])
                                  for e in by_patient)
        bundle = api.get("/audit", params={"format": "fhir", "limit": 5}).json()
        assert bundle["resourceType"] == "Bundle" and bundle["entry"]
        assert bundle["entry"][0]["resource"]["resourceType"] == "AuditEvent"
    finally:
        for n in (a, b):
            if n is not None:
                n.stop()
