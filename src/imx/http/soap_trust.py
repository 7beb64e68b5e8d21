"""XUA enforcement at the SOAP edge (SPEC-NOTES §5.5; docs/trust-xua.md).

With ``settings.trust.require_assertion`` every SOAP request must carry a wsse:Security header
with a fresh Timestamp and a SAML assertion that ``imx.security.xua.verify_assertion`` accepts;
then the purpose-of-use policy, the optional TLS/organisation match and the per-initiator rate
limit decide. The result is a ``VerifiedAssertion`` (or a refusal exception); nothing else
about the requester is trusted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from lxml import etree

from imx.ports import Clock, PeerDirectory
from imx.security.xua import (
    PurposeOfUsePolicy,
    RateLimiter,
    SecurityHeaderError,
    TrustConfig,
    VerifiedAssertion,
    parse_security_header,
    verify_assertion,
)
from imx.security.xua.chain import load_trust_anchors
from imx.security.xua.errors import RateLimitedError, WsSecurityFault
from imx.security.xua.policy import tls_peer_matches
from imx.security.xua.verifier_process import VerifierProcess
from imx.settings import Settings

try:  # the mTLS peer identity (imx.security.tls); the org-match check needs it
    from imx.security.tls import peer_identity_from_scope as _peer_identity
except ImportError:  # pragma: no cover - only while the TLS work is not merged
    _peer_identity = None  # type: ignore[assignment]

__all__ = ["SoapTrust", "default_audiences"]

_KNOWN_TTL_S = 60.0  # a listed, active community
_UNKNOWN_TTL_S = 5.0  # not (yet) listed: the directory sync may bring it any moment

PeerLookup = Callable[[Mapping[str, Any]], Any]


def default_audiences(settings: Settings, paths: Iterable[str]) -> frozenset[str]:
    """Our home community ID, base URL and each SOAP endpoint URL (SPEC-NOTES §1.5)."""
    node = settings.node
    base = node.base_url.rstrip("/")
    return frozenset({node.home_community_id, base, f"{base}/", *(base + p for p in paths)})


class SoapTrust:
    """Decides whether a SOAP request may be served, and on whose behalf."""

    def __init__(self, settings: Settings, clock: Clock, *, paths: Sequence[str],
                 peer_lookup: PeerLookup | None = _peer_identity,
                 directory: PeerDirectory | None = None) -> None:
        trust = settings.trust
        self.required = trust.require_assertion
        # SPEC-NOTES §5.5 step 6, answers kept for a minute (a directory read per request
        # would cost more than the rest of the check); the sync's changes show within it.
        self._communities = (_KnownCommunities(directory)
                             if trust.require_known_community and directory is not None else None)
        if trust.require_known_community and directory is None:
            raise ValueError("trust.require_known_community needs the node's directory")
        self._clock = clock
        self._peer_lookup = peer_lookup
        self._check_tls = trust.check_tls_org_matches_assertion
        self._skew = dt.timedelta(seconds=trust.clock_skew_seconds)
        anchors = load_trust_anchors(trust.trust_bundle.read_bytes()) if trust.trust_bundle else ()
        # Built once per app: its verification cache (security/xua/cache.py) then serves every
        # request, so an initiator's repeated assertion is not verified again from scratch.
        self._config = TrustConfig(
            trust_anchors=anchors,
            audiences=frozenset(trust.audiences) or default_audiences(settings, paths),
            clock_skew=self._skew, accept_sha1=trust.accept_sha1_signatures,
            require_timestamp_signature=trust.require_timestamp_signature)
        self._purposes = PurposeOfUsePolicy(trust.allowed_purposes_of_use)
        self._rate = RateLimiter(per_minute=trust.rate_limit_per_minute)
        # The gate in a child process (verifier_process.py): off this process's GIL.
        self._verifier = (VerifierProcess(self._config)
                          if self.required and trust.verifier_process else None)

    def start(self) -> None:
        """Start the verifier process now (else at the first request); needs a running loop."""
        if self._verifier is not None:
            self._verifier.start()

    async def aclose(self) -> None:
        if self._verifier is not None:
            await self._verifier.aclose()

    async def authenticate(self, headers: Sequence[etree._Element]) -> VerifiedAssertion | None:
        """None when assertions are not required; else the verified requester.

        Raises:
            SecurityHeaderError: the header or its assertion was refused (wsse fault code).
        """
        if not self.required:
            return None
        now = self._clock.now()
        if self._verifier is not None:
            verified = await self._verifier.verify(headers, now)
        else:
            header = parse_security_header(headers, now=now, clock_skew=self._skew)
            # Inline (verifier_process off): a worker thread was tried and lost to the GIL's
            # hand-over, which cost more than the work (docs/trust-xua.md).
            verified = verify_assertion(header.element, trust=self._config, now=now)
        if self._communities is not None and not await self._communities.active(
                verified.home_community_id, time.monotonic()):
            raise SecurityHeaderError(
                "the asserted homeCommunityId is not an active community of the directory",
                fault=WsSecurityFault.FAILED_AUTHENTICATION)
        return verified

    def authorize(self, scope: Mapping[str, Any], verified: VerifiedAssertion | None) -> None:
        """Purpose of use, TLS/organisation match, then the rate limit (no-op when not required).

        Raises:
            SecurityHeaderError: ``FailedAuthentication`` (purpose or TLS organisation refused).
            RateLimitedError: the initiating organisation is over its rate.
        """
        if verified is not None:
            self._authorize(scope, verified, self._clock.now())

    def _authorize(self, scope: Mapping[str, Any], verified: VerifiedAssertion,
                   now: dt.datetime) -> None:
        decision = self._purposes.decide(verified.purpose_of_use)
        if not decision.allowed:
            raise SecurityHeaderError(decision.reason, fault=WsSecurityFault.FAILED_AUTHENTICATION)
        if self._check_tls:
            self._check_tls_peer(scope, verified)
        decision = self._rate.take(verified.organization_id, now.timestamp())
        if not decision.allowed:
            raise RateLimitedError(decision.reason, retry_after_s=decision.retry_after_s)

    def _check_tls_peer(self, scope: Mapping[str, Any], verified: VerifiedAssertion) -> None:
        peer = self._peer_lookup(scope) if self._peer_lookup is not None else None
        if peer is None:
            raise SecurityHeaderError("a TLS client certificate is required",
                                      fault=WsSecurityFault.FAILED_AUTHENTICATION)
        decision = tls_peer_matches(
            assertion_home_community_id=verified.home_community_id,
            assertion_signer_sha256=verified.signer_certificate_sha256,
            peer_home_community_id=getattr(peer, "home_community_id", ""),
            peer_fingerprint_sha256=getattr(peer, "fingerprint_sha256", ""))
        if not decision.allowed:
            raise SecurityHeaderError(decision.reason, fault=WsSecurityFault.FAILED_AUTHENTICATION)


class _KnownCommunities:
    """Which home community IDs the directory lists as active, remembered for a minute."""

    def __init__(self, directory: PeerDirectory) -> None:
        self._directory = directory
        self._seen: dict[str, tuple[bool, float]] = {}

    async def active(self, home_community_id: str, now: float) -> bool:
        known = self._seen.get(home_community_id)
        if known is not None and now - known[1] < (_KNOWN_TTL_S if known[0] else _UNKNOWN_TTL_S):
            return known[0]
        community = await self._directory.get(home_community_id)
        answer = community is not None and community.active
        if len(self._seen) >= 10_000:
            self._seen.clear()
        self._seen[home_community_id] = (answer, now)
        return answer
