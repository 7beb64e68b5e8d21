"""ITI-55 Cross Gateway Patient Discovery (ITI TF-2b 3.55): PRPA_IN201305UV02 in, PRPA_IN201306UV02 out.

Pure: parse/build HL7v3 only; matching lives in imx.matching, decisions in services.
"""

from __future__ import annotations

from typing import Final

from imx.transactions.transaction import Transaction

TRANSACTION: Final = Transaction(
    id="ITI-55", name="Cross Gateway Patient Discovery", is_query=True,
    request_action="urn:hl7-org:v3:PRPA_IN201305UV02:CrossGatewayPatientDiscovery",
    response_action="urn:hl7-org:v3:PRPA_IN201306UV02:CrossGatewayPatientDiscovery",
    audit_event_id="110112",
)

# ITI TF-2b 3.55.4.1.3 / SPEC-NOTES §1.2: the Deferred Response Option's request. imx does not
# offer the option; such a request is answered with an MCCI_IN000002UV01 accept acknowledgement
# AE ("unsupported processing mode"), as a responder without the option must (SPEC-NOTES §2.1).
DEFERRED_TRANSACTION: Final = Transaction(
    id="ITI-55-deferred", name="Cross Gateway Patient Discovery (deferred)", is_query=True,
    request_action="urn:hl7-org:v3:PRPA_IN201305UV02:Deferred:CrossGatewayPatientDiscovery",
    response_action="urn:hl7-org:v3:MCCI_IN000002UV01",
    audit_event_id="110112",
)
