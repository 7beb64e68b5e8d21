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
