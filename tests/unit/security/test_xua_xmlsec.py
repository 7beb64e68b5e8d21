"""Interop with a second XML-DSig implementation: xmlsec1 (libxmlsec1, Debian package).

Our signature verifies with ``xmlsec1 --verify``; an assertion signed by ``xmlsec1 --sign`` with a
trusted key verifies in imx. Skipped when xmlsec1 is not installed (``scripts/system-deps``).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from imx.security.xua import (
    TrustConfig,
    build_assertion,
    parse_security_header,
    verify_assertion,
)
from imx.wire.xml import parse_xml
from tests.support.xua_pki import NOW, OUR_HCID, envelope, pki, security_header, user

XMLSEC = shutil.which("xmlsec1")
pytestmark = pytest.mark.skipif(XMLSEC is None,
                                reason="xmlsec1 not installed (scripts/system-deps)")
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
ID_ATTR = "--id-attr:ID", f"{SAML}:Assertion"


def _xmlsec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([XMLSEC, *args], capture_output=True, text=True, timeout=30,  # type: ignore[list-item]
                          check=False)


def test_our_signature_verifies_with_xmlsec1(tmp_path: Path) -> None:
    assertion = security_header().find(f"{{{SAML}}}Assertion")
    doc = tmp_path / "assertion.xml"
    doc.write_bytes(etree.tostring(assertion))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki().ca.cert_pem)
    ok = _xmlsec("--verify", *ID_ATTR, "--trusted-pem", str(ca), str(doc))
    assert ok.returncode == 0, ok.stderr
    # and xmlsec1 sees a tampered copy as broken, so the check above means something
    doc.write_bytes(etree.tostring(assertion).replace(b"Lakeside Health", b"Lakeside Wealth"))
    assert _xmlsec("--verify", *ID_ATTR, "--trusted-pem", str(ca), str(doc)).returncode != 0


def _template(assertion: etree._Element) -> None:
    """An xmldsig template after Issuer: exc-c14n, rsa-sha256, enveloped + exc-c14n, sha256."""
    e = lambda parent, tag, **a: etree.SubElement(parent, f"{{{DS}}}{tag}", a)  # noqa: E731
    sig = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    info = e(sig, "SignedInfo")
    e(info, "CanonicalizationMethod", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    e(info, "SignatureMethod", Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    ref = e(info, "Reference", URI=f"#{assertion.get('ID')}")
    transforms = e(ref, "Transforms")
    e(transforms, "Transform", Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    e(transforms, "Transform", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    e(ref, "DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    e(ref, "DigestValue")
    e(sig, "SignatureValue")
    e(e(sig, "KeyInfo"), "X509Data")
    assertion.find(f"{{{SAML}}}Issuer").addnext(sig)


def test_xmlsec1_signed_assertion_verifies_in_imx(tmp_path: Path) -> None:
    assertion = build_assertion(user(), assertion_id="_xmlsec1", now=NOW,
                                ttl=dt.timedelta(minutes=5))
    _template(assertion)
    template = tmp_path / "template.xml"
    template.write_bytes(etree.tostring(assertion))
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_bytes(pki().signer.key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.TraditionalOpenSSL,
                                                   serialization.NoEncryption()))
    cert.write_bytes(pki().signer.cert_pem)
    out = tmp_path / "signed.xml"
    signed = _xmlsec("--sign", *ID_ATTR, "--privkey-pem", f"{key},{cert}", "--output", str(out),
                     str(template))
    assert signed.returncode == 0, signed.stderr
    header = security_header()
    header.replace(header.find(f"{{{SAML}}}Assertion"), etree.fromstring(out.read_bytes()))
    env = parse_xml(envelope(header))
    trust = TrustConfig(trust_anchors=(pki().ca.cert,), audiences=frozenset({OUR_HCID}))
    parsed = parse_security_header(list(env[0]), now=NOW, clock_skew=dt.timedelta(minutes=5))
    verified = verify_assertion(parsed.element, trust=trust, now=NOW)
    assert verified.assertion_id == "_xmlsec1" and verified.organization == "Lakeside Health"
