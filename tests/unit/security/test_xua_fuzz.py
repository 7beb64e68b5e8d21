"""Random damage to a signed security header: refused with a WSS fault or unchanged meaning.

Any byte of the header may be flipped, deleted or duplicated. The only acceptable outcomes are
a ``MalformedMessageError`` from the hardened parser, a ``SecurityHeaderError`` (a wsse fault),
or, when the change does not touch signed meaning (e.g. whitespace between elements), the same
verified attributes as the original. Never another exception, never different attributes.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imx.errors import MalformedMessageError
from imx.security.xua import (
    SecurityHeaderError,
    TrustConfig,
    VerifiedAssertion,
    parse_security_header,
    verify_assertion,
)
from imx.wire.xml import parse_xml
from tests.support.xua_pki import NOW, OUR_HCID, envelope, pki, security_header

SKEW = dt.timedelta(minutes=5)


@lru_cache(maxsize=1)
def original() -> bytes:
    return envelope(security_header())


def meaning(v: VerifiedAssertion) -> tuple[object, ...]:
    return (v.assertion_id, v.issuer, v.subject_id, v.organization, v.organization_id,
            v.home_community_id, v.purpose_of_use, v.role.code, v.npi, v.not_on_or_after,
            v.audiences, v.signer_certificate_sha256)


def check(data: bytes) -> VerifiedAssertion | None:
    trust = TrustConfig(trust_anchors=(pki().ca.cert,), audiences=frozenset({OUR_HCID}))
    try:
        env = parse_xml(data)
        header = parse_security_header(list(env[0]) if len(env) else [], now=NOW,
                                       clock_skew=SKEW)
        return verify_assertion(header.element, trust=trust, now=NOW)
    except (MalformedMessageError, SecurityHeaderError):
        return None


def test_the_undamaged_header_verifies() -> None:
    assert check(original()) is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damage_is_refused_or_harmless(data: st.DataObject) -> None:
    raw = original()
    start = raw.index(b"<wsse:Security")
    end = raw.index(b"</wsse:Security>")
    at = data.draw(st.integers(min_value=start, max_value=end))
    kind = data.draw(st.sampled_from(["flip", "delete", "duplicate"]))
    if kind == "flip":
        bit = data.draw(st.integers(min_value=0, max_value=7))
        damaged = raw[:at] + bytes([raw[at] ^ (1 << bit)]) + raw[at + 1:]
    elif kind == "delete":
        damaged = raw[:at] + raw[at + 1:]
    else:
        damaged = raw[:at] + raw[at:at + 1] + raw[at:]
    result = check(damaged)
    if result is not None:
        reference = check(raw)
        assert reference is not None and meaning(result) == meaning(reference)
