"""The exception tree of the gateway (CONVENTIONS §4).

A leaf module: imports nothing from imx. Classes say what went wrong in the
domain; each edge (http/errors.py, dimse/status.py) maps them to wire codes.
``detail`` must never carry PHI: it may be logged and sent to peers.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousPatientError",
    "DuplicateInstanceError",
    "GatewayError",
    "InvalidRequestError",
    "MalformedMessageError",
    "MissingParameterError",
    "NotAuthorizedError",
    "NotFoundError",
    "ParameterNumberError",
    "PeerUnavailableError",
    "RejectedInstanceError",
    "ResultNotSinglePatientError",
    "StoreError",
    "TooManyResultsError",
    "UnknownCommunityError",
    "UnknownPatientError",
    "UnsupportedError",
]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose. Never raised directly."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequestError(GatewayError):
    """The sender's fault."""


class MalformedMessageError(InvalidRequestError):
    """Unparsable XML, PDU, JSON or DICOM; schema violation."""


class MissingParameterError(InvalidRequestError):
    """A required parameter is absent."""


class ParameterNumberError(InvalidRequestError):
    """A parameter given more times than allowed, or two mutually exclusive ones together."""


class ResultNotSinglePatientError(InvalidRequestError):
    """A request by object identifiers would answer about more than one patient."""


class UnsupportedError(InvalidRequestError):
    """Unknown action, stored query, SOP class or transfer syntax."""


class RejectedInstanceError(InvalidRequestError):
    """A DICOM instance we will not store (bad UIDs, truncated, not DICOM, too big).

    ``reason`` is a short machine-readable code (e.g. ``not-dicom``, ``missing-uid``).
    """

    def __init__(self, detail: str = "", *, reason: str = "invalid") -> None:
        super().__init__(detail)
        self.reason = reason


class DuplicateInstanceError(InvalidRequestError):
    """Same SOP Instance UID with different bytes, refused by the dedupe policy."""


class NotAuthorizedError(GatewayError):
    """SAML, X.509 or policy said no."""


class UnknownPatientError(GatewayError):
    """No patient with that identifier."""


class AmbiguousPatientError(GatewayError):
    """Several candidates; we will not guess (a wrong match is a privacy breach)."""


class UnknownCommunityError(GatewayError):
    """A home community ID (or DICOM move destination) we do not know."""


class NotFoundError(GatewayError):
    """Document, study, series or instance not found."""


class TooManyResultsError(GatewayError):
    """The query would return more than we are willing to send."""


class PeerUnavailableError(GatewayError):
    """An upstream peer refused, timed out or returned garbage."""


class StoreError(GatewayError):
    """Our database or blob store failed."""
