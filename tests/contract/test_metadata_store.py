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
    items += [
        stored(
            patient="P2",
            name="Ó Briain^Zoë",
            birth=dt.date(1975, 4, 12),
            study=2,
            modality="MR",
            study_date=dt.date(2023, 12, 24),
            accession="ACC2",
            description="MR BRAIN",
        )
    ]
    items += [
        stored(
            patient="P3",
            name="Smith^John",
            study=3,
            study_date=None,
            accession="A_3%",
            description="XR",
        )
    ]
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


@pytest.mark.parametrize(
    "query, expected",
    [
        (ImagingQuery(level=STUDY), {1, 2, 3}),
        (ImagingQuery(level=STUDY, patient_id="P2"), {2}),
        (ImagingQuery(level=STUDY, patient_id="P*"), {1, 2, 3}),
        (ImagingQuery(level=STUDY, patient_name="doe*"), {1}),  # case-insensitive PN
        (ImagingQuery(level=STUDY, patient_name="O BRIAIN*"), {2}),  # accent-insensitive
        (ImagingQuery(level=STUDY, patient_name="Sm?th^John"), {3}),
        (ImagingQuery(level=STUDY, patient_name="John", fuzzy_matching=True), {3}),
        (ImagingQuery(level=STUDY, study_date=DateRange(start=dt.date(2024, 1, 1))), {1}),
        (ImagingQuery(level=STUDY, study_date=DateRange(end=dt.date(2023, 12, 31))), {2}),
        (
            ImagingQuery(
                level=STUDY,
                study_date=DateRange(start=dt.date(2023, 12, 24), end=dt.date(2023, 12, 24)),
            ),
            {2},
        ),
        (ImagingQuery(level=STUDY, accession_number="A_3%"), {3}),  # literal _ and %: no LIKE leak
        (ImagingQuery(level=STUDY, accession_number="ACC?"), {1, 2}),
        (ImagingQuery(level=STUDY, modalities_in_study=("SR", "XA")), {1}),
        (ImagingQuery(level=STUDY, study_instance_uids=(f"{ROOT}.2", f"{ROOT}.3")), {2, 3}),
        (ImagingQuery(level=STUDY, study_description="*BRAIN"), {2}),
        (
            ImagingQuery(
                level=STUDY,
                patient_birth_date=DateRange(start=dt.date(1975, 4, 12), end=dt.date(1975, 4, 12)),
            ),
            {2},
        ),
        (ImagingQuery(level=STUDY, patient_sex="F", patient_id="P1"), {1}),
        (ImagingQuery(level=STUDY, issuer_of_patient_id="9.9.9"), set()),
    ],
)
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
    inst = await store.find_instances(
        ImagingQuery(
            level=QueryLevel.IMAGE,
            study_instance_uids=(f"{ROOT}.1",),
            series_instance_uids=(f"{ROOT}.1.1",),
            instance_number=2,
        )
    )
    assert [i.sop_instance_uid for i in inst] == [f"{ROOT}.1.1.2"]
    by_class = await store.find_instances(
        ImagingQuery(
            level=QueryLevel.IMAGE, patient_id="P2", sop_class_uids=("1.2.840.10008.5.1.4.1.1.2",)
        )
    )
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
    assert (
        await store.find_documents(patient_id=PatientId(id="nobody", assigning_authority="1.2"))
        == []
    )
    assert await store.find_documents(entry_uuids=[e.entry_uuid]) == [e]
    assert (
        await store.find_documents(study_instance_uid=e.study_instance_uid, kinds=["report"]) == []
    )
    e2 = dataclasses.replace(e, title="replaced title")
    await store.put_document(e2)
    assert (await store.get_document(e.document_unique_id)).title == "replaced title"
    await store.deprecate_document(e.document_unique_id)
    assert (await store.get_document(e.document_unique_id)).status.endswith("Deprecated")


@pytest.mark.parametrize(
    "query, expected",
    [
        (
            ImagingQuery(level=STUDY, accession_number="A_*"),
            {3},
        ),  # '_' is literal, not LIKE's any-char
        (
            ImagingQuery(level=STUDY, accession_number="*%"),
            {3},
        ),  # '%' is literal, not LIKE's any-string
        (
            ImagingQuery(level=STUDY, accession_number="acc*"),
            set(),
        ),  # non-PN wildcard is case-sensitive
        (
            ImagingQuery(level=STUDY, accession_number="acc1"),
            set(),
        ),  # non-PN single value is case-sensitive
        (ImagingQuery(level=STUDY, study_description="ct*"), set()),
        (ImagingQuery(level=STUDY, patient_name="*"), {1, 2, 3}),  # universal match
        (ImagingQuery(level=STUDY, patient_name="DOE^JANE"), {1}),  # single value, case-folded PN
        (ImagingQuery(level=STUDY, patient_name="?oe*"), {1}),
        (ImagingQuery(level=STUDY, modalities_in_study=("MR",), patient_id="P1"), set()),
        (ImagingQuery(level=STUDY, study_instance_uids=(f"{ROOT}.9",)), set()),
    ],
)
async def test_wildcards_are_escaped_and_case_sensitive(
    store, query: ImagingQuery, expected: set[int]
) -> None:
    await _fill(store)
    got = {int(s.study_instance_uid.rsplit(".", 1)[1]) for s in await store.find_studies(query)}
    assert got == expected


