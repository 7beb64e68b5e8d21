"""Read the XSPA / NHIN attributes of a (signed) assertion (SPEC-NOTES §5.2, §5.5 step 5). Pure.

Strict on ambiguity: a required attribute given twice, or with two values, is refused rather
than resolved by picking one (an attacker-friendly choice in wrapping attacks).
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Final

from lxml import etree

from imx.security.xua.attributes import (
    NS,
    REQUIRED_ATTRIBUTES,
    SNOMED_CT,
    SNOMED_ROLES,
    AttributeName,
    PurposeOfUse,
    Role,
)
from imx.security.xua.errors import SecurityHeaderError, WsSecurityFault

__all__ = ["AssertionAttributes", "read_attributes"]

_SAML = NS["saml2"]
_HL7 = NS["hl7"]
_ATTRIBUTE_STATEMENT = f"{{{_SAML}}}AttributeStatement"
_ATTRIBUTE = f"{{{_SAML}}}Attribute"
_ATTRIBUTE_VALUE = f"{{{_SAML}}}AttributeValue"
# Older NHIN assertions used PurposeForUse for the same CE.
_PURPOSE_TAGS = (f"{{{_HL7}}}PurposeOfUse", f"{{{_HL7}}}PurposeForUse")


@dataclass(frozen=True, slots=True, kw_only=True)
class AssertionAttributes:
    subject_id: str
    organization: str
    organization_id: str
    home_community_id: str
    purpose_of_use: PurposeOfUse
    role: Role
    npi: str | None


def _invalid(detail: str) -> SecurityHeaderError:
    return SecurityHeaderError(detail, fault=WsSecurityFault.INVALID_SECURITY_TOKEN)


def _values(signed: etree._Element) -> dict[str, list[etree._Element]]:
    # AttributeStatement/Attribute in document order, as iterfind would give them (without
    # an ElementPath evaluation per call).
    out: dict[str, list[etree._Element]] = {}
    for statement in signed.iterchildren(_ATTRIBUTE_STATEMENT):
        for attribute in statement.iterchildren(_ATTRIBUTE):
            name = attribute.get("Name") or ""
            if name in out:
                raise _invalid(f"attribute {name} appears more than once")
            out[name] = [value for value in attribute if value.tag == _ATTRIBUTE_VALUE]
    return out


def _single(values: dict[str, list[etree._Element]], name: str) -> etree._Element | None:
    found = values.get(name)
    if not found:
        return None
    if len(found) > 1:
        raise _invalid(f"attribute {name} must have exactly one value")
    return found[0]


def _text(value: etree._Element | None) -> str:
    if value is None or len(value):
        return ""
    return (value.text or "").strip()


def _coded(value: etree._Element | None, tags: tuple[str, ...]) -> tuple[str, str, str]:
    """(code, codeSystem, displayName) from an hl7 CE child, or a bare code as text."""
    if value is None:
        return "", "", ""
    children = list(value)
    if not children:
        return (value.text or "").strip(), "", ""
    if len(children) != 1 or children[0].tag not in tags:
        raise _invalid("coded attribute value is not an HL7 CE")
    ce = children[0]
    return ((ce.get("code") or "").strip(), (ce.get("codeSystem") or "").strip(),
            ce.get("displayName") or "")


# HL7 v3 PurposeOfUse (ActReason, 2.16.840.1.113883.5.8) codes that have an NHIN equal:
# IHE XUA and newer eHealth Exchange / TEFCA profiles send these instead of the NHIN codes.
HL7_PURPOSE_OF_USE_CODE_SYSTEM: Final = "2.16.840.1.113883.5.8"
_HL7_TO_NHIN: Final = {
    "TREAT": PurposeOfUse.TREATMENT,
    "ETREAT": PurposeOfUse.EMERGENCY,
    "HPAYMT": PurposeOfUse.PAYMENT,
    "HOPERAT": PurposeOfUse.OPERATIONS,
    "PUBHLTH": PurposeOfUse.PUBLICHEALTH,
    "HRESCH": PurposeOfUse.RESEARCH,
    "PATRQT": PurposeOfUse.REQUEST,
    "COVERAGE": PurposeOfUse.COVERAGE,
    "HMARKT": PurposeOfUse.MARKETING,
    "HSYSADMIN": PurposeOfUse.SYSADMIN,
    "HLEGAL": PurposeOfUse.LEGAL,
    "DONAT": PurposeOfUse.DONATION,
    "DISASTER": PurposeOfUse.DISASTER,
    "THREAT": PurposeOfUse.THREAT,
}


def _purpose(value: etree._Element | None, code_system: str) -> PurposeOfUse:
    code, system, _ = _coded(value, _PURPOSE_TAGS)
    if system == HL7_PURPOSE_OF_USE_CODE_SYSTEM:
        mapped = _HL7_TO_NHIN.get(code.upper())
        if mapped is None:
            raise _invalid("HL7 purpose of use code has no NHIN equivalent")
        return mapped
    if system and system != code_system:
        raise _invalid("purpose of use is not from the NHIN or HL7 PurposeOfUse code system")
    try:
        return PurposeOfUse(code.upper())
    except ValueError:
        raise _invalid("purpose of use code not recognised") from None


def _role(value: etree._Element | None) -> Role:
    code, system, display = _coded(value, (f"{{{_HL7}}}Role",))
    if not code:
        raise _invalid(f"attribute {AttributeName.ROLE} has no code")
    known = SNOMED_ROLES.get(code)
    return Role(code=code, code_system=system or SNOMED_CT,
                display_name=display or (known.display_name if known else ""))


def read_attributes(signed: etree._Element, *, purpose_code_system: str) -> AssertionAttributes:
    """Collect the required attributes; refuse if any is missing, repeated or malformed.

    Raises:
        SecurityHeaderError: ``InvalidSecurityToken`` naming the attribute (never its value).
    """
    values = _values(signed)
    singles = {name: _single(values, name) for name in (*REQUIRED_ATTRIBUTES, AttributeName.NPI)}
    for name in REQUIRED_ATTRIBUTES:
        value = singles[name]
        if value is None or (not len(value) and not (value.text or "").strip()):
            raise _invalid(f"required attribute {name} is missing")
    strings = {name: _text(singles[name]) for name in (
        AttributeName.SUBJECT_ID, AttributeName.ORGANIZATION, AttributeName.ORGANIZATION_ID,
        AttributeName.HOME_COMMUNITY_ID)}
    for name, text in strings.items():
        if not text:
            raise _invalid(f"attribute {name} must be a non-empty string")
    return AssertionAttributes(
        subject_id=strings[AttributeName.SUBJECT_ID],
        organization=strings[AttributeName.ORGANIZATION],
        organization_id=strings[AttributeName.ORGANIZATION_ID],
        home_community_id=strings[AttributeName.HOME_COMMUNITY_ID],
        purpose_of_use=_purpose(singles[AttributeName.PURPOSE_OF_USE], purpose_code_system),
        role=_role(singles[AttributeName.ROLE]),
        npi=_text(singles[AttributeName.NPI]) or None)
