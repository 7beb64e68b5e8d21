"""Code systems, extension URLs and the transaction vocabulary of the directory (SPEC-NOTES §7).

Routing keys are the *responding* transactions of ``imx.model.community.TRANSACTION_KEYS``.
On the wire an Endpoint carries two codes: the HL7 ``endpoint-connection-type`` (what kind of
interface) and the Sequoia ``Transaction`` extension (which transaction it answers). Sequoia's
TransactionCodes has production codes for XCPD/XCA only (§7.3); for imaging we use the same
"<profile> <transaction>" pattern: ``XCA-I RAD-75`` and ``XDS-I RAD-69`` [UNCONFIRMED against
the current CodeSystem, see docs/directory.md], plus ``DICOMweb WADO-RS`` and ``FHIR R4``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CONNECTION_TYPES",
    "CONNECTION_TYPE_SYSTEM",
    "EXT_DOA",
    "EXT_DOMAINS",
    "EXT_MANAGING_ORG",
    "EXT_ORG_LOCATION",
    "EXT_PURPOSES_OF_USE",
    "EXT_ROLES",
    "EXT_TRANSACTION",
    "EXT_VERSION",
    "HCID",
    "IDENTIFIER_CODES_SYSTEM",
    "PURPOSE_OF_USE_SYSTEM",
    "SEQUOIA",
    "TRANSACTION_CODES",
    "TRANSACTION_CODES_SYSTEM",
    "parse_transaction_param",
    "routing_key",
]

SEQUOIA: Final = "https://sequoiaproject.org/fhir/sphd"
EXT_TRANSACTION: Final = f"{SEQUOIA}/StructureDefinition/Transaction"
EXT_VERSION: Final = f"{SEQUOIA}/StructureDefinition/Version"
EXT_PURPOSES_OF_USE: Final = f"{SEQUOIA}/StructureDefinition/PurposesOfUse"
EXT_ROLES: Final = f"{SEQUOIA}/StructureDefinition/Roles"
EXT_DOMAINS: Final = f"{SEQUOIA}/StructureDefinition/Domains"
EXT_MANAGING_ORG: Final = f"{SEQUOIA}/StructureDefinition/org-managing-org"
EXT_DOA: Final = f"{SEQUOIA}/StructureDefinition/DOA"
EXT_ORG_LOCATION: Final = f"{SEQUOIA}/StructureDefinition/OrgLocation"
TRANSACTION_CODES_SYSTEM: Final = f"{SEQUOIA}/CodeSystem/TransactionCodes"
IDENTIFIER_CODES_SYSTEM: Final = f"{SEQUOIA}/CodeSystem/SequoiaIdentifierCodes"
HCID: Final = "HCID"
CONNECTION_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
PURPOSE_OF_USE_SYSTEM: Final = "http://healthit.gov/nhin/purposeofuse"

# routing key -> (Sequoia Transaction code, HL7 endpoint-connection-type code, Endpoint.name)
TRANSACTION_CODES: Final[dict[str, tuple[str, str, str]]] = {
    "ITI-55": ("XCPD ITI-55", "ihe-xcpd", "Patient Discovery"),
    "ITI-38": ("XCA ITI-38", "ihe-xca", "Query for Documents"),
    "ITI-39": ("XCA ITI-39", "ihe-xca", "Retrieve Documents"),
    "RAD-75": ("XCA-I RAD-75", "ihe-xca", "Retrieve Imaging Document Set (XCA-I)"),
    # XDS-I.b Imaging Document Source; HL7 has no XDS-I type, ihe-xds is the closest.
    "RAD-69": ("XDS-I RAD-69", "ihe-xds", "Retrieve Imaging Document Set"),
    "DICOMweb": ("DICOMweb WADO-RS", "dicom-wado-rs", "DICOMweb"),
    "FHIR": ("FHIR R4", "hl7-fhir-rest", "FHIR R4"),
}

# Connection types we can route on. An endpoint whose type is not here is skipped by the sync.
CONNECTION_TYPES: Final = frozenset(
    {"ihe-xcpd", "ihe-xca", "ihe-xds", "dicom-wado-rs", "dicom-qido-rs", "hl7-fhir-rest"}
)

# A connection type alone names the transaction only where the profile has one responder.
_BY_CONNECTION_TYPE: Final = {
    "ihe-xcpd": "ITI-55",
    "dicom-wado-rs": "DICOMweb",
    "dicom-qido-rs": "DICOMweb",
    "hl7-fhir-rest": "FHIR",
}
# Substring tests in order: Metriport's parser matches "ITI-55"/"ITI-38"/"ITI-39" the same way
# (SPEC-NOTES §7.3), which accepts both "XCA ITI-38" and a bare "ITI-38".
_BY_SUBSTRING: Final = (
    ("RAD-75", "RAD-75"),
    ("RAD-69", "RAD-69"),
    ("ITI-55", "ITI-55"),
    ("ITI-38", "ITI-38"),
    ("ITI-39", "ITI-39"),
    ("DICOMWEB", "DICOMweb"),
    ("WADO-RS", "DICOMweb"),
    ("FHIR", "FHIR"),
)


def routing_key(*, transaction_code: str | None, connection_type: str | None) -> str | None:
    """The routing key an Endpoint serves, from its Transaction code, else its connection type.

    Returns None when neither says which transaction answers here (e.g. ``ihe-xca`` alone:
    query or retrieve?).
    """
    if transaction_code:
        upper = transaction_code.upper()
        for needle, key in _BY_SUBSTRING:
            if needle in upper:
                return key
    if connection_type:
        return _BY_CONNECTION_TYPE.get(connection_type)
    return None


def parse_transaction_param(value: str) -> str | None:
    """A search value (``RAD-75``, ``XCA-I RAD-75``, ``xca-i``, ``dicomweb``) as a routing key."""
    aliases = {
        "XCPD": "ITI-55",
        "XCA-I": "RAD-75",
        "XDS-I": "RAD-69",
        "XCA-QUERY": "ITI-38",
        "XCA-RETRIEVE": "ITI-39",
    }
    upper = value.strip().upper()
    if upper in aliases:
        return aliases[upper]
    return routing_key(transaction_code=upper, connection_type=None)
