"""ITI-39 Cross Gateway Retrieve (ITI TF-2b 3.39): documents by unique ID, answered over MTOM.

Pure: parse/build only.
"""

from __future__ import annotations

from typing import Final

from imx.transactions.transaction import Transaction

TRANSACTION: Final = Transaction(
    id="ITI-39", name="Cross Gateway Retrieve", is_query=False,
    request_action="urn:ihe:iti:2007:CrossGatewayRetrieve",
    response_action="urn:ihe:iti:2007:CrossGatewayRetrieveResponse",
    audit_event_id="110106",
)
