"""Bulk import parsing: CSV columns, FHIR Bundle (streamed entry by entry) and NDJSON."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from imx.model.identifiers import PatientId
from imx.model.mpi import MpiPatient, MpiSource
from imx.services.patient_import import (
    ImportRejection,
    import_patients,
    parse_csv,
    parse_fhir_bundle,
    parse_fhir_ndjson,
)
from tests.fakes import InMemoryMetadataStore

AA = "1.2.3.4"
SSN = "2.16.840.1.113883.4.1"
CSV = (
    "patient_id,family,given,middle,birth_date,sex,street,city,state,postal_code,phone,"
    "mothers_maiden_name,ssn,other_ids\n"
    "P1,Doe,Jane,Q,1980-02-15,F,12 Main St,Springfield,IL,62704,217-555-0101,Smith,"
    "123456789,MRN5^^^&1.9.9&ISO\n"
    ",Nobody,X,,,,,,,,,,,\n"
    "P2,Roe,Rick,,19700704,m,,,,,,,,\n"
    "P3,Bad,Date,,1980-13-45,F,,,,,,,,\n"
)


def test_csv_rows_become_index_entries_and_bad_rows_are_reported_by_number() -> None:
    out = list(parse_csv(io.StringIO(CSV), issuer=AA))
    p1, missing, p2, bad = out
    assert isinstance(p1, MpiPatient) and p1.source is MpiSource.IMPORT
    assert p1.patient_id == PatientId(id="P1", assigning_authority=AA)
    d = p1.demographics
    assert d.names[0].given == ("Jane", "Q") and d.birth_date == dt.date(1980, 2, 15)
    assert d.addresses[0].postal_code == "62704" and d.telecoms == ("tel:217-555-0101",)
    assert d.ids == (PatientId(id="123456789", assigning_authority=SSN),
                     PatientId(id="MRN5", assigning_authority="1.9.9"))
    assert d.mothers_maiden_name is not None and d.mothers_maiden_name.family == "Smith"
    assert missing == ImportRejection(2, "patient_id is empty")
    assert isinstance(p2, MpiPatient) and p2.demographics.gender == "M"
    assert isinstance(bad, ImportRejection) and bad.position == 4 and "1980" not in bad.reason


def test_csv_with_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown: dob"):
        list(parse_csv(io.StringIO("patient_id,dob\nP1,1980\n"), issuer=AA))


def fhir_patient(i: int, **extra: object) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": f"99900{i:04d}"},
                       {"system": f"urn:oid:{AA}", "value": f"F{i}"}],
        "name": [{"use": "old", "family": "Maiden"},
                 {"use": "official", "family": "Doe", "given": ["Jane", "Q"]}],
        "gender": "female", "birthDate": "1980-02-15",
        "telecom": [{"system": "email", "value": "x@example.org"},
                    {"system": "phone", "value": "+1 217 555 0101"}],
        "address": [{"use": "old", "city": "Old"},
                    {"use": "home", "line": ["12 Main St"], "city": "Springfield",
                     "state": "IL", "postalCode": "62704"}],
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
                       "valueString": "Smith"}],
        **extra,
    }


def test_fhir_bundle_is_read_entry_by_entry() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "total": 3, "entry": [
        {"fullUrl": "urn:uuid:1", "resource": fhir_patient(1)},
        {"resource": {"resourceType": "Observation", "status": "final"}},
        {"resource": fhir_patient(2, identifier=[])},
        {"resource": fhir_patient(3, gender="robot")},
    ], "meta": {"lastUpdated": "2026-01-01T00:00:00Z"}}
    text = json.dumps(bundle, indent=1)
    # Tiny read chunks: every value boundary falls across a read at least once.
    stream = _Chunked(text, 7)
    out = list(parse_fhir_bundle(stream, issuer=AA))
    p1, other, no_id, robot = out
    assert isinstance(p1, MpiPatient)
    assert p1.patient_id == PatientId(id="F1", assigning_authority=AA)
    d = p1.demographics
    assert d.names[0].family == "Doe" and d.addresses[0].city == "Springfield"
    assert d.telecoms == ("tel:+1 217 555 0101",) and d.gender == "F"
    assert d.ids == (PatientId(id="999000001", assigning_authority=SSN),)
    assert d.mothers_maiden_name is not None and d.mothers_maiden_name.family == "Smith"
    assert other is None
    assert no_id == ImportRejection(3, "no identifier with a system other than SSN")
    assert isinstance(robot, ImportRejection) and robot.position == 4


def test_a_large_bundle_is_not_read_whole_before_the_first_patient() -> None:
    text = json.dumps({"resourceType": "Bundle", "entry": [
        {"resource": fhir_patient(i)} for i in range(500)]})
    stream = _Chunked(text, 4096)
    entries = parse_fhir_bundle(stream, issuer=AA)
    first = next(entries)
    assert isinstance(first, MpiPatient) and first.patient_id.id == "F0"
    assert stream.tell() <= 2 * 4096 < len(text) // 10
    assert sum(1 for _ in entries) == 499


def test_not_a_bundle_or_truncated_is_refused() -> None:
    with pytest.raises(ValueError, match="not a FHIR Bundle"):
        list(parse_fhir_bundle(io.StringIO('{"resourceType": "Patient"}'), issuer=AA))
    with pytest.raises(ValueError, match="truncated"):
        list(parse_fhir_bundle(io.StringIO('{"entry": [{"resource": {}}'), issuer=AA))


def test_ndjson_one_patient_per_line() -> None:
    lines = [json.dumps(fhir_patient(1)), "", "{not json", json.dumps(fhir_patient(2))]
    out = list(parse_fhir_ndjson(io.StringIO("\n".join(lines)), issuer=AA))
    assert [type(x).__name__ for x in out] == ["MpiPatient", "ImportRejection", "MpiPatient"]
    assert out[1] == ImportRejection(3, "not a JSON object")


async def test_import_writes_in_batches_and_counts() -> None:
    store = InMemoryMetadataStore()
    rejected: list[ImportRejection] = []
    progress = [s.imported async for s in import_patients(
        store, parse_csv(io.StringIO(CSV), issuer=AA), batch_size=1, rejected=rejected)]
    assert progress[-1] == 2 and len(progress) >= 2
    assert [r.position for r in rejected] == [2, 4]
    assert await store.count_mpi_patients() == 2


class _Chunked(io.StringIO):
    """A text stream that returns at most ``n`` characters per read."""

    def __init__(self, text: str, n: int) -> None:
        super().__init__(text)
        self._n = n

    def read(self, size: int | None = -1) -> str:
        return super().read(self._n)
