"""The REST edge's exception table (CONVENTIONS §4): every GatewayError has a wire answer."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

import imx.wire.soap  # noqa: F401 - defines GatewayError subclasses that must resolve too
from imx import errors
from imx.http.errors import HTTP_STATUS, http_status_for, problem_response


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


SUBCLASSES = _all_subclasses(errors.GatewayError)


def test_subclasses_found() -> None:
    assert errors.NotFoundError in SUBCLASSES
    assert len(SUBCLASSES) >= 14


@pytest.mark.parametrize("cls", SUBCLASSES, ids=lambda c: c.__name__)
def test_every_gateway_error_resolves_below_the_root(cls: type[errors.GatewayError]) -> None:
    # The first class on the MRO found in the table must be more specific than GatewayError,
    # otherwise a new error would silently answer 500.
    first = next(c for c in cls.__mro__ if c in HTTP_STATUS)
    assert first is not errors.GatewayError
    assert 400 <= HTTP_STATUS[first] < 600


@pytest.mark.parametrize(("exc", "status"), [
    (errors.MalformedMessageError("x"), 400),
    (errors.MissingParameterError("x"), 400),
    (errors.NotAuthorizedError("x"), 403),
    (errors.NotFoundError("x"), 404),
    (errors.UnknownCommunityError("x"), 404),
    (errors.AmbiguousPatientError("x"), 409),
    # PS3.18 QIDO-RS: 413 when the query is too broad; narrow it or page.
    (errors.TooManyResultsError("x"), 413),
    (errors.PeerUnavailableError("x"), 502),
    (errors.StoreError("x"), 503),
    (RuntimeError("boom"), 500),
])
def test_statuses(exc: BaseException, status: int) -> None:
    assert http_status_for(exc) == status


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/x", "headers": [],
                    "query_string": b"", "scheme": "http", "server": ("t", 80)})


async def test_problem_body_keeps_detail_of_gateway_errors_only() -> None:
    r = await problem_response(_request(), errors.NotFoundError("instance not found"))
    assert r.status_code == 404
    assert json.loads(bytes(r.body))["detail"] == "instance not found"
    bug = await problem_response(_request(), ValueError("secret PatientName=DOE^JOHN"))
    assert bug.status_code == 500
    assert b"DOE" not in bytes(bug.body)
