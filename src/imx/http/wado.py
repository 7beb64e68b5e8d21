"""WADO-RS retrieve routes (PS3.18 10.4): instances (streamed), metadata, frames, bulk data,
rendered. Whole studies stream one instance at a time straight from the blob store."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from imx.dicom.frames import (
    decode_frames,
    extract_frames,
    frame_media_type,
    is_native,
    read_frames,
)
from imx.dicom.header import BULKDATA_PREFIX
from imx.dicom.render import RenderOptions, parse_window, render_frame
from imx.dicom.transcode import UNCOMPRESSED, transcode_part10
from imx.errors import MalformedMessageError, NotFoundError
from imx.http.dicomweb_common import (
    DICOM_JSON,
    accepts,
    base_url,
    load_header,
    new_boundary,
    path_uid,
    require_instance,
)
from imx.model.imaging import InstanceRecord
from imx.services.context import NodeServices
from imx.wire.multipart import write_multipart

__all__ = ["retrieve_bulkdata", "retrieve_frames", "retrieve_instances", "retrieve_metadata",
           "retrieve_rendered"]


class NotAcceptableError(Exception):
    """406: no acceptable representation (PS3.18 8.7.3)."""


def _wanted_transfer_syntax(request: Request) -> str | None:
    """None = as stored. Raises NotAcceptableError when DICOM is not acceptable at all."""
    for media, params in accepts(request):
        if media in ("*/*", "multipart/*"):
            return None
        if media == "multipart/related" and params.get("type", "application/dicom") in (
                "application/dicom", "*/*"):
            ts = params.get("transfer-syntax", "*")
            return None if ts == "*" else ts
        if media == "application/dicom":
            ts = params.get("transfer-syntax", "*")
            return None if ts == "*" else ts
    raise NotAcceptableError


async def _instances(services: NodeServices, request: Request) -> list[InstanceRecord]:
    study = path_uid(request, "study")
    if "instance" in request.path_params:
        series = path_uid(request, "series")
        return [await require_instance(services, study, series, path_uid(request, "instance"))]
    series_uid = path_uid(request, "series") if "series" in request.path_params else None
    insts = await services.metadata.list_instances(study, series_uid)
    if not insts:
        raise NotFoundError("study or series not found")
    return insts


_SMALL_BYTES = 1 << 20


def _read_if_small(path: Path) -> bytes | None:
    """The whole file if it is at most ``_SMALL_BYTES`` (bigger ones are streamed)."""
    try:
        with path.open("rb") as fh:
            if os.fstat(fh.fileno()).st_size > _SMALL_BYTES:
                return None
            return fh.read()
    except FileNotFoundError as exc:
        raise NotFoundError("blob not found") from exc


def _multipart_type(part_type: str, boundary: str) -> str:
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


async def retrieve_instances(request: Request, services: NodeServices) -> Response:
    try:
        wanted = _wanted_transfer_syntax(request)
    except NotAcceptableError:
        return Response(status_code=406)
    insts = await _instances(services, request)
    if wanted is not None and any(i.transfer_syntax_uid != wanted and not (
            i.transfer_syntax_uid in UNCOMPRESSED and wanted in UNCOMPRESSED) for i in insts):
        return Response("cannot provide the requested transfer syntax", status_code=406)
    boundary = new_boundary()

    async def body(inst: InstanceRecord) -> AsyncIterator[bytes]:
        if wanted is not None and wanted != inst.transfer_syntax_uid:
            data = await services.blobs.read_bytes(inst.blob_key)
            yield await anyio.to_thread.run_sync(transcode_part10, data, wanted)
            return
        path = services.blobs.local_path(inst.blob_key)
        if path is not None:
            # Small files in one worker-thread hop (open+read+close), not four.
            small = await anyio.to_thread.run_sync(_read_if_small, path)
            if small is not None:
                yield small
                return
        # BlobStore.open_chunks is an async generator; the port declares it ``async def``.
        chunks = cast("AsyncIterator[bytes]", services.blobs.open_chunks(inst.blob_key))
        async for chunk in chunks:
            yield chunk

    async def parts() -> AsyncIterator[tuple[dict[str, str], AsyncIterator[bytes]]]:
        for inst in insts:
            ts = wanted or inst.transfer_syntax_uid
            yield {"Content-Type": f"application/dicom; transfer-syntax={ts}"}, body(inst)

    media = f'multipart/related; type="application/dicom"; boundary={boundary}'
    return StreamingResponse(write_multipart(parts(), boundary), media_type=media)


def _absolute_bulk(item: dict[str, Any], instance_url: str) -> dict[str, Any]:
    for value in item.values():
        if isinstance(value, dict):
            uri = value.get("BulkDataURI")
            if isinstance(uri, str) and uri.startswith(BULKDATA_PREFIX):
                value["BulkDataURI"] = f"{instance_url}/{uri}"
            for nested in value.get("Value", []) or []:
                if isinstance(nested, dict) and "vr" not in nested:
                    _absolute_bulk(nested, instance_url)
    return item


_COMPACT_BULK = b'"BulkDataURI":"' + BULKDATA_PREFIX.encode()


def _instance_metadata(raw: bytes, instance_url: str) -> bytes:
    """One instance's stored DICOM JSON with absolute BulkDataURIs (PS3.18 F.2.6).

    The stored JSON is compact (``imx.dicom.header``), so the relative URIs are rewritten
    on the bytes; a quote inside a value is escaped, so the pattern cannot match there.
    Anything else is parsed and rewritten the slow way.
    """
    if b'"BulkDataURI": ' not in raw:
        absolute = b'"BulkDataURI":"' + instance_url.encode() + b"/" + BULKDATA_PREFIX.encode()
        return raw.replace(_COMPACT_BULK, absolute)
    item = _absolute_bulk(json.loads(raw), instance_url)
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()


async def retrieve_metadata(request: Request, services: NodeServices) -> Response:
    """Metadata from the stored DICOM JSON, streamed: no file is opened, nothing re-parsed."""
    insts = await _instances(services, request)
    root = base_url(request, services)

    async def body() -> AsyncIterator[bytes]:
        yield b"["
        for i, inst in enumerate(insts):
            raw = await services.ingest.instance_json(inst)
            url = (f"{root}/studies/{inst.study_instance_uid}/series/{inst.series_instance_uid}"
                   f"/instances/{inst.sop_instance_uid}")
            yield (b"," if i else b"") + _instance_metadata(raw or b"{}", url)
        yield b"]"

    return StreamingResponse(body(), media_type=DICOM_JSON)


def _frame_numbers(raw: str) -> list[int]:
    try:
        numbers = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError as exc:
        raise MalformedMessageError("frame list must be comma-separated numbers") from exc
    if not numbers:
        raise MalformedMessageError("empty frame list")
    return numbers


def _frame_choice(request: Request, transfer_syntax_uid: str) -> tuple[str | None, bool]:
    """(part media type, decompress?) from the Accept list (PS3.18 8.7.3.3.2, 8.7.4).

    ``*/*`` or an untyped multipart gets the frames as stored; an explicit
    ``application/octet-stream`` on a compressed instance gets them decompressed.
    """
    stored = frame_media_type(transfer_syntax_uid)
    for media, params in accepts(request):
        wanted = params.get("type", "*/*") if media == "multipart/related" else media
        if media not in ("*/*", "multipart/*", "multipart/related"):
            continue
        if wanted in ("*/*", stored):
            return stored, False
        if wanted == "application/octet-stream":
            return wanted, not is_native(transfer_syntax_uid)
    return None, False


