"""XUA vocabulary: namespaces, attribute names and code tables (SPEC-NOTES §5.2, §5.3).

Pure data. Attribute names are the XSPA / NHIN URIs used on Carequality and eHealth Exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "NS",
    "PURPOSE_OF_USE_CODE_SYSTEM",
    "REQUIRED_ATTRIBUTES",
    "SNOMED_CT",
    "SNOMED_ROLES",
    "AttributeName",
    "PurposeOfUse",
    "Role",
]

NS: Final = {
    "saml2": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "hl7": "urn:hl7-org:v3",
    "soap": "http://www.w3.org/2003/05/soap-envelope",
}

# SPEC-NOTES §5.2: NameID / Issuer formats, confirmation methods, authn context
X509_SUBJECT_NAME: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
ATTRNAME_FORMAT_URI: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
CM_HOLDER_OF_KEY: Final = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
CM_SENDER_VOUCHES: Final = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"
AC_X509: Final = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"

# SPEC-NOTES §5.3: NHIN purpose of use code system
PURPOSE_OF_USE_CODE_SYSTEM: Final = "2.16.840.1.113883.3.18.7.1"
PURPOSE_OF_USE_CODE_SYSTEM_NAME: Final = "nhin-purpose"
SNOMED_CT: Final = "2.16.840.1.113883.6.96"


class AttributeName(StrEnum):
    """SAML Attribute/@Name values (SPEC-NOTES §5.2)."""

    SUBJECT_ID = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
    ORGANIZATION = "urn:oasis:names:tc:xspa:1.0:subject:organization"
    ORGANIZATION_ID = "urn:oasis:names:tc:xspa:1.0:subject:organization-id"
    HOME_COMMUNITY_ID = "urn:nhin:names:saml:homeCommunityId"
    ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
    PURPOSE_OF_USE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
    RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
    NPI = "urn:oasis:names:tc:xspa:2.0:subject:npi"


# SPEC-NOTES §5.5 step 5: a responder refuses an assertion without any of these.
REQUIRED_ATTRIBUTES: Final = (
    AttributeName.SUBJECT_ID,
    AttributeName.ORGANIZATION,
    AttributeName.ORGANIZATION_ID,
    AttributeName.HOME_COMMUNITY_ID,
    AttributeName.ROLE,
    AttributeName.PURPOSE_OF_USE,
)


class PurposeOfUse(StrEnum):
    """The 27 NHIN purpose-of-use codes (SPEC-NOTES §5.3), value = code."""

    ABUSE = "ABUSE"
    COVERAGE = "COVERAGE"
    DECEASED = "DECEASED"
    DIRECTORY = "DIRECTORY"
    DISASTER = "DISASTER"
    DONATION = "DONATION"
    EMERGENCY = "EMERGENCY"
    FAMILY = "FAMILY"
    FRAUD = "FRAUD"
    GOVERNMENT = "GOVERNMENT"
    JUDICIAL = "JUDICIAL"
    LAW = "LAW"
    LEGAL = "LEGAL"
    MARKETING = "MARKETING"
    OPERATIONS = "OPERATIONS"
    OVERSIGHT = "OVERSIGHT"
    PAYMENT = "PAYMENT"
    PRESENT = "PRESENT"
    PSYCHOTHERAPY = "PSYCHOTHERAPY"
    PUBLICHEALTH = "PUBLICHEALTH"
    REQUEST = "REQUEST"
    RESEARCH = "RESEARCH"
    SYSADMIN = "SYSADMIN"
    THREAT = "THREAT"
    TRAINING = "TRAINING"
    TREATMENT = "TREATMENT"
    WORKERSCOMP = "WORKERSCOMP"

    @property
    def display_name(self) -> str:
        return _PURPOSE_DISPLAY.get(self, self.value.capitalize())


_PURPOSE_DISPLAY: Final = {
    PurposeOfUse.LAW: "Law Enforcement",
    PurposeOfUse.WORKERSCOMP: "Worker's Comp",
    PurposeOfUse.PUBLICHEALTH: "Public Health",
    PurposeOfUse.SYSADMIN: "System Administration",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """A SNOMED CT role code (XACML subject:role, SPEC-NOTES §5.2)."""

    code: str
    display_name: str = ""
    code_system: str = SNOMED_CT


# A few common roles; any SNOMED CT code is accepted on the wire.
SNOMED_ROLES: Final = {
    "224608005": Role(code="224608005", display_name="Administrative AND/OR managerial worker"),
    "112247003": Role(code="112247003", display_name="Medical doctor"),
    "309343006": Role(code="309343006", display_name="Physician"),
    "106292003": Role(code="106292003", display_name="Professional nurse"),
    "66862007": Role(code="66862007", display_name="Radiologist"),
}
