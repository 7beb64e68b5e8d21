"""The hospital's registration feed into the patient index (ITI-8: ADT A01/A04/A05/A08/A28/
A31 register or update, A40 merge). Demographics land in the store the XCPD responder
matches against; a merge moves the retired identifier's studies to the surviving one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from imx.model.audit import AuditRecord
from imx.model.imaging import PatientRecord
from imx.model.mpi import MpiPatient, MpiSource
from imx.model.patient_discovery import PatientDemographics
from imx.ports import AuditSink, Clock, MetadataStore, PatientIndex
from imx.transactions.iti8_patient_identity_feed.message import FeedAction, PatientFeedEvent

__all__ = ["FeedResult", "PatientFeedService", "to_mpi_patient", "to_patient_record"]


def _dicom_name(demo: PatientDemographics) -> str:
    if not demo.names:
        return ""
    n = demo.names[0]
    parts = [n.family, n.given[0] if n.given else "", " ".join(n.given[1:]), n.prefix, n.suffix]
    return "^".join(parts).rstrip("^")


def to_patient_record(demo: PatientDemographics) -> PatientRecord:
    """PID-3's first identifier is the patient; the others become Other Patient IDs."""
    sex = {"M": "M", "F": "F", "UN": "O"}.get(demo.gender, "")
    return PatientRecord(patient_id=demo.ids[0], patient_name=_dicom_name(demo),
                         birth_date=demo.birth_date, sex=sex, other_patient_ids=demo.ids[1:])


def to_mpi_patient(demo: PatientDemographics) -> MpiPatient:
    """The index entry of a PID segment: name (PID-5), birth date (PID-7), sex (PID-8),
    address (PID-11), phones (PID-13/14), mother's maiden name (PID-6), other IDs (PID-3)."""
    return MpiPatient(patient_id=demo.ids[0], source=MpiSource.ADT,
                      demographics=dataclasses.replace(demo, ids=demo.ids[1:]))


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedResult:
    studies_moved: int = 0


class PatientFeedService:
    def __init__(self, *, metadata: MetadataStore, audit: AuditSink, clock: Clock,
                 index: PatientIndex | None = None) -> None:
        self._metadata = metadata
        self._index = index
        self._audit = audit
        self._clock = clock

    async def apply(self, event: PatientFeedEvent, *, source: str) -> FeedResult:
        """Apply one ADT event; NotFoundError when a merge names no known surviving patient."""
        record = to_patient_record(event.demographics)
        moved = 0
        if event.action is FeedAction.MERGE:
            if await self._metadata.get_patient(record.patient_id) is None:
                await self._metadata.upsert_patient(record)
            for retired in event.prior_ids:
                moved += await self._metadata.merge_patient(surviving=record.patient_id,
                                                            retired=retired)
                if self._index is not None:
                    await self._index.merge_mpi_patient(surviving=record.patient_id,
                                                        retired=retired)
        else:
            await self._metadata.upsert_patient(record)
        if self._index is not None and (
                event.action is not FeedAction.MERGE
                or await self._index.get_mpi_patient(record.patient_id) is None):
            # A40's PID names the survivor; its demographics came with its own A01/A08.
            await self._index.upsert_mpi_patient(to_mpi_patient(event.demographics))
        await self._audit.record(AuditRecord(
            event="patient-record", outcome="success", occurred_at=self._clock.now(),
            source=source, transaction="ITI-8",
            patient_ids=(record.patient_id.to_cx(), *(p.to_cx() for p in event.prior_ids)),
            detail=f"ADT {event.trigger_event} {event.action.value}; studies moved {moved}"))
        return FeedResult(studies_moved=moved)
