"""Helpers shared by the QIDO, WADO and STOW routes (URLs, media types, instance loading)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import anyio
import pydicom
from pydicom.dataset import Dataset
from starlette.requests import Request

from imx.errors import MalformedMessageError, NotFoundError
from imx.model.identifiers import is_valid_uid
from imx.model.imaging import InstanceRecord
from imx.services.context import NodeServices
from imx.wire.multipart import content_type_params

__all__ = [
    "accepts", "base_url", "load_dataset", "load_header", "new_boundary", "path_uid",
    "require_instance",
]

# Elements larger than this stay on disk until read (pixel data, other bulk data).
_DEFER_BYTES = 4096

DICOM_JSON = "application/dicom+json"


def base_url(request: Request, services: NodeServices) -> str:
    """The DICOMweb root as the client reached it (RetrieveURL and BulkDataURI bases)."""
    return f"{request.url.scheme}://{request.url.netloc}{services.settings.dicomweb.prefix}"


def path_uid(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not is_valid_uid(value):
        raise MalformedMessageError(f"{name} is not a valid UID")
    return str(value)


def new_boundary() -> str:
    return f"imx-{uuid.uuid4().hex}"


def accepts(request: Request) -> list[tuple[str, dict[str, str]]]:
    """The Accept header as (media type, params) in the client's order ('*/*' if absent)."""
    header = request.headers.get("accept", "") or "*/*"
    out = []
    for item in header.split(","):
        if item.strip():
            out.append(content_type_params(item.strip()))
    return out


async def require_instance(services: NodeServices, study: str, series: str | None,
                           sop: str) -> InstanceRecord:
    inst = await services.metadata.get_instance(sop)
    if (inst is None or inst.study_instance_uid != study
            or (series is not None and inst.series_instance_uid != series)):
        raise NotFoundError("instance not found")
    return inst


async def load_dataset(services: NodeServices, inst: InstanceRecord) -> Dataset:
    """One instance parsed in a worker thread (frames, rendered, bulk data)."""
    data = await services.blobs.read_bytes(inst.blob_key)
    return await anyio.to_thread.run_sync(lambda: pydicom.dcmread(io.BytesIO(data)))


async def load_header(services: NodeServices, inst: InstanceRecord) -> tuple[Dataset, Path | None]:
    """The instance with large values deferred, and its local file when the store has one.

    With a local file, Pixel Data and other bulk data stay on disk: frames are read by
    seeking (``imx.dicom.frames.read_frames``), not by loading the whole object.
    """
    path = services.blobs.local_path(inst.blob_key)
    if path is None:
        return await load_dataset(services, inst), None
    ds = await anyio.to_thread.run_sync(lambda: pydicom.dcmread(path, defer_size=_DEFER_BYTES))
    return ds, path
