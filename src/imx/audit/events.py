"""Which ATNA event an audit record is: a pure table (transaction, side) → codes.

Sources: DICOM PS3.15 A.5.3 (event definitions), IHE ITI TF-2 3.55.5 (XCPD), 3.38.5 (XCA
query), 3.39.5 (XCA retrieve, "as if it were a Document Repository / Consumer"), IHE RAD TF-3
5.1 trigger events for RAD-69/75 ("Begin Transferring DICOM Instances" at the Imaging Document
Source / Responding Imaging Gateway, "DICOM Instances Transferred" at the Imaging Document
Consumer / Initiating Imaging Gateway), SPEC-NOTES §6.2. IPF audits the RAD-69/75 responder with
110104/R instead; we follow the RAD TF wording (see docs/audit.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from imx.model.audit import AuditRecord

__all__ = [
    "EVENTS",
    "CodedValue",
    "DataFlow",
    "EventSpec",
    "event_for",
    "transaction_code",
]


@dataclass(frozen=True, slots=True)
class CodedValue:
    """A DICOM 2017c CodedValueType: ``csd-code``, ``codeSystemName``, ``originalText``."""

    code: str
    system_name: str
    display: str


class DataFlow(Enum):
    """Which participant is the Source Role ID (110153) of the event (PS3.15 A.5.3)."""

    REQUEST = "request"  # the requester sends data or a query (queries, C-STORE, feeds)
    ANSWER = "answer"  # the answering side sends data back (retrieves, exports)
    LOCAL = "local"  # no network peer (application activity, local publishing)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSpec:
    event_id: CodedValue
    action: str  # EventActionCode: C R U D E
    type_code: CodedValue | None
    flow: DataFlow
    is_query: bool = False


def _dcm(code: str, display: str) -> CodedValue:
    return CodedValue(code, "DCM", display)


def _ihe(code: str, display: str) -> CodedValue:
    return CodedValue(code, "IHE Transactions", display)


# DICOM PS3.16 CID 400 (audit event ids) used below.
QUERY: Final = _dcm("110112", "Query")
EXPORT: Final = _dcm("110106", "Export")
IMPORT: Final = _dcm("110107", "Import")
BEGIN_TRANSFERRING: Final = _dcm("110102", "Begin Transferring DICOM Instances")
INSTANCES_TRANSFERRED: Final = _dcm("110104", "DICOM Instances Transferred")
PATIENT_RECORD: Final = _dcm("110110", "Patient Record")
APPLICATION_ACTIVITY: Final = _dcm("110100", "Application Activity")
SECURITY_ALERT: Final = _dcm("110113", "Security Alert")

# IHE transaction names, the EventTypeCode and the query object's IDTypeCode.
TRANSACTION_NAMES: Final[dict[str, str]] = {
    "ITI-8": "Patient Identity Feed",
    "ITI-55": "Cross Gateway Patient Discovery",
    "ITI-38": "Cross Gateway Query",
    "ITI-39": "Cross Gateway Retrieve",
    "RAD-68": "Provide and Register Imaging Document Set - MTOM/XOP",
    "RAD-69": "Retrieve Imaging Document Set",
    "RAD-75": "Cross Gateway Retrieve Imaging Document Set",
}


def transaction_code(transaction: str) -> CodedValue | None:
    """The IHE Transactions code of ``transaction`` (e.g. ``ITI-55``), None if not IHE."""
    name = TRANSACTION_NAMES.get(transaction)
    return _ihe(transaction, name) if name is not None else None


def _spec(event_id: CodedValue, action: str, transaction: str | None, flow: DataFlow,
          *, is_query: bool = False) -> EventSpec:
    return EventSpec(event_id=event_id, action=action,
                     type_code=transaction_code(transaction) if transaction else None,
                     flow=flow, is_query=is_query)


_Q, _A, _L = DataFlow.REQUEST, DataFlow.ANSWER, DataFlow.LOCAL

# (transaction, role) → event. role: "responder" (we answered) or "initiator" (we asked).
EVENTS: Final[dict[tuple[str, str], EventSpec]] = {
    # ITI TF-2b 3.55.5.1: both gateways audit a Query (110112, E)
    ("ITI-55", "responder"): _spec(QUERY, "E", "ITI-55", _Q, is_query=True),
    ("ITI-55", "initiator"): _spec(QUERY, "E", "ITI-55", _Q, is_query=True),
    # ITI TF-2b 3.38.5.1: Query (110112, E)
    ("ITI-38", "responder"): _spec(QUERY, "E", "ITI-38", _Q, is_query=True),
    ("ITI-38", "initiator"): _spec(QUERY, "E", "ITI-38", _Q, is_query=True),
    # ITI TF-2b 3.39.5.1: responder as a Document Repository (Export, R), initiator as a
    # Document Consumer (Import, C); the documents flow from the responder.
    ("ITI-39", "responder"): _spec(EXPORT, "R", "ITI-39", _A),
    ("ITI-39", "initiator"): _spec(IMPORT, "C", "ITI-39", _A),
    # RAD TF-3 5.1: the sender audits Begin Transferring (PS3.15 A.5.3.1, action E), the
    # receiver DICOM Instances Transferred (A.5.3.2, C: the receiver creates its copies).
    ("RAD-69", "responder"): _spec(BEGIN_TRANSFERRING, "E", "RAD-69", _A),
    ("RAD-69", "initiator"): _spec(INSTANCES_TRANSFERRED, "C", "RAD-69", _A),
    ("RAD-75", "responder"): _spec(BEGIN_TRANSFERRING, "E", "RAD-75", _A),
    ("RAD-75", "initiator"): _spec(INSTANCES_TRANSFERRED, "C", "RAD-75", _A),
    # ITI TF-2a 3.8.5: the Patient Identifier Cross-reference Manager (receiver) audits
    # Patient Record (110110) with C or U; we do not know which, so U (the record exists after).
    ("ITI-8", "responder"): _spec(PATIENT_RECORD, "U", "ITI-8", _Q),
    # RAD-68 is published inside the node (manifest into our own registry): Import, C.
    ("RAD-68", ""): _spec(IMPORT, "C", "RAD-68", _L),
}

# Records named by DICOM service rather than IHE transaction (DIMSE, DICOMweb, ingest).
# PS3.15 A.5.3.2: the receiver of stored instances audits 110104 with C; a C-GET / C-MOVE
# SCP sends them (R, as the holder reads its copies); C-FIND / QIDO is a Query (A.5.3.12).
_BY_EVENT: Final[dict[str, EventSpec]] = {
    "instances-transferred": _spec(INSTANCES_TRANSFERRED, "R", None, _A),
    "dicom-instances-transferred": _spec(INSTANCES_TRANSFERRED, "C", None, _Q),
    "dicom-instances-stored": _spec(INSTANCES_TRANSFERRED, "C", None, _Q),
    "dicom-instance-rejected": _spec(INSTANCES_TRANSFERRED, "C", None, _Q),
    "query": _spec(QUERY, "E", None, _Q, is_query=True),
    # PS3.15 A.5.3.11: a peer failing TLS client authentication, "Node Authentication"
    "tls-client-refused": EventSpec(event_id=SECURITY_ALERT, action="E",
                                    type_code=_dcm("110126", "Node Authentication"), flow=_Q),
    "application-start": EventSpec(event_id=APPLICATION_ACTIVITY, action="E",
                                   type_code=_dcm("110120", "Application Start"), flow=_L),
    "application-stop": EventSpec(event_id=APPLICATION_ACTIVITY, action="E",
                                  type_code=_dcm("110121", "Application Stop"), flow=_L),
}
_STORE_TRANSACTIONS: Final = frozenset({"DIMSE C-STORE", "STOW-RS", "ingest", "import"})

# A refusal before we knew the transaction (unparsable envelope, unknown action): PS3.15
# A.5.3.11 Security Alert, "Use of Restricted Function" (CID 403), outcome set by the record.
REFUSED_UNKNOWN: Final = EventSpec(event_id=SECURITY_ALERT, action="E",
                                   type_code=_dcm("110132", "Use of Restricted Function"),
                                   flow=_Q)


def event_for(record: AuditRecord) -> EventSpec:
    """The ATNA event of ``record``: by (transaction, role), then by DICOM event, then generic.

    A record without ``role`` is a responder record: every emitter that predates the field
    sits on the answering side of its transaction.
    """
    role = record.role or "responder"
    spec = EVENTS.get((record.transaction, role)) or EVENTS.get((record.transaction, ""))
    if spec is not None:
        return spec
    by_event = _BY_EVENT.get(record.event)
    if by_event is not None:
        return by_event
    if record.transaction in _STORE_TRANSACTIONS:
        return _BY_EVENT["dicom-instances-stored"]
    if record.transaction == "" and record.event.endswith("-refused"):
        return REFUSED_UNKNOWN
    # Anything else is application activity with our own type code: reported, never dropped.
    return EventSpec(event_id=APPLICATION_ACTIVITY, action="E",
                     type_code=CodedValue(record.transaction or record.event, "imx",
                                          record.event or record.transaction),
                     flow=_Q)
