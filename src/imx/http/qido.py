"""QIDO-RS search routes (PS3.18 10.6): studies, series, instances at every path level."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imx.dicom.dicomweb_json import instance_json, merge_include, series_json, study_json
from imx.dicom.dicomweb_query import QidoRequest, parse_qido
from imx.http.dicomweb_common import DICOM_JSON, base_url, path_uid
from imx.model.query import QueryLevel
from imx.services.context import NodeServices

__all__ = ["search_instances", "search_series", "search_studies"]


def _fixed(request: Request) -> dict[str, object]:
    fixed: dict[str, object] = {}
    if "study" in request.path_params:
        fixed["study_instance_uids"] = (path_uid(request, "study"),)
    if "series" in request.path_params:
        fixed["series_instance_uids"] = (path_uid(request, "series"),)
    return fixed


def _parse(request: Request, services: NodeServices, level: QueryLevel) -> QidoRequest:
    return parse_qido(list(request.query_params.multi_items()), level=level, fixed=_fixed(request),
                      max_limit=services.settings.dicomweb.max_qido_results)


def _answer(results: list[dict[str, Any]], q: QidoRequest) -> Response:
    headers = {}
    if q.query.limit is not None and len(results) >= q.query.limit:
        # PS3.18 8.3.4.4: tell the client the answer may be truncated.
        headers["Warning"] = '299 imx "There are additional results that can be requested"'
    return JSONResponse(results, media_type=DICOM_JSON, headers=headers)


async def _first_instance_json(services: NodeServices, study: str,
                               series: str | None) -> bytes | None:
    insts = await services.metadata.list_instances(study, series)
    return await services.ingest.instance_json(insts[0]) if insts else None


async def search_studies(request: Request, services: NodeServices) -> Response:
    q = _parse(request, services, QueryLevel.STUDY)
    root = base_url(request, services)
    studies = await services.metadata.find_studies(q.query)
    patients = await asyncio.gather(*(services.metadata.get_patient(s.patient_id) for s in studies))
    out = []
    for st, patient in zip(studies, patients, strict=True):
        item = study_json(st, patient, f"{root}/studies/{st.study_instance_uid}")
        if q.include_fields or q.include_all:
            merge_include(item, await _first_instance_json(services, st.study_instance_uid, None),
                          q.include_fields, include_all=q.include_all)
        out.append(item)
    return _answer(out, q)


async def search_series(request: Request, services: NodeServices) -> Response:
    q = _parse(request, services, QueryLevel.SERIES)
    root = base_url(request, services)
    out = []
    for se in await services.metadata.find_series(q.query):
        url = f"{root}/studies/{se.study_instance_uid}/series/{se.series_instance_uid}"
        item = series_json(se, url)
        if q.include_fields or q.include_all:
            merge_include(item, await _first_instance_json(services, se.study_instance_uid,
                                                           se.series_instance_uid),
                          q.include_fields, include_all=q.include_all)
        out.append(item)
    return _answer(out, q)


async def search_instances(request: Request, services: NodeServices) -> Response:
    q = _parse(request, services, QueryLevel.IMAGE)
    root = base_url(request, services)
    out = []
    for inst in await services.metadata.find_instances(q.query):
        url = (f"{root}/studies/{inst.study_instance_uid}/series/{inst.series_instance_uid}"
               f"/instances/{inst.sop_instance_uid}")
        item = instance_json(inst, url)
        if q.include_fields or q.include_all:
            merge_include(item, await services.ingest.instance_json(inst),
                          q.include_fields, include_all=q.include_all)
        out.append(item)
    return _answer(out, q)
