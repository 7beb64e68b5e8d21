"""The wsse:Security SOAP header: wsu:Timestamp + saml2:Assertion (SPEC-NOTES §5.1).

OASIS WSS 1.1 SOAP Message Security §5 (the header, ``mustUnderstand``) and §10 (Timestamp:
Created / Expires). ``build_security_header`` is what the initiating gateway's SOAP client puts
in soap:Header; ``parse_security_header`` finds the one header a responder processes and checks
the Timestamp's freshness; the assertion itself is checked by ``verify.verify_assertion``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from imx.security.xua.assertion import UserContext, build_assertion, format_instant, parse_instant
from imx.security.xua.attributes import NS
from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault
from imx.security.xua.sign import SigningQuirks, sign_assertion, sign_timestamp

__all__ = ["SecurityHeader", "build_security_header", "parse_security_header",
           "wrap_signed_assertion"]

_WSSE = NS["wsse"]
_WSU = NS["wsu"]
_SECURITY = f"{{{_WSSE}}}Security"
_TIMESTAMP = f"{{{_WSU}}}Timestamp"
_SOAP_ROLE = f"{{{NS['soap']}}}role"
_OUR_ROLES = frozenset({None, "", "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver",
                        "http://www.w3.org/2003/05/soap-envelope/role/next"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityHeader:
    """The wsse:Security block addressed to us, with a fresh Timestamp."""

    element: etree._Element
    created: dt.datetime
    expires: dt.datetime


def build_security_header(user: UserContext, signing_key: rsa.RSAPrivateKey,
                          signing_cert_chain: Sequence[x509.Certificate], now: dt.datetime,
                          ttl: dt.timedelta, *, quirks: SigningQuirks | None = None,
                          holder_of_key: bool = True) -> etree._Element:
    """Build ``wsse:Security`` (mustUnderstand) with a Timestamp and a signed assertion.

    Args:
        user: the requester, organisation, purpose of use and audience.
        signing_key: the gateway's private key (same certificate as its TLS client identity).
        signing_cert_chain: the signing certificate first, then intermediates.
        now: message time (timezone-aware); Timestamp Created and the assertion IssueInstant.
        ttl: Timestamp Expires and assertion NotOnOrAfter = now + ttl.
        quirks: per-peer signing deviations (SHA-1), off by default.
        holder_of_key: put the signing certificate in SubjectConfirmationData (SPEC-NOTES §5.2)
            and sign the Timestamp with it (§5.1); sender-vouches without a Timestamp signature
            otherwise.

    Returns:
        The header block, to append to soap:Header.
    """
    quirks = quirks or SigningQuirks()
    certificate = signing_cert_chain[0].public_bytes(Encoding.DER) if holder_of_key else None
    assertion = build_assertion(user, assertion_id=f"_{uuid.uuid4()}", now=now, ttl=ttl,
                                confirmation_certificate_der=certificate)
    signed = sign_assertion(assertion, key=signing_key, cert_chain=signing_cert_chain,
                            quirks=quirks)
    return wrap_signed_assertion(signed, signing_key=signing_key, now=now, ttl=ttl,
                                 quirks=quirks, holder_of_key=holder_of_key)


def wrap_signed_assertion(signed_assertion: etree._Element, *, signing_key: rsa.RSAPrivateKey,
                          now: dt.datetime, ttl: dt.timedelta,
                          quirks: SigningQuirks | None = None,
                          holder_of_key: bool = True) -> etree._Element:
    """``wsse:Security`` around an already signed assertion, with a fresh Timestamp (signed,
    keyed to the assertion, for holder-of-key).

    An initiator may reuse one signed assertion for several requests within its validity
    (SAML 2.0 core 2.5.1: NotOnOrAfter bounds it); the Timestamp stays per message.
    """
    quirks = quirks or SigningQuirks()
    security = etree.Element(_SECURITY, nsmap={"wsse": _WSSE, "wsu": _WSU, "soap": NS["soap"]})
    security.set(f"{{{NS['soap']}}}mustUnderstand", "true")
    timestamp = etree.SubElement(security, _TIMESTAMP)
    timestamp.set(f"{{{_WSU}}}Id", f"TS-{uuid.uuid4()}")
    etree.SubElement(timestamp, f"{{{_WSU}}}Created").text = format_instant(now)
    etree.SubElement(timestamp, f"{{{_WSU}}}Expires").text = format_instant(now + ttl)
    security.append(signed_assertion)
    if holder_of_key:
        # SPEC-NOTES §5.1/§5.4: sign the Timestamp too, keyed by the assertion (proof of
        # possession of the confirmed key; binds this message's time to the assertion).
        security.append(sign_timestamp(security, key=signing_key,
                                       assertion_id=signed_assertion.get("ID") or "",
                                       quirks=quirks))
    return security


def _invalid(detail: str) -> SecurityHeaderError:
    return SecurityHeaderError(detail, fault=WsSecurityFault.INVALID_SECURITY)


def _for_us(header: etree._Element) -> bool:
    # SOAP 1.2 Part 1 §5.2.2: no env:role means the ultimate receiver (us); "next" is us too.
    return header.get(_SOAP_ROLE) in _OUR_ROLES


def _instant(text: str | None) -> dt.datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise _invalid("wsu:Timestamp Created/Expires must be UTC dateTimes") from None


def parse_security_header(headers: Sequence[etree._Element], *, now: dt.datetime,
                          clock_skew: dt.timedelta) -> SecurityHeader:
    """Find the single wsse:Security block for us and check its Timestamp (WSS 1.1 §10).

    Raises:
        SecurityHeaderError: ``InvalidSecurity`` for a missing / repeated header or Timestamp,
            ``MessageExpired`` when the Timestamp is stale or from the future.
    """
    blocks = [h for h in headers if h.tag == _SECURITY and _for_us(h)]
    if not blocks:
        raise _invalid("a wsse:Security header is required")
    if len(blocks) > 1:
        raise _invalid("more than one wsse:Security header for this receiver")
    security = blocks[0]
    stamps = [child for child in security if child.tag == _TIMESTAMP]
    if len(stamps) != 1:
        raise _invalid("wsse:Security must carry exactly one wsu:Timestamp")
    # SPEC-NOTES §5.1: Created and Expires are both present in XUA headers.
    created = _instant(stamps[0].findtext(f"{{{_WSU}}}Created"))
    expires = _instant(stamps[0].findtext(f"{{{_WSU}}}Expires"))
    if expires < created:
        raise _invalid("wsu:Timestamp expires before it was created")
    if created > now + clock_skew or expires <= now - clock_skew:
        raise SecurityHeaderError("the message has expired", fault=WsSecurityFault.MESSAGE_EXPIRED)
    return SecurityHeader(element=security, created=created, expires=expires)
