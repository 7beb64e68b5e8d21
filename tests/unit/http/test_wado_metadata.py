"""WADO-RS /metadata: relative BulkDataURIs of the stored JSON become absolute (PS3.18 F.2.6)."""

from __future__ import annotations

import json

from imx.http.wado import _instance_metadata

URL = "http://h/dicom-web/studies/1/series/2/instances/3"


def test_compact_json_rewritten_on_bytes() -> None:
    stored = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": 'A"BulkDataURI":"bulkdata/x'}]},
        "7FE00010": {"vr": "OW", "BulkDataURI": "bulkdata/7FE00010"},
        "00540016": {"vr": "SQ", "Value": [
            {"00281201": {"vr": "OW", "BulkDataURI": "bulkdata/00540016/0/00281201"}},
        ]},
    }
    raw = json.dumps(stored, separators=(",", ":")).encode()
    out = json.loads(_instance_metadata(raw, URL))
    assert out["7FE00010"]["BulkDataURI"] == f"{URL}/bulkdata/7FE00010"
    nested = out["00540016"]["Value"][0]["00281201"]["BulkDataURI"]
    assert nested == f"{URL}/bulkdata/00540016/0/00281201"
    # a value that merely looks like the pattern is untouched
    assert out["00100010"]["Value"][0]["Alphabetic"] == 'A"BulkDataURI":"bulkdata/x'


def test_spaced_json_takes_the_parsing_path() -> None:
    raw = json.dumps({"7FE00010": {"vr": "OB", "BulkDataURI": "bulkdata/7FE00010"}}).encode()
    out = json.loads(_instance_metadata(raw, URL))
    assert out["7FE00010"]["BulkDataURI"] == f"{URL}/bulkdata/7FE00010"
