"""The initiator's headers: one signed assertion reused per community and requester within its
window, a fresh signed Timestamp per message; every header verifies at a responder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from imx.model.community import Community, CommunityEndpoint
from imx.model.network import Requester, current_requester
from imx.security import pki
from imx.security.xua.outbound import xua_header_factory
from imx.security.xua.verify import TrustConfig, verify_assertion
from imx.transactions.iti55_xcpd import TRANSACTION as ITI55
from imx.wire.soap import build_envelope

SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"
TS = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Timestamp"
WSU_ID = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Id"
B = Community(home_community_id="urn:oid:1.2.3.2", name="B", endpoints=(
    CommunityEndpoint(transaction="ITI-55", address="https://b.example/xcpd"),))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("xua-out")
    now = dt.datetime.now(dt.UTC)
    ca = pki.init_ca_dir(root / "ca", common_name="t", organization="t", now=now, key_type="rsa2048")
    issued = pki.issue_node_to_dir(ca, root / "a", common_name="a", organization="A",
                                   home_community_id="urn:oid:1.2.3.1", now=now, key_type="rsa2048")
    return issued.cert_file, issued.key_file, root / "ca" / pki.CA_CERT


def _verify(header: etree._Element, bundle: Path) -> str:
    env = build_envelope(etree.Element("{urn:x}Body"), [header])
    security = env[0][0]
    trust = TrustConfig(trust_anchors=tuple(pki.load_certificates(bundle)),
                        audiences=frozenset({"urn:oid:1.2.3.2"}))
    return verify_assertion(security, trust=trust, now=dt.datetime.now(dt.UTC)).subject_id


def test_assertion_reused_timestamp_fresh_and_both_verify(node: tuple[Path, Path, Path]) -> None:
    cert, key, bundle = node
    build = xua_header_factory(cert_file=cert, key_file=key, organization="A",
                               organization_id="urn:oid:1.2.3.1", home_community_id="urn:oid:1.2.3.1")
    token = current_requester.set(Requester(subject_id="Dr. One"))
    try:
        first, second = build(B, ITI55), build(B, ITI55)
        assert first.find(SAML).get("ID") == second.find(SAML).get("ID")
        assert first.find(TS).get(WSU_ID) != second.find(TS).get(WSU_ID)
        assert _verify(first, bundle) == _verify(second, bundle) == "Dr. One"
        current_requester.set(Requester(subject_id="Dr. Two"))
        other = build(B, ITI55)
        assert other.find(SAML).get("ID") != first.find(SAML).get("ID")
        assert _verify(other, bundle) == "Dr. Two"
    finally:
        current_requester.reset(token)


def test_reuse_window_zero_signs_every_time(node: tuple[Path, Path, Path]) -> None:
    cert, key, _ = node
    build = xua_header_factory(cert_file=cert, key_file=key, organization="A",
                               organization_id="urn:oid:1.2.3.1", home_community_id="urn:oid:1.2.3.1",
                               reuse_for=dt.timedelta(0))
    assert build(B, ITI55).find(SAML).get("ID") != build(B, ITI55).find(SAML).get("ID")
