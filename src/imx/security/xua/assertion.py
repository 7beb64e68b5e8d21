"""Build the unsigned XUA SAML 2.0 Assertion (SPEC-NOTES §5.2). Pure: no clock, no keys.

Element order follows the SAML 2.0 assertion schema (saml-schema-assertion-2.0 §2.3.3:
Issuer, Signature?, Subject, Conditions, statements). ``sign.sign_assertion`` later puts the
enveloped ds:Signature right after Issuer.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from lxml import etree

from imx.security.xua.attributes import (
    AC_X509,
    ATTRNAME_FORMAT_URI,
    CM_HOLDER_OF_KEY,
    CM_SENDER_VOUCHES,
    NS,
    PURPOSE_OF_USE_CODE_SYSTEM,
    PURPOSE_OF_USE_CODE_SYSTEM_NAME,
    X509_SUBJECT_NAME,
    AttributeName,
    PurposeOfUse,
    Role,
)

__all__ = ["UserContext", "build_assertion", "format_instant", "parse_instant"]

_SAML = NS["saml2"]
_XSI_TYPE = f"{{{NS['xsi']}}}type"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserContext:
    """Who asks, for whom, and why: the content of an outbound assertion.

    The validity window is per message (``now`` and ``ttl`` of ``build_assertion``), so one
    context can be reused for many requests.
    """

    subject_id: str  # the person's name (XSPA subject-id)
    organization: str
    organization_id: str  # urn:oid:<org OID>
    home_community_id: str  # urn:oid:<HCID>
    purpose_of_use: PurposeOfUse
    role: Role
    audience: tuple[str, ...]  # responder's home community ID URN and/or endpoint URL
    issuer: str  # X509SubjectName of the signing certificate (RFC 4514 / RFC 2253 form)
    issuer_format: str = X509_SUBJECT_NAME
    name_id: str = ""  # Subject NameID; defaults to the issuer
    name_id_format: str = X509_SUBJECT_NAME
    npi: str | None = None
    subject_locality_address: str | None = None
    extra_attributes: dict[str, str] = field(default_factory=dict)


def format_instant(instant: dt.datetime) -> str:
    """xs:dateTime in UTC with 'Z' and millisecond precision (SAML core 1.3.3)."""
    if instant.tzinfo is None:
        raise ValueError("SAML instants must be timezone-aware")
    utc = instant.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _s(parent: etree._Element, local: str, text: str | None = None,
       **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{_SAML}}}{local}", attrs)
    if text is not None:
        el.text = text
    return el


def _attribute(statement: etree._Element, name: str) -> etree._Element:
    attribute = _s(statement, "Attribute", Name=name, NameFormat=ATTRNAME_FORMAT_URI)
    return _s(attribute, "AttributeValue")


def _string_attribute(statement: etree._Element, name: str, value: str) -> None:
    av = _attribute(statement, name)
    av.set(_XSI_TYPE, "xs:string")
    av.text = value


def _coded_attribute(statement: etree._Element, name: str, local: str, *, code: str,
                     code_system: str, code_system_name: str, display_name: str) -> None:
    # SPEC-NOTES §5.2: <hl7:Role xsi:type="hl7:CE" code=... codeSystem=... .../>
    ce = etree.SubElement(_attribute(statement, name), f"{{{NS['hl7']}}}{local}",
                          nsmap={"hl7": NS["hl7"]})
    ce.set(_XSI_TYPE, "hl7:CE")
    ce.set("code", code)
    ce.set("codeSystem", code_system)
    ce.set("codeSystemName", code_system_name)
    if display_name:
        ce.set("displayName", display_name)


def _subject(root: etree._Element, user: UserContext, confirmation_certificate_der: bytes | None,
             ) -> None:
    subject = _s(root, "Subject")
    _s(subject, "NameID", user.name_id or user.issuer, Format=user.name_id_format)
    if confirmation_certificate_der is None:
        _s(subject, "SubjectConfirmation", Method=CM_SENDER_VOUCHES)
        return
    # Holder-of-key: the key the initiator proves possession of (its TLS / signing certificate).
    confirmation = _s(subject, "SubjectConfirmation", Method=CM_HOLDER_OF_KEY)
    data = _s(confirmation, "SubjectConfirmationData")
    data.set(_XSI_TYPE, "saml2:KeyInfoConfirmationDataType")
    key_info = etree.SubElement(data, f"{{{NS['ds']}}}KeyInfo", nsmap={"ds": NS["ds"]})
    x509_data = etree.SubElement(key_info, f"{{{NS['ds']}}}X509Data")
    etree.SubElement(x509_data, f"{{{NS['ds']}}}X509Certificate").text = (
        base64.b64encode(confirmation_certificate_der).decode("ascii"))


def _attributes(root: etree._Element, user: UserContext) -> None:
    statement = _s(root, "AttributeStatement")
    _string_attribute(statement, AttributeName.SUBJECT_ID, user.subject_id)
    _string_attribute(statement, AttributeName.ORGANIZATION, user.organization)
    _string_attribute(statement, AttributeName.ORGANIZATION_ID, user.organization_id)
    _string_attribute(statement, AttributeName.HOME_COMMUNITY_ID, user.home_community_id)
    _coded_attribute(statement, AttributeName.ROLE, "Role", code=user.role.code,
                     code_system=user.role.code_system, code_system_name="SNOMED_CT",
                     display_name=user.role.display_name)
    purpose = user.purpose_of_use
    _coded_attribute(statement, AttributeName.PURPOSE_OF_USE, "PurposeOfUse", code=purpose.value,
                     code_system=PURPOSE_OF_USE_CODE_SYSTEM,
                     code_system_name=PURPOSE_OF_USE_CODE_SYSTEM_NAME,
                     display_name=purpose.display_name)
    if user.npi:
        _string_attribute(statement, AttributeName.NPI, user.npi)
    for name, value in sorted(user.extra_attributes.items()):
        _string_attribute(statement, name, value)


def build_assertion(user: UserContext, *, assertion_id: str, now: dt.datetime,
                    ttl: dt.timedelta,
                    confirmation_certificate_der: bytes | None = None) -> etree._Element:
    """Build an unsigned saml2:Assertion valid from ``now`` for ``ttl``.

    Args:
        user: the requester and the purpose of the request.
        assertion_id: an xs:ID (must start with a letter or underscore), unique per message.
        now: the issue instant (timezone-aware).
        ttl: Conditions NotOnOrAfter = now + ttl (SPEC-NOTES §5.2 cites 20 min in production).
        confirmation_certificate_der: the holder-of-key certificate; sender-vouches if None.

    Returns:
        The Assertion element, ready for ``sign_assertion``.
    """
    if not assertion_id or not (assertion_id[0].isalpha() or assertion_id[0] == "_"):
        raise ValueError("assertion_id must be an xs:ID (start with a letter or '_')")
    if not user.audience:
        raise ValueError("an assertion needs at least one audience")
    nsmap = {"saml2": _SAML, "xs": NS["xs"], "xsi": NS["xsi"]}
    instant = format_instant(now)
    root = etree.Element(f"{{{_SAML}}}Assertion", nsmap=nsmap)
    root.set("ID", assertion_id)
    root.set("IssueInstant", instant)
    root.set("Version", "2.0")
    _s(root, "Issuer", user.issuer, Format=user.issuer_format)
    _subject(root, user, confirmation_certificate_der)
    conditions = _s(root, "Conditions", NotBefore=instant,
                    NotOnOrAfter=format_instant(now + ttl))
    restriction = _s(conditions, "AudienceRestriction")
    for audience in user.audience:
        _s(restriction, "Audience", audience)
    authn = _s(root, "AuthnStatement", AuthnInstant=instant, SessionIndex=assertion_id)
    if user.subject_locality_address:
        _s(authn, "SubjectLocality", Address=user.subject_locality_address)
    _s(_s(authn, "AuthnContext"), "AuthnContextClassRef", AC_X509)
    _attributes(root, user)
    return root


def parse_instant(text: str | None) -> dt.datetime:
    """Read an xs:dateTime that carries a time zone (SAML core 1.3.3 requires UTC).

    Raises:
        ValueError: absent, not a dateTime, or without a time zone.
    """
    if not text:
        raise ValueError("missing instant")
    # Python >= 3.11 reads any number of fraction digits, truncated to microseconds.
    instant = dt.datetime.fromisoformat(text.strip())
    if instant.tzinfo is None:
        raise ValueError("instant without time zone")
    return instant.astimezone(dt.UTC)
