"""One contract for every MetadataStore: in-memory, SQLite, PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from imx.model.identifiers import PatientId
from imx.model.query import DateRange, ImagingQuery, QueryLevel
from tests.contract.records import ROOT, stored
from tests.unit.transactions.test_iti38 import entry as document_entry

STUDY = QueryLevel.STUDY


async def _fill(store) -> None:  # type: ignore[no-untyped-def]
    items = [stored(instance=i) for i in (3, 1, 2)]
    items += [stored(series=2, instance=1, modality="SR")]
    items += [stored(patient="P2", name="Ó Briain^Zoë", birth=dt.date(1975, 4, 12), study=2,
                     modality="MR", study_date=dt.date(2023, 12, 24), accession="ACC2",
                     description="MR BRAIN")]
    items += [stored(patient="P3", name="Smith^John", study=3, study_date=None, accession="A_3%",
                     description="XR")]
    await store.store_instances(items)


async def test_counters_and_modalities(store) -> None:
    await _fill(store)
    st = await store.get_study(f"{ROOT}.1")
    assert st.number_of_instances == 4 and st.number_of_series == 2
    assert set(st.modalities_in_study) == {"CT", "SR"}
    series = await store.list_series(f"{ROOT}.1")
    assert [s.number_of_instances for s in series] == [3, 1]


async def test_list_instances_is_ordered_by_series_then_number(store) -> None:
    await _fill(store)
    got = [i.instance_number for i in await store.list_instances(f"{ROOT}.1", f"{ROOT}.1.1")]
    assert got == [1, 2, 3]
    assert len(await store.list_instances(f"{ROOT}.1")) == 4


async def test_replace_reports_previous_and_keeps_counts(store) -> None:
    await store.store_instance(stored(content=b"first"))
    out = await store.store_instance(stored(content=b"second"))
    assert not out.is_new and out.previous is not None and out.previous.size_bytes == 5
    inst = await store.get_instance(f"{ROOT}.1.1.1")
    assert inst.size_bytes == 6
    assert (await store.get_study(f"{ROOT}.1")).number_of_instances == 1


async def test_delete_last_instance_removes_series_and_study(store) -> None:
    await store.store_instance(stored())
    deleted = await store.delete_instance(f"{ROOT}.1.1.1")
    assert deleted is not None
    assert await store.get_study(f"{ROOT}.1") is None
    assert await store.list_series(f"{ROOT}.1") == []
    assert await store.delete_instance(f"{ROOT}.1.1.1") is None


async def test_instance_json_round_trip(store) -> None:
    await store.store_instance(stored())
    assert (await store.get_instance_json(f"{ROOT}.1.1.1")).startswith(b'{"00080018"')
    assert await store.get_instance_json("1.2.3") is None


async def test_patient_upsert_updates_demographics(store) -> None:
    await store.store_instance(stored(name="Doe^Jane"))
    await store.store_instance(stored(instance=2, name="Doe-Smith^Jane"))
    p = await store.get_patient(PatientId(id="P1", assigning_authority="1.2.3.4"))
    assert p.patient_name == "Doe-Smith^Jane" and p.birth_date == dt.date(1980, 2, 15)


@pytest.mark.parametrize("query, expected", [
    (ImagingQuery(level=STUDY), {1, 2, 3}),
    (ImagingQuery(level=STUDY, patient_id="P2"), {2}),
    (ImagingQuery(level=STUDY, patient_id="P*"), {1, 2, 3}),
    (ImagingQuery(level=STUDY, patient_name="doe*"), {1}),  # case-insensitive PN
    (ImagingQuery(level=STUDY, patient_name="O BRIAIN*"), {2}),  # accent-insensitive
    (ImagingQuery(level=STUDY, patient_name="Sm?th^John"), {3}),
    (ImagingQuery(level=STUDY, patient_name="John", fuzzy_matching=True), {3}),
    (ImagingQuery(level=STUDY, study_date=DateRange(start=dt.date(2024, 1, 1))), {1}),
    (ImagingQuery(level=STUDY, study_date=DateRange(end=dt.date(2023, 12, 31))), {2}),
    (ImagingQuery(level=STUDY, study_date=DateRange(start=dt.date(2023, 12, 24), end=dt.date(2023, 12, 24))), {2}),
    (ImagingQuery(level=STUDY, accession_number="A_3%"), {3}),  # literal _ and %: no LIKE leak
    (ImagingQuery(level=STUDY, accession_number="ACC?"), {1, 2}),
    (ImagingQuery(level=STUDY, modalities_in_study=("SR", "XA")), {1}),
    (ImagingQuery(level=STUDY, study_instance_uids=(f"{ROOT}.2", f"{ROOT}.3")), {2, 3}),
    (ImagingQuery(level=STUDY, study_description="*BRAIN"), {2}),
    (ImagingQuery(level=STUDY, patient_birth_date=DateRange(start=dt.date(1975, 4, 12), end=dt.date(1975, 4, 12))), {2}),
    (ImagingQuery(level=STUDY, patient_sex="F", patient_id="P1"), {1}),
    (ImagingQuery(level=STUDY, issuer_of_patient_id="9.9.9"), set()),
])
async def test_study_matching(store, query: ImagingQuery, expected: set[int]) -> None:
    await _fill(store)
    got = {int(s.study_instance_uid.rsplit(".", 1)[1]) for s in await store.find_studies(query)}
    assert got == expected


async def test_study_order_and_paging(store) -> None:
    await _fill(store)
    all_uids = [s.study_instance_uid for s in await store.find_studies(ImagingQuery(level=STUDY))]
    assert all_uids[:2] == [f"{ROOT}.1", f"{ROOT}.2"]  # newest study date first
    page = await store.find_studies(ImagingQuery(level=STUDY, limit=1, offset=1))
    assert [s.study_instance_uid for s in page] == all_uids[1:2]


async def test_series_and_instance_matching(store) -> None:
    await _fill(store)
    series = await store.find_series(ImagingQuery(level=QueryLevel.SERIES, modality="SR"))
    assert [s.series_instance_uid for s in series] == [f"{ROOT}.1.2"]
    inst = await store.find_instances(ImagingQuery(level=QueryLevel.IMAGE, study_instance_uids=(f"{ROOT}.1",),
                                                   series_instance_uids=(f"{ROOT}.1.1",), instance_number=2))
    assert [i.sop_instance_uid for i in inst] == [f"{ROOT}.1.1.2"]
    by_class = await store.find_instances(ImagingQuery(level=QueryLevel.IMAGE, patient_id="P2",
                                                       sop_class_uids=("1.2.840.10008.5.1.4.1.1.2",)))
    assert len(by_class) == 1


async def test_patient_level(store) -> None:
    await _fill(store)
    pts = await store.find_patients(ImagingQuery(level=QueryLevel.PATIENT, patient_name="*"))
    assert [p.patient_id.id for p in pts] == ["P1", "P2", "P3"]


async def test_documents(store) -> None:
    e = document_entry()
    await store.put_document(e)
    assert await store.get_document(e.document_unique_id) == e
    assert await store.find_documents(patient_id=e.patient_id) == [e]
    assert await store.find_documents(patient_id=PatientId(id="nobody", assigning_authority="1.2")) == []
    assert await store.find_documents(entry_uuids=[e.entry_uuid]) == [e]
    assert await store.find_documents(study_instance_uid=e.study_instance_uid, kinds=["report"]) == []
    e2 = dataclasses.replace(e, title="replaced title")
    await store.put_document(e2)
    assert (await store.get_document(e.document_unique_id)).title == "replaced title"
    await store.deprecate_document(e.document_unique_id)
    assert (await store.get_document(e.document_unique_id)).status.endswith("Deprecated")
