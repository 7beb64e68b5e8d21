"""Purpose-of-use policy, per-initiator rate limits and the TLS/organisation match."""

from __future__ import annotations

import pytest

from imx.security.xua import PurposeOfUsePolicy, RateLimiter, WsSecurityFault
from imx.security.xua.attributes import PurposeOfUse
from imx.security.xua.policy import tls_peer_matches


def test_treatment_is_always_answered() -> None:
    assert PurposeOfUsePolicy().decide(PurposeOfUse.TREATMENT).allowed
    assert PurposeOfUsePolicy(["PAYMENT"]).decide(PurposeOfUse.TREATMENT).allowed


def test_other_purposes_only_when_configured() -> None:
    policy = PurposeOfUsePolicy(["PAYMENT", "OPERATIONS"])
    assert policy.decide(PurposeOfUse.PAYMENT).allowed
    denied = policy.decide(PurposeOfUse.MARKETING)
    assert not denied.allowed and denied.fault is WsSecurityFault.FAILED_AUTHENTICATION
    assert not PurposeOfUsePolicy().decide(PurposeOfUse.RESEARCH).allowed


def test_unknown_configured_purpose_fails_at_startup() -> None:
    with pytest.raises(ValueError):
        PurposeOfUsePolicy(["TREAT"])


def test_rate_limit_is_per_initiator_and_refills() -> None:
    limiter = RateLimiter(per_minute=3)
    assert all(limiter.take("org-a", 0.0).allowed for _ in range(3))
    over = limiter.take("org-a", 0.5)
    assert not over.allowed and 19 < over.retry_after_s < 20.1  # one token per 20 s
    assert limiter.take("org-b", 0.5).allowed  # another initiator is not affected
    assert limiter.take("org-a", 21.0).allowed  # refilled after 20 s
    assert not limiter.take("org-a", 21.1).allowed


def test_rate_limit_zero_means_unlimited_and_memory_is_bounded() -> None:
    assert all(RateLimiter(per_minute=0).take("x", 0.0).allowed for _ in range(1000))
    limiter = RateLimiter(per_minute=1, max_initiators=10)
    for i in range(100):
        limiter.take(f"org-{i}", 0.0)
    assert len(limiter._buckets) == 10


def test_tls_certificate_must_belong_to_the_asserting_organisation() -> None:
    same_cert = tls_peer_matches(assertion_home_community_id="urn:oid:1.2",
                                 assertion_signer_sha256="ab", peer_home_community_id="",
                                 peer_fingerprint_sha256="ab")
    same_community = tls_peer_matches(assertion_home_community_id="urn:oid:1.2",
                                      assertion_signer_sha256="ab",
                                      peer_home_community_id="urn:oid:1.2",
                                      peer_fingerprint_sha256="cd")
    other = tls_peer_matches(assertion_home_community_id="urn:oid:1.2",
                             assertion_signer_sha256="ab", peer_home_community_id="urn:oid:3.4",
                             peer_fingerprint_sha256="cd")
    assert same_cert.allowed and same_community.allowed
    assert not other.allowed and other.fault is WsSecurityFault.FAILED_AUTHENTICATION
