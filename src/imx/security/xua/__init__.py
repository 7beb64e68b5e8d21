"""IHE XUA: SAML 2.0 assertions in the WS-Security header (SPEC-NOTES §5).

Owns building and signing the assertion on the initiating side, and on the responding side the
only path to a ``VerifiedAssertion`` (signature, trust chain, validity, audience, attributes),
plus the purpose-of-use and rate-limit policy. Holds signxml and cryptography; must not import
the HTTP edge, services or storage.
"""

from __future__ import annotations

from imx.security.xua.assertion import UserContext, build_assertion
from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault
from imx.security.xua.policy import (
    PolicyDecision,
    PurposeOfUsePolicy,
    RateLimiter,
)
from imx.security.xua.sign import SigningQuirks, sign_assertion
from imx.security.xua.verify import TrustConfig, VerifiedAssertion, verify_assertion
from imx.security.xua.wssecurity import (
    build_security_header,
    parse_security_header,
)

__all__ = [
    "PolicyDecision",
    "PurposeOfUsePolicy",
    "RateLimiter",
    "SecurityHeaderError",
    "SigningQuirks",
    "TrustConfig",
    "UserContext",
    "VerifiedAssertion",
    "WsSecurityFault",
    "build_assertion",
    "build_security_header",
    "parse_security_header",
    "sign_assertion",
    "verify_assertion",
]
