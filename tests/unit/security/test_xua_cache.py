"""The XUA verification cache can save work, never change a verdict.

A byte-identical assertion skips the signature work; anything else (a tampered copy, another
Timestamp, another envelope, a later clock, another configuration) is checked as before.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import pytest
from lxml import etree

from imx.security.xua import (
    SecurityHeaderError,
    TrustConfig,
    VerifiedAssertion,
    WsSecurityFault,
    parse_security_header,
    verify_assertion,
)
from imx.security.xua.attributes import NS
from imx.security.xua.cache import BoundedCache
from imx.security.xua.sign import sign_timestamp
from imx.wire.xml import parse_xml
from tests.support.xua_pki import NOW, OUR_HCID, envelope, pki, security_header

SAML = NS["saml2"]
DS = NS["ds"]
WSU = NS["wsu"]
SKEW = dt.timedelta(minutes=5)
F = WsSecurityFault


def _trust(**overrides: object) -> TrustConfig:
    fields: dict[str, object] = {"trust_anchors": (pki().ca.cert,),
                                 "audiences": frozenset({OUR_HCID})}
    fields.update(overrides)
    return TrustConfig(**fields)  # type: ignore[arg-type]


def _verify(header: etree._Element, trust: TrustConfig, *, now: dt.datetime = NOW
            ) -> VerifiedAssertion:
    """Through the parser, as the edge does; the header is serialised into a fresh envelope."""
    env = parse_xml(envelope(copy.deepcopy(header)))
    parsed = parse_security_header(list(env[0]), now=now, clock_skew=SKEW)
    return verify_assertion(parsed.element, trust=trust, now=now)


def _refusal(header: etree._Element, trust: TrustConfig, *, now: dt.datetime = NOW
             ) -> WsSecurityFault:
    with pytest.raises(SecurityHeaderError) as caught:
        _verify(header, trust, now=now)
    return caught.value.fault


def test_a_repeated_assertion_hits_and_means_the_same() -> None:
    trust, header = _trust(), security_header()
    first = _verify(header, trust)
    second = _verify(header, trust)
    assert trust.cache.assertions.hits == 1 and len(trust.cache.assertions) == 1
    assert first == second  # every field but the certificate object and the seal


def test_a_tampered_replay_misses_and_fails() -> None:
    trust, header = _trust(), security_header()
    _verify(header, trust)
    tampered = copy.deepcopy(header)
    value = tampered.find(f".//{{{SAML}}}Attribute[@Name='urn:oasis:names:tc:xspa:1.0:"
                          f"subject:organization']/{{{SAML}}}AttributeValue")
    value.text = "Mallory Health"
    assert _refusal(tampered, trust) == F.FAILED_CHECK
    assert trust.cache.assertions.hits == 0 and len(trust.cache.assertions) == 1


def test_a_replay_with_an_unsigned_change_in_the_signature_misses() -> None:
    trust, header = _trust(), security_header()
    _verify(header, trust)
    tampered = copy.deepcopy(header)
    value = tampered.find(f"{{{SAML}}}Assertion/{{{DS}}}Signature/{{{DS}}}SignatureValue")
    value.text = ("A" if value.text[0] != "A" else "B") + value.text[1:]
    assert _refusal(tampered, trust) == F.FAILED_CHECK
    assert trust.cache.assertions.hits == 0


def test_a_cached_assertion_with_a_timestamp_signed_by_another_key_fails() -> None:
    trust, header = _trust(), security_header()
    _verify(header, trust)
    forged = copy.deepcopy(header)
    forged.remove(forged.find(f"{{{DS}}}Signature"))
    assertion_id = forged.find(f"{{{SAML}}}Assertion").get("ID")
    forged.append(sign_timestamp(forged, key=pki().rogue.key, assertion_id=assertion_id))
    assert _refusal(forged, trust) == F.FAILED_CHECK
    assert trust.cache.assertions.hits == 1  # the assertion was known: the Timestamp was not


def test_a_cached_assertion_with_an_altered_timestamp_fails() -> None:
    trust, header = _trust(), security_header()
    _verify(header, trust)
    altered = copy.deepcopy(header)
    expires = altered.find(f"{{{WSU}}}Timestamp/{{{WSU}}}Expires")
    expires.text = (NOW + dt.timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert _refusal(altered, trust) == F.FAILED_CHECK


def test_a_cached_assertion_wrapped_next_to_a_forgery_is_refused() -> None:
    trust, header = _trust(), security_header()
    _verify(header, trust)
    wrapped = copy.deepcopy(header)
    forged = copy.deepcopy(wrapped.find(f"{{{SAML}}}Assertion"))
    forged.set("ID", "_forged")
    wrapped.insert(0, forged)
    assert _refusal(wrapped, trust) == F.INVALID_SECURITY


def test_expiry_evicts_and_the_window_is_checked_on_every_hit() -> None:
    trust, header = _trust(), security_header(ttl=dt.timedelta(minutes=5))
    _verify(header, trust)
    assert len(trust.cache.assertions) == 1
    # within NotOnOrAfter + skew a hit still re-checks the window (IssueInstant in the future)
    assert _refusal_direct(header, trust, now=NOW - dt.timedelta(minutes=6)) == (
        F.INVALID_SECURITY_TOKEN)
    late = NOW + dt.timedelta(minutes=5) + SKEW
    assert _refusal_direct(header, trust, now=late) == F.INVALID_SECURITY_TOKEN
    assert len(trust.cache.assertions) == 0  # expired entry evicted, nothing re-cached


def _refusal_direct(header: etree._Element, trust: TrustConfig, *, now: dt.datetime
                    ) -> WsSecurityFault:
    """verify_assertion without the Timestamp freshness check in front of it."""
    env = parse_xml(envelope(copy.deepcopy(header)))
    with pytest.raises(SecurityHeaderError) as caught:
        verify_assertion(env[0][0], trust=trust, now=now)
    return caught.value.fault


def test_another_configuration_never_shares_answers() -> None:
    trust, header = _trust(), security_header()
    _verify(header, trust)
    elsewhere = dataclasses.replace(trust, audiences=frozenset({"urn:oid:9.9.9"}))
    assert elsewhere.cache is not trust.cache
    assert _refusal(header, elsewhere) == F.FAILED_AUTHENTICATION
    untrusting = dataclasses.replace(trust, trust_anchors=(pki().rogue_ca.cert,))
    assert _refusal(header, untrusting) == F.FAILED_AUTHENTICATION


def test_the_cache_is_bounded_and_can_be_off() -> None:
    small = _trust(cache_entries=2)
    for _ in range(4):
        _verify(security_header(), small)
    assert len(small.cache.assertions) == 2
    off = _trust(cache_entries=0)
    header = security_header()
    _verify(header, off)
    _verify(header, off)
    assert len(off.cache.assertions) == 0 and off.cache.assertions.hits == 0


def test_a_cached_path_is_rechecked_against_the_clock() -> None:
    trust, header = _trust(), security_header()
    _verify(header, trust)
    assert len(trust.cache.paths) == 1
    after_expiry = pki().signer.cert.not_valid_after_utc + dt.timedelta(seconds=1)
    late = security_header(now=after_expiry)
    assert _refusal(late, trust, now=after_expiry) == F.FAILED_AUTHENTICATION
    assert len(trust.cache.paths) == 0


def test_bounded_cache_drops_expired_entries_first() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("old", 1, expires=NOW + dt.timedelta(seconds=1), now=NOW)
    cache.put("keep", 2, expires=None, now=NOW)
    later = NOW + dt.timedelta(seconds=5)
    cache.put("new", 3, expires=None, now=later)
    assert cache.get("keep", later) == 2 and cache.get("new", later) == 3
    assert cache.get("old", later) is None
    cache.put("gone", 4, expires=NOW, now=later)  # already expired: not stored
    assert cache.get("gone", later) is None
