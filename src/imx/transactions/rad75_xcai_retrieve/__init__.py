"""RAD-75 Cross Gateway Retrieve Imaging Document Set (RAD TF-3 4.75): RAD-69's body across
communities; HomeCommunityId is required in each DocumentRequest.

Pure. Request parsing and response building are RAD-69's (same schema types).
"""

from __future__ import annotations

from typing import Final

from imx.transactions.transaction import Transaction

TRANSACTION: Final = Transaction(
    id="RAD-75", name="Cross Gateway Retrieve Imaging Document Set", is_query=False,
    request_action="urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSet",
    response_action="urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSetResponse",
    audit_event_id="110104",
)
