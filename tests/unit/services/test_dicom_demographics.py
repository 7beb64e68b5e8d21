"""DICOM headers carry address, phones, mother's birth name and other IDs into the patient
index, so an ITI-55 query that needs them to be sure finds the ingested patient."""

from __future__ import annotations

import datetime as dt
import io
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from imx.model.identifiers import PatientId
from imx.model.mpi import dicom_address, dicom_telecoms
from imx.model.patient_discovery import (
    Address,
    DetectedIssue,
    InstanceIdentifier,
    PatientDemographics,
    PatientDiscoveryRequest,
    PersonName,
    QueryResponseCode,
)
from imx.services.ingest import IngestService, IngestStatus
from imx.services.patient_discovery import PatientDiscoveryService
from imx.settings import IngestSettings, NodeSettings
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryMetadataStore,
    InMemoryQuarantine,
    RecordingAuditSink,
)
from tests.support.stores import sqlite_store

CT = Path(get_testdata_file("CT_small.dcm")).read_bytes()
AUTHORITY = NodeSettings().default_assigning_authority
DOB = dt.date(1980, 2, 15)
SSN = PatientId(id="123-45-6789", assigning_authority="2.16.840.1.113883.4.1")


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    if request.param == "memory":
        yield InMemoryMetadataStore()
        return
    async with sqlite_store(tmp_path / "imx.sqlite3") as s:
        yield s


def header(sop: str, *, address: str | None = None, phones: list[str] | None = None,
           mother: str | None = None, other_ids: bool = False) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(CT))
    ds.PatientID, ds.PatientName, ds.PatientSex = "KJ-1", "Johnson^Katherine", "F"
    ds.PatientBirthDate = DOB.strftime("%Y%m%d")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
    if address is not None:
        ds.PatientAddress = address
    if phones is not None:
        ds.PatientTelephoneNumbers = phones
    if mother is not None:
        ds.PatientMotherBirthName = mother
    if other_ids:
        item = Dataset()
        item.PatientID, item.IssuerOfPatientID = SSN.id, SSN.assigning_authority
        local = Dataset()
        local.PatientID, local.IssuerOfPatientID = "OLD-7", "RADIOLOGY"  # no OID: not usable
        ds.OtherPatientIDsSequence = [item, local]
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


async def ingest(store: object, *files: bytes) -> None:
    svc = IngestService(metadata=store, blobs=InMemoryBlobStore(),  # type: ignore[arg-type]
                        quarantine=InMemoryQuarantine(), audit=RecordingAuditSink(),
                        clock=FakeClock(), settings=IngestSettings(), node=NodeSettings())
    for data in files:
        assert (await svc.ingest_bytes(data, source="test")).status is IngestStatus.STORED


def query(**demographics: object) -> PatientDiscoveryRequest:
    ii = InstanceIdentifier(root="1.2.3")
    # A nickname and a typo at once: not enough alone (test_patient_discovery).
    demo = PatientDemographics(names=(PersonName(given=("Kate",), family="Jonhson"),),
                               gender="F", birth_date=DOB, **demographics)  # type: ignore[arg-type]
    return PatientDiscoveryRequest(
        message_id=ii, creation_time="", sender_device_id=ii, sender_home_community_id="1.2.3",
        receiver_device_id=None, query_id=ii, processing_code="P", response_priority="I",
        demographics=demo, query_by_parameter=b"<queryByParameter xmlns='urn:hl7-org:v3'/>")


HOME = Address(street_lines=("12 N Main St",), city="Springfield", state="IL",
               postal_code="62704", country="US")
WITH_CONTACT = {"addresses": (HOME,), "telecoms": ("tel:+1-217-555-0101",)}


async def test_ingested_address_and_phone_settle_an_iti55_match(store: object) -> None:
    await ingest(store, header("1.2.826.0.1.3680043.10.9.1",
                               address="12 North Main Street, Springfield, IL 62704",
                               phones=["(217) 555-0101"], mother="Smith^Mary", other_ids=True))
    entry = await store.get_mpi_patient(PatientId(id="KJ-1", assigning_authority=AUTHORITY))  # type: ignore[attr-defined]
    assert entry.demographics.addresses == (Address(
        street_lines=("12 North Main Street",), city="Springfield", state="IL",
        postal_code="62704"),)
    assert entry.demographics.telecoms == ("tel:2175550101",)
    assert entry.demographics.mothers_maiden_name == PersonName(family="Smith")
    assert entry.demographics.ids == (SSN,)
    svc = PatientDiscoveryService(index=store, audit=RecordingAuditSink(), clock=FakeClock())  # type: ignore[arg-type]
    unsure = await svc.discover_patient(query())
    assert unsure.response_code is QueryResponseCode.NO_MATCH
    assert DetectedIssue.ADDRESS_REQUESTED in unsure.detected_issues
    sure = await svc.discover_patient(query(**WITH_CONTACT))
    assert sure.response_code is QueryResponseCode.OK
    assert sure.matches[0].demographics.ids[0] == PatientId(id="KJ-1", assigning_authority=AUTHORITY)


async def test_without_them_in_the_header_the_same_query_stays_unsure(store: object) -> None:
    await ingest(store, header("1.2.826.0.1.3680043.10.9.2"))
    svc = PatientDiscoveryService(index=store, audit=RecordingAuditSink(), clock=FakeClock())  # type: ignore[arg-type]
    answer = await svc.discover_patient(query(**WITH_CONTACT))
    assert answer.response_code is QueryResponseCode.NO_MATCH and not answer.matches


async def test_a_later_header_without_them_does_not_erase_them(store: object) -> None:
    await ingest(store, header("1.2.826.0.1.3680043.10.9.3", address="^^Springfield^IL^62704",
                               phones=["217 555 0101"]),
                 header("1.2.826.0.1.3680043.10.9.4"))  # e.g. a report without the address
    entry = await store.get_mpi_patient(PatientId(id="KJ-1", assigning_authority=AUTHORITY))  # type: ignore[attr-defined]
    assert entry.demographics.addresses[0].postal_code == "62704"
    assert entry.demographics.telecoms == ("tel:2175550101",)


@pytest.mark.parametrize(("text", "expected"), [
    ("123 Main St, Springfield, IL 62704",
     Address(street_lines=("123 Main St",), city="Springfield", state="IL", postal_code="62704")),
    ("12 Oak Ave, Apt 4, NEW YORK NY 10001-1234, USA",
     Address(street_lines=("12 Oak Ave", "Apt 4"), city="NEW YORK", state="NY",
             postal_code="10001-1234", country="US")),
    ("1 Elm St^Unit 2^Austin^TX^73301^USA",
     Address(street_lines=("1 Elm St", "Unit 2"), city="Austin", state="TX",
             postal_code="73301", country="USA")),
    # Not unambiguous: kept whole as the street line, nothing guessed.
    ("Rue de la Paix 5, 75002 Paris", Address(street_lines=("Rue de la Paix 5, 75002 Paris",))),
    ("Springfield, IL 62704", Address(street_lines=("Springfield, IL 62704",))),
    ("9 Main St, Springfield, XX 62704", Address(street_lines=("9 Main St, Springfield, XX 62704",))),
    ("9 Main St, Springfield 62704", Address(street_lines=("9 Main St, Springfield 62704",))),
])
def test_dicom_address_is_split_only_when_unambiguous(text: str, expected: Address) -> None:
    assert dicom_address(text) == expected


def test_dicom_phone_numbers() -> None:
    assert dicom_telecoms(("+1 (217) 555-0101", "555-0101", "ext 12", "+1 (217) 555-0101")) == (
        "tel:+12175550101", "tel:5550101")
