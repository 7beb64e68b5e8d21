"""DIMSE status tables: every GatewayError resolves, ingest reasons map (PS3.4 B.2.3, C.4)."""

from __future__ import annotations

import pytest

from imx import errors
from imx.dimse.status import (
    FIND_STATUS,
    RETRIEVE_STATUS,
    STORE_STATUS,
    find_status,
    retrieve_status,
    store_status_for_reason,
)


def _subclasses(cls: type[BaseException]) -> list[type[BaseException]]:
    out: list[type[BaseException]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


ALL_ERRORS = _subclasses(errors.GatewayError)


def _nearest(table: dict[type[BaseException], int], cls: type[BaseException]) -> type:
    return next(c for c in cls.__mro__ if c in table)


def test_error_tree_is_discovered() -> None:
    assert errors.MalformedMessageError in ALL_ERRORS
    assert errors.StoreError in ALL_ERRORS


@pytest.mark.parametrize("table", [FIND_STATUS, RETRIEVE_STATUS], ids=["find", "retrieve"])
@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_gateway_error_has_an_entry_below_the_root(
    table: dict[type[BaseException], int], cls: type[BaseException]
) -> None:
    # A new direct subclass of GatewayError must get its own row, not the catch-all.
    assert _nearest(table, cls) is not errors.GatewayError


@pytest.mark.parametrize(
    ("exc", "find", "retrieve"),
    [
        (errors.MalformedMessageError("x"), 0xA900, 0xA900),
        (errors.MissingParameterError("x"), 0xA900, 0xA900),
        (errors.TooManyResultsError("x"), 0xA700, 0xA701),
        (errors.UnknownCommunityError("x"), 0xC000, 0xA801),
        (errors.PeerUnavailableError("x"), 0xC001, 0xA702),
        (errors.NotFoundError("x"), 0x0000, 0x0000),
        (errors.NotAuthorizedError("x"), 0x0124, 0x0124),
        (RuntimeError("a bug"), 0xC000, 0xC000),
    ],
)
def test_statuses(exc: BaseException, find: int, retrieve: int) -> None:
    assert find_status(exc) == find
    assert retrieve_status(exc) == retrieve


def test_subclass_of_an_invalid_request_is_looked_up_along_the_mro() -> None:
    class LocalError(errors.MissingParameterError):
        pass

    assert find_status(LocalError("x")) == 0xA900


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("not-dicom", 0xC000),
        ("truncated", 0xC000),
        ("unreadable", 0xC000),
        ("missing-uid", 0xA900),
        ("invalid-uid", 0xA900),
        ("too-large", 0xA700),
        ("conflict", 0x0111),
        ("something-new", 0xC000),
    ],
)
def test_store_reasons(reason: str, status: int) -> None:
    assert store_status_for_reason(reason) == status


def test_store_statuses_are_failures() -> None:
    # PS3.4 B.2.3: every rejection is a Failure class status (never Success/Warning).
    for status in STORE_STATUS.values():
        assert status == 0x0111 or 0xA000 <= status <= 0xCFFF
