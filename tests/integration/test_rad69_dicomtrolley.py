"""dicomtrolley's real RAD-69 client retrieves a whole 300-instance study from the node,
bit-identical, despite its quirks (XDS.b-namespace DocumentRequest, hard-coded repository
id, trailing space in wsa:Action, stray text in the Body, plain SOAP request)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from dicomtrolley.core import InstanceReference
from dicomtrolley.rad69 import Rad69

from imx.dicom.synth import generate_patients, generate_study
from tests.peers.dcmtk import dataset_bytes
from tests.support.server import running_node


def part10(ds) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.interop
def test_dicomtrolley_rad69_whole_study_bit_identical(tmp_path: Path) -> None:
    study = [part10(ds) for ds in generate_study(generate_patients(71, 1)[0], seed=71,
                                                  series_count=3, instances_per_series=100,
                                                  rows=32, columns=32)]
    import pydicom

    refs, originals = [], {}
    for data in study:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        refs.append(InstanceReference(study_uid=ds.StudyInstanceUID, series_uid=ds.SeriesInstanceUID,
                                      instance_uid=ds.SOPInstanceUID))
        originals[ds.SOPInstanceUID] = dataset_bytes(data)
    with running_node(tmp_path) as node:
        for data in study:
            node.call(node.services.ingest.ingest_bytes(data, source="test"))  # type: ignore[union-attr]
        client = Rad69(session=requests.Session(), url=f"{node.url}/xdsi/retrieve")
        received = {}
        for ds in client.datasets(refs):
            received[ds.SOPInstanceUID] = dataset_bytes(part10(ds))
    assert len(received) == 300
    assert received == originals


def test_unknown_instance_gets_a_registry_error(tmp_path: Path) -> None:
    with running_node(tmp_path) as node:
        client = Rad69(session=requests.Session(), url=f"{node.url}/xdsi/retrieve")
        ref = InstanceReference(study_uid="1.2.3", series_uid="1.2.3.4", instance_uid="1.2.3.4.5")
        with pytest.raises(Exception) as info:
            list(client.datasets([ref]))
        assert "XDSDocumentUniqueIdError" in str(info.value) or "1.2.3.4.5" in str(info.value)
