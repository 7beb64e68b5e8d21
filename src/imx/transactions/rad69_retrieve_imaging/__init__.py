"""RAD-69 Retrieve Imaging Document Set (RAD TF-3 4.69): DICOM instances over MTOM.

Pure: parse/build only. The response body is ITI-39's RetrieveDocumentSetResponse.
"""

from __future__ import annotations

from typing import Final

from imx.transactions.transaction import Transaction

TRANSACTION: Final = Transaction(
    id="RAD-69", name="Retrieve Imaging Document Set", is_query=False,
    request_action="urn:ihe:rad:2009:RetrieveImagingDocumentSet",
    response_action="urn:ihe:iti:2007:RetrieveDocumentSetResponse",
    audit_event_id="110104",
)
