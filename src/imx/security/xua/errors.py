"""Refusals of the WS-Security header, each carrying its SOAP fault subcode.

OASIS WSS 1.1 SOAP Message Security §12 (Error Handling), table of fault codes. The edge answers
a SOAP 1.2 ``Sender`` fault with ``wsse:<subcode>``. ``detail`` is sent to the peer: it names the
check that failed and never anything from the message (no patient, no user data).
"""

from __future__ import annotations

from enum import StrEnum

from imx.errors import NotAuthorizedError

__all__ = ["RateLimitedError", "SecurityHeaderError", "WsSecurityFault"]


class WsSecurityFault(StrEnum):
    """WSS 1.1 §12 fault codes (local names in the wsse namespace)."""

    # "An error was discovered processing the <wsse:Security> header"
    INVALID_SECURITY = "InvalidSecurity"
    # "An invalid security token was provided" (unsigned, expired, incomplete assertion)
    INVALID_SECURITY_TOKEN = "InvalidSecurityToken"  # noqa: S105 - a fault code
    # "The security token could not be authenticated or authorized" (untrusted signer,
    # wrong audience, purpose of use not allowed, TLS organisation mismatch)
    FAILED_AUTHENTICATION = "FailedAuthentication"
    # "The signature or decryption was invalid" (digest or signature value mismatch)
    FAILED_CHECK = "FailedCheck"
    # "Referenced security token could not be retrieved" (no assertion in the header)
    SECURITY_TOKEN_UNAVAILABLE = "SecurityTokenUnavailable"  # noqa: S105 - a fault code
    # "An unsupported signature or encryption algorithm was used" (e.g. SHA-1 not allowed)
    UNSUPPORTED_ALGORITHM = "UnsupportedAlgorithm"
    # "The message has expired" (wsu:Timestamp outside its window)
    MESSAGE_EXPIRED = "MessageExpired"


class SecurityHeaderError(NotAuthorizedError):
    """The WS-Security header or its SAML assertion was refused."""

    def __init__(self, detail: str, *, fault: WsSecurityFault) -> None:
        super().__init__(detail)
        self.fault = fault


class RateLimitedError(NotAuthorizedError):
    """The initiating organisation sent more requests than its configured rate."""

    def __init__(self, detail: str, *, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
