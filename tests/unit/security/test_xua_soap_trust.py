"""The SOAP edge's trust gate (imx.http.soap_trust): settings in, decisions out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from imx.http.soap_trust import SoapTrust, default_audiences
from imx.security.xua import SecurityHeaderError, WsSecurityFault
from imx.security.xua.attributes import PurposeOfUse
from imx.security.xua.errors import RateLimitedError
from imx.settings import load_settings
from imx.wire.xml import parse_xml
from tests.support.xua_pki import NOW, envelope, pki, security_header


class FixedClock:
    def now(self) -> dt.datetime:
        return NOW


def gate(tmp_path: Path, peer: object = None, **trust: object) -> SoapTrust:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pki().ca.cert_pem)
    settings = load_settings(None, trust={"require_assertion": True, "trust_bundle": bundle,
                                          **trust})
    return SoapTrust(settings, FixedClock(), paths=("/xcpd",), peer_lookup=lambda scope: peer)


def headers(**overrides: object) -> list:  # type: ignore[type-arg]
    return list(parse_xml(envelope(security_header(**overrides)))[0])


async def test_not_required_means_no_requester(tmp_path: Path) -> None:
    trust = SoapTrust(load_settings(None), FixedClock(), paths=("/xcpd",))
    assert await trust.authenticate([]) is None
    trust.authorize({}, None)


async def test_default_audiences_cover_the_community_and_endpoints() -> None:
    audiences = default_audiences(load_settings(None), ["/xcpd"])
    assert {"urn:oid:1.3.6.1.4.1.21367.2026.1.1", "http://127.0.0.1:8042/xcpd"} <= audiences


async def test_tls_peer_of_another_organisation_is_refused(tmp_path: Path) -> None:
    other = SimpleNamespace(home_community_id="urn:oid:7.7.7", fingerprint_sha256="00")
    trust = gate(tmp_path, peer=other, check_tls_org_matches_assertion=True)
    verified = await trust.authenticate(headers())
    with pytest.raises(SecurityHeaderError) as info:
        trust.authorize({}, verified)
    assert info.value.fault is WsSecurityFault.FAILED_AUTHENTICATION


async def test_tls_peer_with_the_signing_certificate_is_accepted(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes

    same = SimpleNamespace(home_community_id="",
                           fingerprint_sha256=pki().signer.cert.fingerprint(hashes.SHA256()).hex())
    trust = gate(tmp_path, peer=same, check_tls_org_matches_assertion=True)
    trust.authorize({}, await trust.authenticate(headers()))


async def test_plain_http_with_tls_check_on_is_refused(tmp_path: Path) -> None:
    trust = gate(tmp_path, peer=None, check_tls_org_matches_assertion=True)
    with pytest.raises(SecurityHeaderError, match="TLS client certificate"):
        trust.authorize({}, await trust.authenticate(headers()))


async def test_purpose_and_rate_limit(tmp_path: Path) -> None:
    trust = gate(tmp_path, allowed_purposes_of_use=["PAYMENT"], rate_limit_per_minute=2)
    payment = await trust.authenticate(headers(purpose_of_use=PurposeOfUse.PAYMENT))
    trust.authorize({}, payment)
    trust.authorize({}, payment)
    with pytest.raises(RateLimitedError) as info:
        trust.authorize({}, payment)
    assert info.value.retry_after_s == pytest.approx(30.0)
    research = await trust.authenticate(headers(purpose_of_use=PurposeOfUse.RESEARCH))
    with pytest.raises(SecurityHeaderError, match="purpose of use"):
        trust.authorize({}, research)


def test_require_assertion_without_trust_bundle_refuses_to_start() -> None:
    settings = load_settings(None, trust={"require_assertion": True})
    assert any("trust.trust_bundle" in p for p in settings.problems())


# --- SPEC-NOTES §5.5 step 6: the asserted community must be an active directory entry -------

class Directory:
    """A directory of communities (what imx.peers.static_directory answers), counting reads."""

    def __init__(self, *communities: object) -> None:
        self.by_id = {c.home_community_id: c for c in communities}  # type: ignore[attr-defined]
        self.reads = 0

    async def get(self, home_community_id: str) -> object:
        self.reads += 1
        return self.by_id.get(home_community_id)

    async def find_communities(self, **_: object) -> list[object]:
        return list(self.by_id.values())


def gate_with(tmp_path: Path, directory: Directory, **trust: object) -> SoapTrust:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pki().ca.cert_pem)
    settings = load_settings(None, trust={"require_assertion": True, "trust_bundle": bundle,
                                          "verifier_process": False, **trust})
    return SoapTrust(settings, FixedClock(), paths=("/xcpd",), directory=directory)  # type: ignore[arg-type]


LAKESIDE = "urn:oid:1.2.840.114350.1.13.999.2.7"  # the home community tests.support.xua_pki asserts


async def test_an_active_known_community_is_served_and_remembered(tmp_path: Path) -> None:
    from imx.model.community import Community

    directory = Directory(Community(home_community_id=LAKESIDE, name="Lakeside"))
    trust = gate_with(tmp_path, directory, require_known_community=True)
    for _ in range(3):
        verified = await trust.authenticate(headers())
        assert verified is not None and verified.home_community_id == LAKESIDE
    assert directory.reads == 1  # kept for a minute


@pytest.mark.parametrize("listed", ["absent", "inactive"])
async def test_an_unknown_or_inactive_community_is_refused(tmp_path: Path, listed: str) -> None:
    from imx.model.community import Community

    directory = (Directory() if listed == "absent" else
                 Directory(Community(home_community_id=LAKESIDE, name="Lakeside", active=False)))
    trust = gate_with(tmp_path, directory, require_known_community=True)
    with pytest.raises(SecurityHeaderError) as info:
        await trust.authenticate(headers())
    assert info.value.fault is WsSecurityFault.FAILED_AUTHENTICATION
    assert "LAKESIDE" not in info.value.detail.upper()  # the detail names the check only


async def test_the_directory_is_not_asked_unless_configured(tmp_path: Path) -> None:
    directory = Directory()
    trust = gate_with(tmp_path, directory)
    assert await trust.authenticate(headers()) is not None
    assert directory.reads == 0
