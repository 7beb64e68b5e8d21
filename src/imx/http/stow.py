"""STOW-RS (PS3.18 10.5): a multipart/related body of DICOM instances, read as a stream.

One part at a time is spooled (to disk past 16 MiB) and handed to the ingest service;
the body is never held whole. Each instance gets its own outcome in the response.
"""

from __future__ import annotations

import io
import tempfile
from typing import Any

import pydicom
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imx.http.dicomweb_common import DICOM_JSON, base_url, path_uid
from imx.services.context import NodeServices
from imx.services.ingest import IngestResult, IngestStatus
from imx.wire.multipart import MultipartReader, PartData, PartEnd, PartHeaders, content_type_params

__all__ = ["store_instances"]

_SPOOL_BYTES = 16 * 1024 * 1024
# PS3.18 Table 10.5.3-2 / PS3.4 C.4.2.1.5 failure reasons
_FAILURE_REASON = {
    "not-dicom": 0xC000, "truncated": 0xC000, "unreadable": 0xC000, "missing-uid": 0xA900,
    "invalid-uid": 0xA900, "too-large": 0xA700, "conflict": 0x0111, "study-mismatch": 0xA900,
    "media-type": 0x0122,
}


class _TooLargeError(Exception):
    pass


def _study_of(data: bytes) -> str:
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True,
                             specific_tags=["StudyInstanceUID"])
        return str(ds.get("StudyInstanceUID", ""))
    except Exception:  # noqa: BLE001 - the ingest service reports unreadable files properly
        return ""


async def _parts(request: Request, reader: MultipartReader, limit: int):  # type: ignore[no-untyped-def]
    """Yield (content type, bytes) per part; parts over ``limit`` yield (type, None)."""
    spool: Any = None
    ctype = ""
    size = 0
    total = 0
    max_body = request.app.state.max_body_bytes
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_body:
            raise _TooLargeError
        for event in reader.feed(chunk):
            if isinstance(event, PartHeaders):
                ctype = event.headers.get("content-type", "application/dicom")
                # Closed at PartEnd; a context manager cannot span the events of one part.
                spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
                size = 0
            elif isinstance(event, PartData) and spool is not None:
                size += len(event.data)
                if size <= limit:
                    spool.write(event.data)
            elif isinstance(event, PartEnd) and spool is not None:
                spool.seek(0)
                yield ctype, (spool.read() if size <= limit else None)
                spool.close()
                spool = None
    reader.close()


async def store_instances(request: Request, services: NodeServices) -> Response:
    media, params = content_type_params(request.headers.get("content-type", ""))
    part_type = params.get("type", "application/dicom")
    if media != "multipart/related" or part_type != "application/dicom":
        return Response("STOW-RS takes multipart/related; type=\"application/dicom\"",
                        status_code=415)
    if "boundary" not in params:
        return Response("multipart boundary missing", status_code=400)
    study = path_uid(request, "study") if "study" in request.path_params else None
    root = base_url(request, services)
    stored: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    source = f"stow:{request.client.host if request.client else '?'}"
    limit = services.settings.ingest.max_instance_bytes
    try:
        async for ctype, data in _parts(request, MultipartReader(params["boundary"]), limit):
            result = await _store_one(services, ctype, data, study, source)
            _record(result, root, stored, failed)
    except _TooLargeError:
        return Response("request body too large", status_code=413)
    body: dict[str, Any] = {}
    if study:
        body["00081190"] = {"vr": "UR", "Value": [f"{root}/studies/{study}"]}
    if stored:
        body["00081199"] = {"vr": "SQ", "Value": stored}
    if failed:
        body["00081198"] = {"vr": "SQ", "Value": failed}
    status = 200 if not failed else (202 if stored else 409)
    return JSONResponse(body, status_code=status, media_type=DICOM_JSON)


async def _store_one(services: NodeServices, ctype: str, data: bytes | None, study: str | None,
                     source: str) -> IngestResult:
    media, _ = content_type_params(ctype)
    if media != "application/dicom":
        return IngestResult(status=IngestStatus.REJECTED, reason="media-type")
    if data is None:
        return IngestResult(status=IngestStatus.REJECTED, reason="too-large")
    if study is not None and _study_of(data) not in ("", study):
        # PS3.18 10.5.3: an instance of another study posted to /studies/{study}
        return IngestResult(status=IngestStatus.REJECTED, reason="study-mismatch")
    return await services.ingest.ingest_bytes(data, source=source)


def _record(result: IngestResult, root: str, stored: list[dict[str, Any]],
            failed: list[dict[str, Any]]) -> None:
    item: dict[str, Any] = {}
    if result.sop_class_uid:
        item["00081150"] = {"vr": "UI", "Value": [result.sop_class_uid]}
    if result.sop_instance_uid:
        item["00081155"] = {"vr": "UI", "Value": [result.sop_instance_uid]}
    if result.is_success:
        item["00081190"] = {"vr": "UR", "Value": [f"{root}/studies/{result.study_instance_uid}"]}
        stored.append(item)
    else:
        item["00081197"] = {"vr": "US", "Value": [_FAILURE_REASON.get(result.reason, 0x0110)]}
        failed.append(item)