async def test_same_bytes_or_no_replace_writes_nothing(store) -> None:
    first = await store.store_instance(stored(content=b"first"))
    assert first.is_new and first.written and first.previous is None
    again = await store.store_instance(stored(content=b"first"))
    assert not again.is_new and not again.written and again.previous.size_bytes == 5
    kept = await store.store_instance(stored(content=b"different"), replace=False)
    assert not kept.is_new and not kept.written
    assert (await store.get_instance(f"{ROOT}.1.1.1")).size_bytes == 5
    assert (await store.get_study(f"{ROOT}.1")).number_of_instances == 1


async def test_batch_reports_each_item(store) -> None:
    outs = await store.store_instances([stored(instance=1), stored(instance=2), stored(instance=1)])
    assert [o.is_new for o in outs] == [True, True, False]
    assert (await store.get_study(f"{ROOT}.1")).number_of_instances == 2


async def test_delete_keeps_counters_and_modalities_current(store) -> None:
    await _fill(store)
    await store.delete_instance(f"{ROOT}.1.2.1")  # the only SR instance
    st = await store.get_study(f"{ROOT}.1")
    assert st.number_of_series == 1 and st.number_of_instances == 3
    assert st.modalities_in_study == ("CT",)
    assert await store.find_studies(ImagingQuery(level=STUDY, modalities_in_study=("SR",))) == []


async def test_set_instance_json(store) -> None:
    await store.store_instance(stored())
    await store.set_instance_json(f"{ROOT}.1.1.1", b'{"new":1}')
    assert await store.get_instance_json(f"{ROOT}.1.1.1") == b'{"new":1}'


async def test_null_numbers_sort_last_everywhere(store) -> None:
    a = stored(series=1, instance=1)
    b = stored(series=2, instance=1)
    c = stored(series=1, instance=2)
    b = dataclasses.replace(b, series=dataclasses.replace(b.series, series_number=None))
    c = dataclasses.replace(c, instance=dataclasses.replace(c.instance, instance_number=None))
    await store.store_instances([b, c, a])
    assert [s.series_number for s in await store.list_series(f"{ROOT}.1")] == [1, None]
    listed = [i.sop_instance_uid for i in await store.list_instances(f"{ROOT}.1")]
    assert listed == [f"{ROOT}.1.1.1", f"{ROOT}.1.1.2", f"{ROOT}.1.2.1"]
    found = await store.find_instances(ImagingQuery(level=QueryLevel.IMAGE))
    assert [i.sop_instance_uid for i in found] == listed


async def test_study_order_puts_missing_dates_last(store) -> None:
    await _fill(store)
    uids = [s.study_instance_uid for s in await store.find_studies(ImagingQuery(level=STUDY))]
    assert uids == [f"{ROOT}.1", f"{ROOT}.2", f"{ROOT}.3"]


async def test_series_and_instance_paging(store) -> None:
    await _fill(store)
    every = await store.find_instances(ImagingQuery(level=QueryLevel.IMAGE))
    assert len(every) == 6
    pages = [
        await store.find_instances(ImagingQuery(level=QueryLevel.IMAGE, limit=2, offset=o))
        for o in (0, 2, 4, 6)
    ]
    assert [i for p in pages for i in p] == every and pages[-1] == []
    series = await store.find_series(ImagingQuery(level=QueryLevel.SERIES))
    assert len(series) == 4
    assert (
        await store.find_series(ImagingQuery(level=QueryLevel.SERIES, offset=1, limit=2))
        == series[1:3]
    )


async def test_documents_filters_and_order(store) -> None:
    e1 = document_entry()
    e2 = dataclasses.replace(
        e1,
        entry_uuid="urn:uuid:00000000-0000-4000-8000-000000000002",
        document_unique_id=f"{ROOT}.77",
        kind="report",
        updated_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
    )
    e1 = dataclasses.replace(e1, updated_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    await store.put_document(e1)
    await store.put_document(e2)
    assert [e.document_unique_id for e in await store.find_documents()] == [
        e1.document_unique_id,
        e2.document_unique_id,
    ]
    assert await store.find_documents(kinds=["report"]) == [e2]
    assert await store.find_documents(patient_id=e1.patient_id, kinds=["manifest", "report"]) == [
        e1,
        e2,
    ]
    assert await store.get_document("1.2.3.404") is None
    await store.deprecate_document("1.2.3.404")  # unknown: no error


async def test_upsert_and_merge_patient(store) -> None:
    from imx.errors import NotFoundError
    from imx.model.imaging import PatientRecord

    keep = PatientId(id="KEEP", assigning_authority="1.2.3.4")
    await store.upsert_patient(PatientRecord(patient_id=keep, patient_name="Doe^Jane",
                                             birth_date=dt.date(1980, 2, 15), sex="F"))
    assert (await store.get_patient(keep)).patient_name == "Doe^Jane"
    await store.store_instance(stored(patient="OLD", issuer="1.2.3.4", study=7))
    moved = await store.merge_patient(surviving=keep, retired=PatientId(id="OLD", assigning_authority="1.2.3.4"))
    assert moved == 1
    assert (await store.get_study(f"{ROOT}.7")).patient_id == keep
    assert await store.get_patient(PatientId(id="OLD", assigning_authority="1.2.3.4")) is None
    assert await store.merge_patient(surviving=keep, retired=PatientId(id="NONE", assigning_authority="1.2")) == 0
    try:
        await store.merge_patient(surviving=PatientId(id="NONE", assigning_authority="1.2"), retired=keep)
    except NotFoundError:
        pass
    else:
        raise AssertionError("merging into an unknown patient must fail")
