"""One package per IHE transaction (IPF-style), pure: parse/build wire XML ↔ model.

Must not import adapters, services, edges or frameworks. ``REGISTRY`` maps
request actions to transactions; it is built from each package's ``TRANSACTION``.
"""

from __future__ import annotations

from imx.transactions.iti38_xca_query import TRANSACTION as ITI38
from imx.transactions.iti39_xca_retrieve import TRANSACTION as ITI39
from imx.transactions.iti55_xcpd import DEFERRED_TRANSACTION as ITI55_DEFERRED
from imx.transactions.iti55_xcpd import TRANSACTION as ITI55
from imx.transactions.rad69_retrieve_imaging import TRANSACTION as RAD69
from imx.transactions.rad75_xcai_retrieve import TRANSACTION as RAD75
from imx.transactions.transaction import Transaction

__all__ = ["REGISTRY", "Transaction", "find_transaction"]

REGISTRY: dict[str, Transaction] = {t.id: t for t in (ITI55, ITI55_DEFERRED, ITI38, ITI39, RAD69,
                                                        RAD75)}


def find_transaction(action: str) -> Transaction | None:
    """The transaction whose request action is ``action`` (whitespace-tolerant), or None."""
    for t in REGISTRY.values():
        if t.accepts(action):
            return t
    return None