async def retrieve_frames(request: Request, services: NodeServices) -> Response:
    inst = await require_instance(services, path_uid(request, "study"),
                                  path_uid(request, "series"), path_uid(request, "instance"))
    numbers = _frame_numbers(request.path_params["frames"])
    media_type, decode = _frame_choice(request, inst.transfer_syntax_uid)
    if media_type is None:
        return Response(status_code=406)
    ds, path = await load_header(services, inst)
    if decode:
        frames = await anyio.to_thread.run_sync(lambda: decode_frames(ds, numbers, source=path))
    elif path is not None:
        frames = await anyio.to_thread.run_sync(read_frames, path, ds, numbers)
    else:
        frames = await anyio.to_thread.run_sync(extract_frames, ds, numbers)
    boundary = new_boundary()

    async def one(data: bytes) -> AsyncIterator[bytes]:
        yield data

    async def parts() -> AsyncIterator[tuple[dict[str, str], AsyncIterator[bytes]]]:
        for f in frames:
            ts = "" if media_type == "application/octet-stream" else (
                f"; transfer-syntax={inst.transfer_syntax_uid}")
            yield {"Content-Type": f"{media_type}{ts}"}, one(f)

    return StreamingResponse(write_multipart(parts(), boundary),
                             media_type=_multipart_type(media_type, boundary))


async def retrieve_bulkdata(request: Request, services: NodeServices) -> Response:
    inst = await require_instance(services, path_uid(request, "study"),
                                  path_uid(request, "series"), path_uid(request, "instance"))
    raw_tag = request.path_params["tag"]
    try:
        tag = int(raw_tag, 16)
    except ValueError as exc:
        raise MalformedMessageError("bulk data tag must be 8 hex digits") from exc
    ds, _ = await load_header(services, inst)  # only the requested element is read
    if tag not in ds:
        raise NotFoundError("no such bulk data element")
    value = ds[tag].value
    data = value if isinstance(value, bytes) else bytes(value)
    boundary = new_boundary()

    async def one() -> AsyncIterator[bytes]:
        yield data

    async def parts() -> AsyncIterator[tuple[dict[str, str], AsyncIterator[bytes]]]:
        yield {"Content-Type": "application/octet-stream"}, one()

    return StreamingResponse(write_multipart(parts(), boundary),
                             media_type=_multipart_type("application/octet-stream", boundary))


def _render_options(request: Request) -> RenderOptions:
    # PS3.18 8.7.3.3: the first acceptable of image/jpeg (default for */*, image/*), image/png.
    media = None
    for m, _ in accepts(request):
        if m in ("image/png", "image/jpeg"):
            media = m
            break
        if m in ("*/*", "image/*"):
            media = "image/jpeg"
            break
    if media is None:
        raise NotAcceptableError
    q = request.query_params
    window = parse_window(q["window"]) if "window" in q else None
    viewport = None
    if "viewport" in q:
        try:
            w, h = (int(x) for x in q["viewport"].split(",")[:2])
        except ValueError as exc:
            raise MalformedMessageError("viewport must be width,height") from exc
        viewport = (w, h)
    quality = int(q.get("quality", "90")) if q.get("quality", "90").isdigit() else 90
    return RenderOptions(media_type=media, window=window, quality=min(max(quality, 1), 100),
                         viewport=viewport)


async def retrieve_rendered(request: Request, services: NodeServices) -> Response:
    inst = await require_instance(services, path_uid(request, "study"),
                                  path_uid(request, "series"), path_uid(request, "instance"))
    try:
        options = _render_options(request)
    except NotAcceptableError:
        return Response(status_code=406)
    frame = int(request.path_params.get("frame", 1))
    ds, path = await load_header(services, inst)
    data = await anyio.to_thread.run_sync(lambda: render_frame(ds, frame, options, source=path))
    return Response(data, media_type=options.media_type)
