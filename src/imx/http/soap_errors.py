"""Exception → XDS RegistryError code / SOAP fault for the SOAP edge (CONVENTIONS §4 table)."""

from __future__ import annotations

from imx import errors
from imx.transactions.iti38_xca_query.codes import ErrorCode

__all__ = ["REGISTRY_ERROR", "registry_error_code"]

REGISTRY_ERROR: dict[type[BaseException], str] = {
    errors.MissingParameterError: ErrorCode.STORED_QUERY_MISSING_PARAM,
    errors.ParameterNumberError: ErrorCode.STORED_QUERY_PARAM_NUMBER,
    errors.ResultNotSinglePatientError: ErrorCode.RESULT_NOT_SINGLE_PATIENT,
    errors.UnsupportedError: ErrorCode.UNKNOWN_STORED_QUERY,
    errors.MalformedMessageError: ErrorCode.REGISTRY_METADATA_ERROR,
    errors.InvalidRequestError: ErrorCode.REGISTRY_ERROR,
    errors.NotAuthorizedError: ErrorCode.LOCAL_POLICY_RESTRICTION,
    errors.UnknownPatientError: ErrorCode.UNKNOWN_PATIENT_ID,
    errors.AmbiguousPatientError: ErrorCode.REGISTRY_ERROR,
    errors.UnknownCommunityError: ErrorCode.UNKNOWN_COMMUNITY,
    errors.NotFoundError: ErrorCode.DOCUMENT_UNIQUE_ID_ERROR,
    errors.TooManyResultsError: ErrorCode.TOO_MANY_RESULTS,
    errors.PeerUnavailableError: ErrorCode.UNAVAILABLE_COMMUNITY,
    errors.StoreError: ErrorCode.REGISTRY_ERROR,
    errors.GatewayError: ErrorCode.REGISTRY_ERROR,
}


def registry_error_code(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if cls in REGISTRY_ERROR:
            return REGISTRY_ERROR[cls]
    return ErrorCode.REGISTRY_ERROR
