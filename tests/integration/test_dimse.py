"""DIMSE edge with pynetdicom as SCU: statuses for every outcome, find, get, move."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from imx.dicom.synth import generate_patients, generate_study
from tests.support.server import NodeThread, running_node

CT = Path(get_testdata_file("CT_small.dcm")).read_bytes()


@pytest.fixture(scope="module")
def dest_port() -> int:
    from tests.peers.dcmtk import free_port

    return free_port()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, dest_port: int):  # type: ignore[no-untyped-def]
    dests = [{"ae_title": "PYDEST", "host": "127.0.0.1", "port": dest_port}]
    with running_node(
        tmp_path_factory.mktemp("dimse"), with_dimse=True, dimse={"destinations": dests}
    ) as n:
        yield n


def assoc(node: NodeThread, *contexts):  # type: ignore[no-untyped-def]
    ae = AE(ae_title="TESTSCU")
    for c in contexts:
        ae.add_requested_context(c)
    a = ae.associate("127.0.0.1", node.dimse_port, ae_title="IMX")
    assert a.is_established
    return a


@pytest.fixture(scope="module")
def study(node: NodeThread) -> list[pydicom.Dataset]:
    datasets = list(
        generate_study(
            generate_patients(21, 1)[0],
            seed=21,
            series_count=2,
            instances_per_series=4,
            rows=32,
            columns=32,
        )
    )
    a = assoc(node, CTImageStorage)
    for ds in datasets:
        assert a.send_c_store(ds).Status == 0x0000
    a.release()
    return datasets


def test_echo(node: NodeThread) -> None:
    a = assoc(node, Verification)
    assert a.send_c_echo().Status == 0x0000
    a.release()


def test_store_statuses(node: NodeThread, study) -> None:
    a = assoc(node, CTImageStorage)
    # same instance again, same bytes: success (no-op)
    assert a.send_c_store(study[0]).Status == 0x0000
    changed = pydicom.dcmread(io.BytesIO(CT))
    changed.SOPInstanceUID = study[0].SOPInstanceUID
    changed.StudyInstanceUID = study[0].StudyInstanceUID
    changed.SeriesInstanceUID = study[0].SeriesInstanceUID
    assert a.send_c_store(changed).Status == 0x0111  # conflict: duplicate SOP instance
    missing = pydicom.dcmread(io.BytesIO(CT))
    missing.SOPInstanceUID = "1.2.3.4.5.6.7.8.9.1"
    del missing.StudyInstanceUID
    assert a.send_c_store(missing).Status == 0xA900
    a.release()
    # the conflicting copy did not replace the stored one
    inst = node.call(node.services.metadata.get_instance(study[0].SOPInstanceUID))  # type: ignore[union-attr]
    assert inst.rows == 32


def _find(node: NodeThread, model, **keys) -> list[pydicom.Dataset]:  # type: ignore[no-untyped-def]
    a = assoc(node, model)
    ident = pydicom.Dataset()
    for k, v in keys.items():
        setattr(ident, k, v)
    out = [d for s, d in a.send_c_find(ident, model) if s.Status == 0xFF00]
    a.release()
    return out


def test_find_levels_and_matching(node: NodeThread, study) -> None:
    st = study[0]
    family = str(st.PatientName).split("^")[0]
    found = _find(
        node,
        StudyRootQueryRetrieveInformationModelFind,
        QueryRetrieveLevel="STUDY",
        PatientName=family[:2] + "*",
        StudyInstanceUID="",
        NumberOfStudyRelatedInstances="",
        StudyDate=f"{st.StudyDate}-",
    )
    mine = [d for d in found if d.StudyInstanceUID == st.StudyInstanceUID]
    assert len(mine) == 1 and int(mine[0].NumberOfStudyRelatedInstances) == 8
    assert "PatientID" not in mine[0]  # only the requested keys come back
    series = _find(
        node,
        StudyRootQueryRetrieveInformationModelFind,
        QueryRetrieveLevel="SERIES",
        StudyInstanceUID=st.StudyInstanceUID,
        SeriesInstanceUID="",
        Modality="CT",
    )
    assert len(series) == 2
    images = _find(
        node,
        StudyRootQueryRetrieveInformationModelFind,
        QueryRetrieveLevel="IMAGE",
        StudyInstanceUID=st.StudyInstanceUID,
        SeriesInstanceUID=st.SeriesInstanceUID,
        SOPInstanceUID="",
        InstanceNumber="2",
    )
    assert [d.SOPInstanceUID for d in images] == [study[1].SOPInstanceUID]
    patients = _find(
        node,
        PatientRootQueryRetrieveInformationModelFind,
        QueryRetrieveLevel="PATIENT",
        PatientID=st.PatientID,
        PatientName="",
    )
    assert [p.PatientName for p in patients] == [st.PatientName]
    assert (
        _find(
            node,
            StudyRootQueryRetrieveInformationModelFind,
            QueryRetrieveLevel="STUDY",
            StudyDate="19000101",
            StudyInstanceUID="",
        )
        == []
    )


def test_find_bad_level_is_refused(node: NodeThread) -> None:
    a = assoc(node, StudyRootQueryRetrieveInformationModelFind)
    ident = pydicom.Dataset()
    ident.QueryRetrieveLevel = "PATIENT"  # not in the study root model
    statuses = [
        s.Status for s, _ in a.send_c_find(ident, StudyRootQueryRetrieveInformationModelFind)
    ]
    a.release()
    assert statuses == [0xA900]


def test_get_returns_every_instance_unchanged(node: NodeThread, study) -> None:
    received: dict[str, bytes] = {}

    def on_store(event):  # type: ignore[no-untyped-def]
        received[event.request.AffectedSOPInstanceUID] = event.request.DataSet.getvalue()
        return 0x0000

    ae = AE(ae_title="GETSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage)
    a = ae.associate(
        "127.0.0.1",
        node.dimse_port,
        ae_title="IMX",
        ext_neg=[build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    ident = pydicom.Dataset()
    ident.QueryRetrieveLevel = "STUDY"
    ident.StudyInstanceUID = study[0].StudyInstanceUID
    final = [s for s, _ in a.send_c_get(ident, StudyRootQueryRetrieveInformationModelGet)][-1]
    a.release()
    assert final.Status == 0x0000 and final.NumberOfCompletedSuboperations == 8
    assert set(received) == {d.SOPInstanceUID for d in study}


def test_move_to_known_and_unknown_destination(node: NodeThread, study, dest_port: int) -> None:
    received: list[str] = []
    dest = AE(ae_title="PYDEST")
    dest.supported_contexts = StoragePresentationContexts

    def on_store(event):  # type: ignore[no-untyped-def]
        received.append(event.request.AffectedSOPInstanceUID)
        return 0x0000

    server = dest.start_server(
        ("127.0.0.1", dest_port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        a = assoc(node, StudyRootQueryRetrieveInformationModelMove)
        ident = pydicom.Dataset()
        ident.QueryRetrieveLevel = "SERIES"
        ident.StudyInstanceUID = study[0].StudyInstanceUID
        ident.SeriesInstanceUID = study[0].SeriesInstanceUID
        final = [
            s for s, _ in a.send_c_move(ident, "PYDEST", StudyRootQueryRetrieveInformationModelMove)
        ][-1]
        assert final.Status == 0x0000 and final.NumberOfCompletedSuboperations == 4
        unknown = [
            s
            for s, _ in a.send_c_move(ident, "NOWHERE", StudyRootQueryRetrieveInformationModelMove)
        ]
        assert unknown[-1].Status == 0xA801
        a.release()
    finally:
        server.shutdown()
    assert sorted(received) == sorted(d.SOPInstanceUID for d in study[:4])


def test_get_without_an_acceptable_transfer_syntax_fails_each_sub_operation(
    node: NodeThread, study
) -> None:
    # The SCU accepts CT only as JPEG Baseline; stored files are uncompressed and are sent
    # unchanged or not at all, so every sub-operation fails: final 0xA702 when all failed
    # (0xB000 when only some did; PS3.4 C.4.3.1.4), with the failed UIDs listed.
    received: list[str] = []

    def on_store(event):  # type: ignore[no-untyped-def]
        received.append(event.request.AffectedSOPInstanceUID)
        return 0x0000

    ae = AE(ae_title="GETSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage, ["1.2.840.10008.1.2.4.50"])
    a = ae.associate(
        "127.0.0.1",
        node.dimse_port,
        ae_title="IMX",
        ext_neg=[build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    ident = pydicom.Dataset()
    ident.QueryRetrieveLevel = "SERIES"
    ident.StudyInstanceUID = study[0].StudyInstanceUID
    ident.SeriesInstanceUID = study[0].SeriesInstanceUID
    final, failed = list(a.send_c_get(ident, StudyRootQueryRetrieveInformationModelGet))[-1]
    a.release()
    assert received == []
    assert final.Status == 0xA702
    assert sorted(failed.FailedSOPInstanceUIDList) == sorted(d.SOPInstanceUID for d in study[:4])
    assert final.NumberOfFailedSuboperations == 4
    assert final.NumberOfCompletedSuboperations == 0
