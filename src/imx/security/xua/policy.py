"""Authorization policy on a verified assertion: purpose of use and per-initiator rate limits.

Decisions only, no I/O and no clock (the caller passes monotonic seconds).

- Purpose of use (SPEC-NOTES §5.3): a Carequality responder must answer Treatment queries
  (non-discrimination), so TREATMENT is always allowed; other purposes are local configuration.
- Rate limit: a token bucket per initiating organisation ID (the verified organization-id
  attribute, never an unauthenticated value), ``per_minute`` tokens refilled continuously,
  ``burst`` capacity (defaults to ``per_minute``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from imx.security.xua.attributes import PurposeOfUse
from imx.security.xua.errors import WsSecurityFault

__all__ = ["PolicyDecision", "PurposeOfUsePolicy", "RateLimiter", "tls_peer_matches"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyDecision:
    allowed: bool
    reason: str = ""  # PHI-free, sent to the peer on refusal
    fault: WsSecurityFault | None = None
    retry_after_s: float = 0.0


ALLOW = PolicyDecision(allowed=True)


class PurposeOfUsePolicy:
    """TREATMENT plus the configured purposes."""

    def __init__(self, allowed: Iterable[PurposeOfUse | str] = ()) -> None:
        self.allowed = frozenset({PurposeOfUse.TREATMENT, *(PurposeOfUse(p) for p in allowed)})

    def decide(self, purpose: PurposeOfUse) -> PolicyDecision:
        if purpose in self.allowed:
            return ALLOW
        return PolicyDecision(allowed=False,
                              reason="purpose of use not permitted by this responder",
                              fault=WsSecurityFault.FAILED_AUTHENTICATION)


class RateLimiter:
    """Token buckets keyed by initiator; ``per_minute=0`` disables limiting."""

    def __init__(self, *, per_minute: int, burst: int | None = None,
                 max_initiators: int = 10_000) -> None:
        if per_minute < 0:
            raise ValueError("per_minute must be >= 0")
        self.per_minute = per_minute
        self.capacity = float(burst if burst is not None else per_minute)
        self._rate_per_s = per_minute / 60.0
        self._max = max_initiators
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, initiator: str, now_s: float) -> PolicyDecision:
        """Spend one token for ``initiator`` at monotonic time ``now_s``."""
        if self.per_minute == 0:
            return ALLOW
        tokens, at = self._buckets.pop(initiator, (self.capacity, now_s))
        tokens = min(self.capacity, tokens + max(0.0, now_s - at) * self._rate_per_s)
        if tokens >= 1.0:
            self._remember(initiator, tokens - 1.0, now_s)
            return ALLOW
        self._remember(initiator, tokens, now_s)
        return PolicyDecision(allowed=False, reason="request rate limit exceeded",
                              retry_after_s=(1.0 - tokens) / self._rate_per_s)

    def _remember(self, initiator: str, tokens: float, now_s: float) -> None:
        self._buckets[initiator] = (tokens, now_s)  # most recent last
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)  # forget the initiator seen longest ago


def tls_peer_matches(*, assertion_home_community_id: str, assertion_signer_sha256: str,
                     peer_home_community_id: str, peer_fingerprint_sha256: str) -> PolicyDecision:
    """Does the TLS client certificate belong to the organisation the assertion speaks for?

    SPEC-NOTES §5.4: the initiating gateway signs with the same certificate it presents for
    TLS client authentication, so the same certificate is a match; otherwise the community in
    the certificate's SAN URI must be the assertion's homeCommunityId (§5.5 step 6).
    """
    if peer_fingerprint_sha256 and peer_fingerprint_sha256 == assertion_signer_sha256:
        return ALLOW
    if peer_home_community_id and peer_home_community_id == assertion_home_community_id:
        return ALLOW
    return PolicyDecision(allowed=False,
                          reason="the TLS client certificate does not match the assertion",
                          fault=WsSecurityFault.FAILED_AUTHENTICATION)
