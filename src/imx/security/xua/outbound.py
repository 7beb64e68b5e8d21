"""What the Initiating Gateway presents to a responder: the XUA assertion in wsse:Security
(SPEC-NOTES §5.1-5.4), signed with the node's key, per outbound request."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree

from imx.model.community import Community
from imx.model.network import Requester, current_requester
from imx.security.xua.assertion import UserContext, build_assertion
from imx.security.xua.attributes import SNOMED_ROLES, PurposeOfUse, Role
from imx.security.xua.sign import SigningQuirks, sign_assertion
from imx.security.xua.wssecurity import wrap_signed_assertion
from imx.transactions.transaction import Transaction

__all__ = ["xua_header_factory"]


def xua_header_factory(
    *,
    cert_file: Path,
    key_file: Path,
    organization: str,
    organization_id: str,
    home_community_id: str,
    ttl: dt.timedelta = dt.timedelta(minutes=5),
    reuse_for: dt.timedelta = dt.timedelta(minutes=4),
) -> Callable[[Community, Transaction], etree._Element]:
    """A factory building the wsse:Security header of each request, for the requester in
    context.

    The audience is the responder's home community ID and its endpoint (SPEC-NOTES §5.5);
    SHA-1 is used only for a peer whose quirks say ``saml_signature = "rsa-sha1"``.

    One signed assertion per (community, endpoint, requester) is reused for ``reuse_for``
    (inside its ``ttl`` validity), each message getting its own signed Timestamp: responders
    verify a repeated assertion from their cache (docs/trust-xua.md), and signing once per
    burst (a retrieval is one request per series) spares the initiator's CPU too.
    """
    chain = x509.load_pem_x509_certificates(cert_file.read_bytes())
    key = load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("XUA signing needs an RSA node key (SPEC-NOTES §5.4)")
    issuer = chain[0].subject.rfc4514_string()
    signed: dict[tuple[object, ...], tuple[bytes, dt.datetime]] = {}
    certificate = chain[0].public_bytes(Encoding.DER)

    def build(community: Community, transaction: Transaction) -> etree._Element:
        requester = current_requester.get() or Requester(
            subject_id=organization, role_code="224608005"
        )
        audience = tuple(
            a for a in (community.home_community_id, community.endpoint(transaction.id) or "") if a
        )
        user = UserContext(
            subject_id=requester.subject_id,
            organization=organization,
            organization_id=organization_id,
            home_community_id=home_community_id,
            purpose_of_use=PurposeOfUse(requester.purpose_of_use),
            role=SNOMED_ROLES.get(requester.role_code, Role(code=requester.role_code)),
            audience=audience,
            issuer=issuer,
            npi=requester.npi,
        )
        quirks = (
            SigningQuirks(sha1=True)
            if community.quirks.get("saml_signature") == "rsa-sha1"
            else SigningQuirks()
        )
        now = dt.datetime.now(dt.UTC)
        cache_key = (audience, requester, quirks.sha1)
        hit = signed.get(cache_key)
        if hit is None or hit[1] <= now:
            assertion = build_assertion(user, assertion_id=f"_{uuid.uuid4()}", now=now, ttl=ttl,
                                        confirmation_certificate_der=certificate)
            blob = etree.tostring(sign_assertion(assertion, key=key, cert_chain=chain,
                                                 quirks=quirks))
            if len(signed) > 1024:
                signed.clear()
            hit = signed[cache_key] = (blob, now + min(reuse_for, ttl - dt.timedelta(seconds=30)))
        # The Timestamp is per message; the reused assertion stays valid past its expiry.
        return wrap_signed_assertion(etree.fromstring(hit[0]), signing_key=key, now=now,
                                     ttl=dt.timedelta(minutes=1), quirks=quirks)

    return build
