"""ITI-38 Cross Gateway Query (ITI TF-2b 3.38): AdhocQueryRequest in, AdhocQueryResponse out.

Pure: parse/build only; imports wire and model, never adapters or frameworks.
"""

from __future__ import annotations

from typing import Final

from imx.transactions.transaction import Transaction

TRANSACTION: Final = Transaction(
    id="ITI-38", name="Cross Gateway Query", is_query=True,
    request_action="urn:ihe:iti:2007:CrossGatewayQuery",
    response_action="urn:ihe:iti:2007:CrossGatewayQueryResponse",
    audit_event_id="110112",
)
