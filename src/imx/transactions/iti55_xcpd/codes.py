"""HL7v3 codes of XCPD (ITI TF-2b 3.55; SPEC-NOTES 2.2-2.4)."""

from __future__ import annotations

NS_HL7 = "urn:hl7-org:v3"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

INTERACTION_ID_ROOT = "2.16.840.1.113883.1.6"
REQUEST_INTERACTION = "PRPA_IN201305UV02"
RESPONSE_INTERACTION = "PRPA_IN201306UV02"
REQUEST_TRIGGER = "PRPA_TE201305UV02"
RESPONSE_TRIGGER = "PRPA_TE201306UV02"

ADMINISTRATIVE_GENDER_SYSTEM = "2.16.840.1.113883.5.1"
DETECTED_ISSUE_SYSTEM = "1.3.6.1.4.1.19376.1.2.27.1"
HDL_CODE_SYSTEM = "1.3.6.1.4.1.19376.1.2.27.2"
MATCH_OBSERVATION_CODE = "IHE_PDQ"

# acknowledgement/typeCode (HL7 AcknowledgementType)
ACK_ACCEPT = "AA"
ACK_ERROR = "AE"

# CONNECT's misspelling of PatientAddressRequested, accepted when parsing (SPEC-NOTES 2.4).
DETECTED_ISSUE_ALIASES = {"PatientAdressRequested": "PatientAddressRequested"}
