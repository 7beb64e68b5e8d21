"""C-FIND identifier parsing and response identifiers (PS3.4 C.2.2.2, C.4.1, C.6)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydicom.dataset import Dataset

from imx.dicom.cfind import PATIENT_ROOT, STUDY_ROOT, build_identifier, parse_identifier
from imx.errors import MalformedMessageError, UnsupportedError
from imx.model.query import DateRange, QueryLevel
from tests.contract.records import stored


def _ds(**keys: object) -> Dataset:
    ds = Dataset()
    for k, v in keys.items():
        setattr(ds, k, v)
    return ds


@pytest.mark.parametrize(
    ("model", "level", "ok"),
    [
        (PATIENT_ROOT, "PATIENT", True),
        (PATIENT_ROOT, "STUDY", True),
        (PATIENT_ROOT, "IMAGE", True),
        (STUDY_ROOT, "STUDY", True),
        (STUDY_ROOT, "SERIES", True),
        (STUDY_ROOT, "PATIENT", False),  # PS3.4 C.6.2: no patient level in Study Root
        (STUDY_ROOT, "", False),
        (PATIENT_ROOT, "FRAME", False),
    ],
)
def test_levels_per_information_model(model: str, level: str, ok: bool) -> None:
    ds = _ds(QueryRetrieveLevel=level)
    if ok:
        assert parse_identifier(ds, model=model).level is QueryLevel(level)
    else:
        with pytest.raises(UnsupportedError):
            parse_identifier(ds, model=model)


def test_matching_keys_wildcards_and_universal() -> None:
    q = parse_identifier(
        _ds(
            QueryRetrieveLevel="STUDY",
            PatientName="DOE*",
            PatientID="*",
            AccessionNumber="",
            StudyDescription="CT?CHEST",
            StudyInstanceUID="",
        ),
        model=STUDY_ROOT,
    )
    assert q.patient_name == "DOE*"
    assert q.study_description == "CT?CHEST"
    # "*" and empty values are universal matching (PS3.4 C.2.2.2.3): no constraint
    assert q.patient_id == "" and q.accession_number == "" and q.study_instance_uids == ()


def test_uid_list_matching() -> None:
    q = parse_identifier(
        _ds(
            QueryRetrieveLevel="SERIES",
            StudyInstanceUID="1.2.3",
            SeriesInstanceUID=["1.2.3.4", "1.2.3.5"],
        ),
        model=STUDY_ROOT,
    )
    assert q.study_instance_uids == ("1.2.3",)
    assert q.series_instance_uids == ("1.2.3.4", "1.2.3.5")  # PS3.4 C.2.2.2.2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20240301", DateRange(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 1))),
        ("20240101-20241231", DateRange(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))),
        ("20240101-", DateRange(start=dt.date(2024, 1, 1))),
        ("-20240101", DateRange(end=dt.date(2024, 1, 1))),
    ],
)
def test_date_range_matching(value: str, expected: DateRange) -> None:
    q = parse_identifier(_ds(QueryRetrieveLevel="STUDY", StudyDate=value), model=STUDY_ROOT)
    assert q.study_date == expected


@pytest.mark.parametrize("bad", ["2024-03", "yesterday", "20241399"])
def test_bad_dates_are_malformed(bad: str) -> None:
    with pytest.raises(MalformedMessageError):
        parse_identifier(_ds(QueryRetrieveLevel="STUDY", StudyDate=bad), model=STUDY_ROOT)


def test_numbers() -> None:
    q = parse_identifier(_ds(QueryRetrieveLevel="IMAGE", InstanceNumber="7"), model=STUDY_ROOT)
    assert q.instance_number == 7


def test_response_has_exactly_the_requested_keys() -> None:
    s = stored()
    request = _ds(
        QueryRetrieveLevel="STUDY",
        PatientName="",
        StudyInstanceUID="",
        StudyDate="",
        NumberOfStudyRelatedInstances="",
        ModalitiesInStudy="",
    )
    out = build_identifier(request, retrieve_ae_title="IMX", patient=s.patient, study=s.study)
    keywords = {e.keyword for e in out}
    assert keywords == {
        "QueryRetrieveLevel",
        "PatientName",
        "StudyInstanceUID",
        "StudyDate",
        "NumberOfStudyRelatedInstances",
        "ModalitiesInStudy",
        "RetrieveAETitle",
    }
    assert out.StudyInstanceUID == s.study.study_instance_uid
    assert out.StudyDate == "20240301"
    assert str(out.PatientName) == "Doe^Jane"
    assert out.RetrieveAETitle == "IMX"
    assert "AccessionNumber" not in out  # not asked for, not returned


def test_non_ascii_values_declare_utf8() -> None:
    s = stored(name="Ó Briain^Zoë")
    request = _ds(QueryRetrieveLevel="PATIENT", PatientName="")
    out = build_identifier(request, retrieve_ae_title="IMX", patient=s.patient)
    assert out.SpecificCharacterSet == "ISO_IR 192"  # PS3.5 6.1.2.5.3
    assert str(out.PatientName) == "Ó Briain^Zoë"


def test_unknown_requested_key_comes_back_empty() -> None:
    s = stored()
    request = _ds(QueryRetrieveLevel="IMAGE", SOPInstanceUID="", ImageComments="")
    out = build_identifier(request, retrieve_ae_title="IMX", inst=s.instance)
    assert out.SOPInstanceUID == s.instance.sop_instance_uid
    assert out.ImageComments == ""
