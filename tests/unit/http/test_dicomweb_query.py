"""QIDO-RS query parameters → ImagingQuery (PS3.18 8.3.4)."""

from __future__ import annotations

import datetime as dt

import pytest

from imx.dicom.dicomweb_query import parse_date_range, parse_qido, tag_of
from imx.errors import MalformedMessageError, UnsupportedError
from imx.model.query import DateRange, QueryLevel

STUDY = QueryLevel.STUDY


def test_keyword_and_tag_are_the_same_key() -> None:
    by_kw = parse_qido([("PatientName", "DOE^J*")], level=STUDY).query
    by_tag = parse_qido([("00100010", "DOE^J*")], level=STUDY).query
    assert by_kw.patient_name == by_tag.patient_name == "DOE^J*"  # wildcards passed through


def test_date_ranges() -> None:
    q = parse_qido([("StudyDate", "20200101-20201231")], level=STUDY).query
    assert q.study_date == DateRange(start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))
    assert parse_date_range("20200101-") == DateRange(start=dt.date(2020, 1, 1), end=None)
    assert parse_date_range("-20200101") == DateRange(start=None, end=dt.date(2020, 1, 1))
    assert parse_date_range("20200229") == DateRange(start=dt.date(2020, 2, 29),
                                                     end=dt.date(2020, 2, 29))


@pytest.mark.parametrize("bad", ["2020", "20201301", "2020010a", "20210229-"])
def test_bad_dates_are_malformed(bad: str) -> None:
    with pytest.raises(MalformedMessageError):
        parse_qido([("StudyDate", bad)], level=STUDY)


def test_uid_lists_comma_or_backslash() -> None:
    q = parse_qido([("StudyInstanceUID", "1.2.3,1.2.4"), ("SOPClassUID", "1.2\\1.3")],
                   level=QueryLevel.IMAGE).query
    assert q.study_instance_uids == ("1.2.3", "1.2.4")
    assert q.sop_class_uids == ("1.2", "1.3")
    with pytest.raises(MalformedMessageError):
        parse_qido([("StudyInstanceUID", "1.2.x")], level=STUDY)


def test_includefield_tags_keywords_and_all() -> None:
    q = parse_qido([("includefield", "StudyDescription,00081030"), ("includefield", "all")],
                   level=STUDY)
    assert q.include_fields == (0x00081030, 0x00081030)
    assert q.include_all
    with pytest.raises(MalformedMessageError):
        parse_qido([("includefield", "NoSuchKeyword")], level=STUDY)


def test_limit_offset_fuzzy_and_cap() -> None:
    q = parse_qido([("limit", "5"), ("offset", "10"), ("fuzzymatching", "true")],
                   level=STUDY, max_limit=100).query
    assert (q.limit, q.offset, q.fuzzy_matching) == (5, 10, True)
    assert parse_qido([("limit", "5000")], level=STUDY, max_limit=100).query.limit == 100
    assert parse_qido([], level=STUDY, max_limit=100).query.limit == 100
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(MalformedMessageError):
            parse_qido([("limit", bad)], level=STUDY)


def test_path_constraints_and_numbers() -> None:
    q = parse_qido([("SeriesNumber", "3"), ("Modality", "CT"), ("PatientID", "")],
                   level=QueryLevel.SERIES, fixed={"study_instance_uids": ("1.2.3",)}).query
    assert q.study_instance_uids == ("1.2.3",)
    assert (q.series_number, q.modality, q.patient_id) == (3, "CT", "")
    with pytest.raises(MalformedMessageError):
        parse_qido([("SeriesNumber", "three")], level=QueryLevel.SERIES)


def test_unknown_and_unsupported_keys() -> None:
    with pytest.raises(MalformedMessageError):
        parse_qido([("NotAKeyword", "x")], level=STUDY)
    with pytest.raises(UnsupportedError):  # a real attribute we do not index
        parse_qido([("BodyPartExamined", "CHEST")], level=STUDY)
    # accepted and ignored
    assert parse_qido([("StudyTime", "120000")], level=STUDY).query.study_date is None


def test_tag_of() -> None:
    assert tag_of("PatientID") == 0x00100020
    assert tag_of("0020000d") == 0x0020000D
    with pytest.raises(MalformedMessageError):
        tag_of("Nope")
