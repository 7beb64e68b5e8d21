"""Exceptions and ingest outcomes → DIMSE status codes (PS3.4 B.2.3, C.4.1.1.4, C.4.2.1.5,
C.4.3.1.4; PS3.7 C). One table per service; looked up along the exception's MRO."""

from __future__ import annotations

from imx import errors

__all__ = [
    "FIND_STATUS",
    "RETRIEVE_STATUS",
    "STORE_STATUS",
    "find_status",
    "retrieve_status",
    "store_status_for_reason",
]

SUCCESS = 0x0000
PENDING = 0xFF00
CANCEL = 0xFE00
SUBOPS_WARNING = 0xB000

# C-STORE rejection reasons from the ingest service (docs/dimse.md)
STORE_STATUS: dict[str, int] = {
    "not-dicom": 0xC000,  # Cannot understand
    "truncated": 0xC000,
    "unreadable": 0xC000,
    "missing-uid": 0xA900,  # Data Set does not match SOP Class (required attributes absent)
    "invalid-uid": 0xA900,
    "too-large": 0xA700,  # Out of resources
    "conflict": 0x0111,  # Duplicate SOP Instance (PS3.7 C.5.x) with different content
}

FIND_STATUS: dict[type[BaseException], int] = {
    errors.MalformedMessageError: 0xA900,  # Identifier does not match SOP Class
    errors.MissingParameterError: 0xA900,
    errors.UnsupportedError: 0xA900,
    errors.InvalidRequestError: 0xA900,
    errors.NotAuthorizedError: 0x0124,  # Refused: not authorized
    errors.TooManyResultsError: 0xA700,  # Out of resources
    errors.UnknownPatientError: SUCCESS,  # zero matches
    errors.AmbiguousPatientError: 0xC000,
    errors.UnknownCommunityError: 0xC000,
    errors.NotFoundError: SUCCESS,
    errors.PeerUnavailableError: 0xC001,
    errors.StoreError: 0xA700,
    errors.GatewayError: 0xC000,
}

RETRIEVE_STATUS: dict[type[BaseException], int] = {
    errors.MalformedMessageError: 0xA900,
    errors.MissingParameterError: 0xA900,
    errors.UnsupportedError: 0xA900,
    errors.InvalidRequestError: 0xA900,
    errors.NotAuthorizedError: 0x0124,
    errors.UnknownCommunityError: 0xA801,  # Move destination unknown
    errors.TooManyResultsError: 0xA701,  # Out of resources: unable to calculate matches
    errors.UnknownPatientError: SUCCESS,
    errors.AmbiguousPatientError: 0xC000,
    errors.NotFoundError: SUCCESS,
    errors.PeerUnavailableError: 0xA702,  # Out of resources: unable to perform sub-operations
    errors.StoreError: 0xA701,
    errors.GatewayError: 0xC000,
}


def _lookup(table: dict[type[BaseException], int], exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return 0xC000  # a bug: "unable to process"


def find_status(exc: BaseException) -> int:
    return _lookup(FIND_STATUS, exc)


def retrieve_status(exc: BaseException) -> int:
    return _lookup(RETRIEVE_STATUS, exc)


def store_status_for_reason(reason: str) -> int:
    return STORE_STATUS.get(reason, 0xC000)
