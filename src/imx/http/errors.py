"""Exception → HTTP status for the REST edges (DICOMweb; later FHIR and the JSON API).

One table, looked up along the exception's MRO (CONVENTIONS §4; PS3.18 8.6.3 statuses).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imx import errors

__all__ = ["HTTP_STATUS", "http_status_for", "problem_response"]

log = logging.getLogger(__name__)

HTTP_STATUS: dict[type[BaseException], int] = {
    errors.MalformedMessageError: 400,
    errors.MissingParameterError: 400,
    errors.UnsupportedError: 400,
    errors.RejectedInstanceError: 400,
    errors.DuplicateInstanceError: 409,
    errors.InvalidRequestError: 400,
    errors.NotAuthorizedError: 403,
    errors.UnknownPatientError: 404,
    errors.AmbiguousPatientError: 409,
    errors.UnknownCommunityError: 404,
    errors.NotFoundError: 404,
    errors.TooManyResultsError: 413,
    errors.PeerUnavailableError: 502,
    errors.StoreError: 503,
    errors.GatewayError: 500,
}


def http_status_for(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


async def problem_response(request: Request, exc: Exception) -> Response:
    """The single exception handler of the REST edges (the only place catching Exception)."""
    status = http_status_for(exc)
    detail = exc.detail if isinstance(exc, errors.GatewayError) else "internal error"
    if status >= 500:
        log.error("request failed", exc_info=exc, extra={"path": request.url.path})
    # A body shaped like a FHIR OperationOutcome / problem+json, PHI-free by construction.
    return JSONResponse({"status": status, "error": type(exc).__name__, "detail": detail},
                        status_code=status)
