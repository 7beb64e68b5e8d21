"""The event table, walked entry by entry (CONVENTIONS §7: code tables are data)."""

from __future__ import annotations

import pytest

from imx.audit.events import EVENTS, DataFlow, event_for, transaction_code
from tests.unit.audit.records import initiator, responder

REQUIRED = ["ITI-55", "ITI-38", "ITI-39", "RAD-69", "RAD-75"]


@pytest.mark.parametrize("transaction", REQUIRED)
def test_both_sides_of_every_gateway_transaction_are_in_the_table(transaction: str) -> None:
    for role in ("responder", "initiator"):
        spec = EVENTS[(transaction, role)]
        assert spec.type_code == transaction_code(transaction)
        assert event_for(responder(transaction) if role == "responder"
                         else initiator(transaction)) is spec


def test_every_entry_is_well_formed() -> None:
    for (transaction, _role), spec in EVENTS.items():
        assert spec.action in {"C", "R", "U", "D", "E"}
        assert spec.event_id.system_name == "DCM" and spec.event_id.code.startswith("1101")
        assert spec.type_code is not None and spec.type_code.code == transaction
        # queries: data (the query) flows from the requester; retrieves: from the answerer
        assert spec.is_query == (spec.event_id.code == "110112")
        if spec.is_query:
            assert spec.flow is DataFlow.REQUEST


def test_records_without_role_are_responder_records() -> None:
    # Emitters that predate the field all sit on the answering side.
    assert event_for(responder("ITI-39", role="")) is EVENTS[("ITI-39", "responder")]
