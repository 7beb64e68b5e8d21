"""One contract for every PatientIndex: in-memory, SQLite, PostgreSQL (fixture ``store``)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from imx.matching import blocking_keys
from imx.matching.mpi_form import query_demographics
from imx.model.identifiers import PatientId
from imx.model.mpi import MpiPatient, MpiSource, PatientCorrelation
from imx.model.patient_discovery import Address, PatientDemographics, PersonName
from imx.storage.sql_store import SqlMetadataStore
from tests.contract.records import stored

AA = "1.2.3.4"
JANE = PatientId(id="P1", assigning_authority=AA)
THEIRS = PatientId(id="X-77", assigning_authority="9.8.7.6")


def jane(**changes: object) -> MpiPatient:
    demo = PatientDemographics(
        names=(PersonName(given=("Jane", "Q"), family="Doe", prefix="Dr"),),
        gender="F", birth_date=dt.date(1980, 2, 15),
        addresses=(Address(street_lines=("12 North Main Street", "Apt 4"), city="Springfield",
                           state="IL", postal_code="62704-1234", country="US"),),
        telecoms=("tel:+1-217-555-0101",),
        ids=(PatientId(id="123-45-6789", assigning_authority="2.16.840.1.113883.4.1"),),
        mothers_maiden_name=PersonName(family="Smith"))
    return MpiPatient(patient_id=JANE, demographics=dataclasses.replace(demo, **changes))


async def found(store, demo: PatientDemographics) -> set[PatientId]:  # type: ignore[no-untyped-def]
    keys = blocking_keys(query_demographics(demo))
    return {c.patient_id for c in await store.find_mpi_candidates(keys)}


async def test_entry_round_trips_every_demographic(store) -> None:
    await store.upsert_mpi_patient(jane())
    assert await store.get_mpi_patient(JANE) == jane()
    assert await store.get_mpi_patient(THEIRS) is None
    assert await store.count_mpi_patients() == 1


@pytest.mark.parametrize("query", [
    # Same birth date, typo in the family name
    PatientDemographics(names=(PersonName(given=("Jane",), family="Dough"),),
                        birth_date=dt.date(1980, 2, 15)),
    # Day typo in the birth date (family-name sound + year/month)
    PatientDemographics(names=(PersonName(given=("Jane",), family="Doe"),),
                        birth_date=dt.date(1980, 2, 16)),
    # Only the phone number (other notation)
    PatientDemographics(telecoms=("tel:(217) 555-0101",)),
    # First initial + ZIP5, year typo
    PatientDemographics(names=(PersonName(given=("J",), family="X"),),
                        addresses=(Address(postal_code="62704"),)),
    # The SSN
    PatientDemographics(ids=(PatientId(id="123-45-6789",
                                       assigning_authority="2.16.840.1.113883.4.1"),)),
])
async def test_candidates_share_a_blocking_key(store, query: PatientDemographics) -> None:
    await store.upsert_mpi_patient(jane())
    other = MpiPatient(patient_id=PatientId(id="P2", assigning_authority=AA),
                       demographics=PatientDemographics(
                           names=(PersonName(given=("Bob",), family="Roe"),),
                           birth_date=dt.date(1955, 7, 30)))
    await store.upsert_mpi_patient(other)
    assert await found(store, query) == {JANE}


async def test_candidates_carry_the_match_form(store) -> None:
    await store.upsert_mpi_patient(jane())
    [cand] = await store.find_mpi_candidates(blocking_keys(query_demographics(jane().demographics)))
    from imx.matching.mpi_form import decode_match_form

    prepared = decode_match_form(cand.match_form)
    assert (prepared.first, prepared.family, prepared.zip5) == ("JANE", "DOE", "62704")
    assert prepared.phones == {"2175550101"} and prepared.street == "12 N MAIN ST"
    assert await store.find_mpi_candidates([]) == []
    assert await store.find_mpi_candidates(["dob:1900-01-01"]) == []


async def test_update_replaces_the_old_keys(store) -> None:
    await store.upsert_mpi_patient(jane())
    moved = jane(telecoms=("tel:+1-312-555-0199",),
                 addresses=(Address(street_lines=("1 Lake St",), city="Chicago", state="IL",
                                    postal_code="60601"),))
    await store.upsert_mpi_patient(moved)
    assert await found(store, PatientDemographics(telecoms=("tel:217-555-0101",))) == set()
    assert await found(store, PatientDemographics(telecoms=("tel:312-555-0199",))) == {JANE}
    assert (await store.get_mpi_patient(JANE)).demographics.addresses[0].city == "Chicago"


async def test_ingest_creates_entry_but_never_overwrites_the_feed(store) -> None:
    await store.store_instance(stored(patient="P9", name="Roe^Rita", sex="F"))
    entry = await store.get_mpi_patient(PatientId(id="P9", assigning_authority=AA))
    assert entry is not None and entry.source is MpiSource.DICOM
    assert entry.demographics.names[0] == PersonName(family="Roe", given=("Rita",))
    # The ADT feed's richer record wins over later DICOM headers of the same patient.
    await store.upsert_mpi_patient(jane())
    await store.store_instance(stored(patient="P1", name="Doe^J", sex="F", study=2))
    assert await store.get_mpi_patient(JANE) == jane()
    batch = [jane(), dataclasses.replace(jane(), patient_id=THEIRS, source=MpiSource.IMPORT)]
    assert await store.upsert_mpi_patients(batch) == 2


async def test_merge_retires_the_entry_and_moves_correlations(store) -> None:
    retired = PatientId(id="OLD", assigning_authority=AA)
    await store.upsert_mpi_patient(jane())
    await store.upsert_mpi_patient(dataclasses.replace(jane(), patient_id=retired))
    await store.add_correlation(PatientCorrelation(
        local_patient_id=retired, remote_patient_id=THEIRS, home_community_id="9.8.7"))
    await store.merge_mpi_patient(surviving=JANE, retired=retired)
    assert await store.get_mpi_patient(retired) is None
    assert await found(store, jane().demographics) == {JANE}
    assert await store.resolve_correlation(THEIRS) == JANE


async def test_correlations_are_idempotent_and_resolve_both_ways(store) -> None:
    c = PatientCorrelation(local_patient_id=JANE, remote_patient_id=THEIRS,
                           home_community_id="9.8.7")
    assert await store.add_correlation(c) is True
    assert await store.add_correlation(c) is False
    assert await store.resolve_correlation(THEIRS) == JANE
    assert await store.resolve_correlation(PatientId(id="X-77", assigning_authority="1.1")) is None
    assert await store.list_correlations(JANE) == [c]
    # A later match of the same remote identifier to another patient replaces the first.
    other = PatientId(id="P2", assigning_authority=AA)
    assert await store.add_correlation(dataclasses.replace(c, local_patient_id=other)) is True
    assert await store.resolve_correlation(THEIRS) == other
    assert await store.list_correlations(JANE) == []


async def test_candidate_lookup_uses_indexes_not_scans(store) -> None:
    if not isinstance(store, SqlMetadataStore):
        pytest.skip("query plans exist for SQL stores only")
    await store.upsert_mpi_patient(jane())
    keys = sorted(blocking_keys(query_demographics(jane().demographics)))
    marks = ", ".join([f"'{k}'" for k in keys])
    sql = ("SELECT m.patient_id, m.issuer, m.match_form FROM mpi_patients m WHERE m.pk IN "  # noqa: S608
           f"(SELECT mpi_pk FROM mpi_blocking_keys WHERE key IN ({marks}))")
    async with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            plan = " | ".join(str(r[-1]) for r in await conn.execute(
                sa.text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "SEARCH m USING INTEGER PRIMARY KEY" in plan
            assert "SEARCH mpi_blocking_keys USING PRIMARY KEY" in plan
            assert " SCAN " not in f" {plan} "
        else:
            await conn.execute(sa.text("SET enable_seqscan = off"))
            plan = " | ".join(str(r[0]) for r in await conn.execute(sa.text(f"EXPLAIN {sql}")))
            assert "Seq Scan" not in plan and "Index" in plan


async def test_batch_upsert_replaces_keys_and_counts_each_entry(store) -> None:
    people = [dataclasses.replace(jane(), patient_id=PatientId(id=f"B{i}", assigning_authority=AA),
                                  source=MpiSource.IMPORT) for i in range(3)]
    assert await store.upsert_mpi_patients(people) == 3
    moved = [dataclasses.replace(p, demographics=dataclasses.replace(
        p.demographics, telecoms=("tel:+1-312-555-0199",))) for p in people]
    assert await store.upsert_mpi_patients(moved) == 3
    assert await store.count_mpi_patients() == 3
    assert await found(store, PatientDemographics(telecoms=("tel:217-555-0101",))) == set()
    assert len(await found(store, PatientDemographics(telecoms=("tel:312-555-0199",)))) == 3
    assert await store.get_mpi_patient(people[1].patient_id) == moved[1]


async def test_candidates_can_require_two_kinds_of_key_or_a_strong_one(store) -> None:
    """A record sharing only the birth date is not a candidate under the large-index rule;
    sharing the birth date and the family-name sound, or only the phone, is."""
    await store.upsert_mpi_patient(jane())

    async def hits(demo: PatientDemographics) -> int:
        keys = blocking_keys(query_demographics(demo))
        return len(await store.find_mpi_candidates(keys, min_kinds=2,
                                                   strong_kinds=("tel", "id:")))

    same_day_stranger = PatientDemographics(names=(PersonName(given=("Omar",), family="Kent"),),
                                            birth_date=dt.date(1980, 2, 15))
    assert await found(store, same_day_stranger) == {JANE}  # one kind is enough by default
    assert await hits(same_day_stranger) == 0
    assert await hits(PatientDemographics(names=(PersonName(given=("Omar",), family="Dough"),),
                                          birth_date=dt.date(1980, 2, 15))) == 1
    assert await hits(PatientDemographics(telecoms=("tel:217-555-0101",))) == 1


def test_migration_0002_indexes_patients_ingested_before_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from imx.storage import schema
    from imx.storage.migrations import m0001_initial, m0002_mpi

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as conn:
        m0001_initial.upgrade(conn)
        conn.execute(schema.patients.insert().values(
            patient_id="OLD1", issuer=AA, patient_name="Roe^Rita", patient_name_norm="ROE RITA",
            birth_date=dt.date(1975, 7, 4), sex="F", other_ids="[]"))
        m0002_mpi.upgrade(conn)
        row = conn.execute(sa.select(schema.mpi_patients.c.family_name,
                                     schema.mpi_patients.c.source)).one()
        keys = {r[0] for r in conn.execute(sa.select(schema.mpi_blocking_keys.c.key))}
    engine.dispose()
    assert tuple(row) == ("Roe", "dicom")
    assert "dob:1975-07-04" in keys and f"id:{AA}:OLD1" in keys
