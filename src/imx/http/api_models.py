"""The JSON API's bodies (pydantic models) and its OpenAPI 3.1 document (``/api/v1``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imx import __version__

__all__ = [
    "PREFIX",
    "AuditOut",
    "DocumentOut",
    "Failure",
    "JobOut",
    "OrganizationOut",
    "PatientOut",
    "PatientRef",
    "PatientSearchIn",
    "PatientSearchOut",
    "Problem",
    "RequesterIn",
    "RetrievalIn",
    "StudiesIn",
    "StudiesOut",
    "openapi_document",
]

PREFIX = "/api/v1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequesterIn(_Model):
    name: str = Field(description="The person asking (goes into the XUA subject-id)")
    role_code: str = Field("112247003", description="SNOMED CT role")
    purpose_of_use: Literal[
        "TREATMENT", "OPERATIONS", "PAYMENT", "REQUEST", "COVERAGE", "EMERGENCY", "PUBLICHEALTH"
    ] = "TREATMENT"
    npi: str | None = None


class PatientSearchIn(_Model):
    given: str = Field(min_length=1, max_length=64)
    family: str = Field(min_length=1, max_length=64)
    birth_date: dt.date
    gender: Literal["M", "F", ""] = ""
    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""
    communities: list[str] | None = Field(
        None, description="Home community IDs to ask (default: all)"
    )
    near_state: str | None = Field(None, description="Only communities in this state")
    use_cache: bool = True
    requester: RequesterIn | None = None


class PatientRef(_Model):
    home_community_id: str
    patient_id: str
    assigning_authority: str


class StudiesIn(_Model):
    patients: list[PatientRef] = Field(min_length=1, max_length=500)
    requester: RequesterIn | None = None


class RetrievalIn(_Model):
    home_community_id: str
    repository_unique_id: str
    document_unique_id: str = Field(description="The KOS manifest's uniqueId")
    reconcile_to: PatientRef | None = Field(None, description="Rewrite to this local patient")
    forward_to: str | None = Field(None, description="AE title of a configured PACS")
    requester: RequesterIn | None = None


class Failure(_Model):
    home_community_id: str
    error_code: str
    detail: str


class PatientOut(_Model):
    home_community_id: str
    organization: str
    patient_id: str
    assigning_authority: str
    given: list[str]
    family: str
    birth_date: dt.date | None
    gender: str
    responder_score: int
    local_score: float | None
    from_cache: bool


class PatientSearchOut(_Model):
    patients: list[PatientOut]
    failures: list[Failure]
    searched: list[str]
    xcpd_sent: int


class DocumentOut(_Model):
    home_community_id: str
    organization: str
    repository_unique_id: str
    document_unique_id: str
    kind: Literal["manifest", "report", "other"]
    title: str
    mime_type: str
    study_instance_uids: list[str]
    service_start_time: dt.datetime | None
    creation_time: dt.datetime | None


class StudiesOut(_Model):
    status: Literal["Success", "PartialSuccess", "Failure"]
    documents: list[DocumentOut]
    failures: list[Failure]


class OrganizationOut(_Model):
    home_community_id: str
    name: str
    city: str
    state: str
    postal_code: str
    capabilities: list[str]


class JobOut(_Model):
    id: str
    status: str
    home_community_id: str
    document_unique_id: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    study_instance_uid: str
    total_instances: int
    already_present: int
    received_instances: int
    received_bytes: int
    failed_instances: int
    missing_instances: int | None
    error: str


class AuditOut(_Model):
    id: int
    occurred_at: dt.datetime
    event: str
    outcome: str
    transaction: str
    role: str
    source: str
    destination: str
    requester_user_id: str
    requester_organization: str
    purpose_of_use: str
    patient_ids: list[str]
    study_instance_uids: list[str]
    detail: str


class Problem(_Model):
    title: str
    status: int
    detail: str = ""


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for /api/v1, built from the models above."""
    models = [
        PatientSearchIn,
        PatientSearchOut,
        StudiesIn,
        StudiesOut,
        RetrievalIn,
        JobOut,
        OrganizationOut,
        AuditOut,
        Problem,
    ]
    schemas: dict[str, Any] = {}
    for m in models:
        schema = m.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[m.__name__] = schema

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def body(name: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": ref(name)}}}

    def ok(name: str | None, *, array: bool = False, status: str = "200") -> dict[str, Any]:
        schema = (
            {"type": "array", "items": ref(name)} if array and name else ref(name) if name else {}
        )
        problem = {"content": {"application/problem+json": {"schema": ref("Problem")}}}
        return {
            status: {"description": "OK", "content": {"application/json": {"schema": schema}}},
            "401": {"description": "No or unknown API key", **problem},
            "422": {"description": "Invalid body", **problem},
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imx JSON API",
            "version": __version__,
            "description": "Find a patient's images on the network and retrieve them.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {
            f"{PREFIX}/organizations": {
                "get": {
                    "summary": "Organisations on the network (directory cache)",
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                        for n in ("name", "state", "transaction")
                    ],
                    "responses": ok("OrganizationOut", array=True),
                }
            },
            f"{PREFIX}/patients/search": {
                "post": {
                    "summary": "Find the patient at every community (XCPD ITI-55)",
                    "requestBody": body("PatientSearchIn"),
                    "responses": ok("PatientSearchOut"),
                }
            },
            f"{PREFIX}/studies/search": {
                "post": {
                    "summary": "The patients' studies and reports (XCA ITI-38)",
                    "requestBody": body("StudiesIn"),
                    "responses": ok("StudiesOut"),
                }
            },
            f"{PREFIX}/retrievals": {
                "post": {
                    "summary": "Start retrieving a study (ITI-39 + RAD-75) as a job",
                    "requestBody": body("RetrievalIn"),
                    "responses": ok("JobOut", status="202"),
                },
                "get": {"summary": "Recent retrieval jobs", "responses": ok("JobOut", array=True)},
            },
            f"{PREFIX}/audit": {
                "get": {
                    "summary": "The audit trail (format=fhir: a Bundle of FHIR AuditEvent)",
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                        for n in ("patient", "since", "event", "limit", "format")
                    ],
                    "responses": ok("AuditOut", array=True),
                }
            },
            f"{PREFIX}/retrievals/{{job_id}}": {
                "parameters": [
                    {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {"summary": "A retrieval's progress", "responses": ok("JobOut")},
                "delete": {"summary": "Cancel a retrieval", "responses": ok("JobOut")},
            },
        },
    }
