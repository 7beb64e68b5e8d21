"""XCPD responder (ITI-55): find the one patient the initiator means, or say why not.

Candidates are blocked on birth date (and the day/month-swapped date) and on identifiers
the initiator sent; ``imx.matching`` scores them (Fellegi-Sunter weights, Jaro-Winkler,
nicknames, twins) and decides conservatively: a wrong match discloses another person's
images, so ties and borderline scores answer "no match" with the XCPD DetectedIssue codes
that tell the initiator what would settle it (ITI TF-2b 3.55.4.2.2.6).
"""

from __future__ import annotations

import datetime as dt

from imx.matching import Demographics, MatchOutcome, decide
from imx.model.audit import AuditRecord
from imx.model.identifiers import PatientId
from imx.model.imaging import PatientRecord
from imx.model.patient_discovery import (
    DetectedIssue,
    PatientDemographics,
    PatientDiscoveryAnswer,
    PatientDiscoveryRequest,
    PatientMatch,
    PersonName,
    QueryResponseCode,
)
from imx.model.query import DateRange, ImagingQuery, QueryLevel
from imx.ports import AuditSink, Clock, MetadataStore

__all__ = ["PatientDiscoveryService", "to_demographics"]


def _dicom_name(record: PatientRecord) -> PersonName:
    parts = (record.patient_name.split("=")[0].split("^") + ["", "", "", "", ""])[:5]
    given = tuple(p for p in (parts[1], parts[2]) if p)
    return PersonName(family=parts[0], given=given, prefix=parts[3], suffix=parts[4])


def to_demographics(demo: PatientDemographics) -> Demographics:
    """An XCPD query's demographics in the matcher's shape."""
    name = demo.names[0] if demo.names else PersonName()
    addr = demo.addresses[0] if demo.addresses else None
    maiden = demo.mothers_maiden_name
    return Demographics(
        given_names=name.given, family_name=name.family, birth_date=demo.birth_date,
        sex=demo.gender, address_lines=addr.street_lines if addr else (),
        city=addr.city if addr else "", state=addr.state if addr else "",
        postal_code=addr.postal_code if addr else "",
        telecom=tuple(t for t in demo.telecoms if t.startswith("tel:")),
        identifiers=tuple((i.assigning_authority, i.id) for i in demo.ids),
        mothers_maiden_name=maiden.family if maiden else "")


def _record_demographics(record: PatientRecord) -> Demographics:
    name = _dicom_name(record)
    ids = (record.patient_id, *record.other_patient_ids)
    return Demographics(given_names=name.given, family_name=name.family,
                        birth_date=record.birth_date,
                        sex=record.sex if record.sex in ("M", "F") else "",
                        identifiers=tuple((i.assigning_authority, i.id) for i in ids))


def _issues(codes: tuple[str, ...]) -> tuple[DetectedIssue, ...]:
    out = []
    for code in codes:
        try:
            out.append(DetectedIssue(code))
        except ValueError:
            continue
    return tuple(out) or (DetectedIssue.ANSWER_NOT_AVAILABLE,)


class PatientDiscoveryService:
    def __init__(self, *, metadata: MetadataStore, audit: AuditSink, clock: Clock) -> None:
        self._metadata = metadata
        self._audit = audit
        self._clock = clock

    async def _candidates(self, demo: PatientDemographics) -> list[PatientRecord]:
        out: dict[PatientId, PatientRecord] = {}
        for pid in demo.ids:  # the initiator may already know our identifier
            record = await self._metadata.get_patient(pid)
            if record is not None:
                out[record.patient_id] = record
        dates = []
        if demo.birth_date is not None:
            dates.append(demo.birth_date)
            d = demo.birth_date
            if d.day <= 12 and d.day != d.month:
                dates.append(dt.date(d.year, d.day, d.month))
        for day in dates:
            for record in await self._metadata.find_patients(ImagingQuery(
                    level=QueryLevel.PATIENT, patient_birth_date=DateRange(start=day, end=day),
                    limit=500)):
                out[record.patient_id] = record
        return list(out.values())

    async def discover_patient(self, request: PatientDiscoveryRequest) -> PatientDiscoveryAnswer:
        """Decide the ITI-55 answer for one query (the decision's reasons go to the audit)."""
        candidates = await self._candidates(request.demographics)
        decision = decide(to_demographics(request.demographics),
                          [(c.patient_id, _record_demographics(c)) for c in candidates])
        answer: PatientDiscoveryAnswer
        if decision.outcome is MatchOutcome.MATCH and decision.patient_key is not None:
            best = next(c for c in candidates if c.patient_id == decision.patient_key)
            total = decision.explanation.total if decision.explanation else 0.0
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.OK, matches=(
                PatientMatch(score=max(0, min(100, round(total * 4))),
                             demographics=PatientDemographics(
                                 names=(_dicom_name(best),),
                                 gender=best.sex if best.sex in ("M", "F") else "",
                                 birth_date=best.birth_date, ids=(best.patient_id,))),))
        elif decision.outcome is MatchOutcome.AMBIGUOUS:
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=(DetectedIssue.ANSWER_NOT_AVAILABLE,))
        elif decision.outcome is MatchOutcome.NEED_MORE:
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=_issues(decision.detected_issues))
        else:
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH)
        await self._audit.record(AuditRecord(
            event="patient-discovery", outcome="success", occurred_at=self._clock.now(),
            source=f"urn:oid:{request.sender_home_community_id}", transaction="ITI-55",
            patient_ids=tuple(m.demographics.ids[0].to_cx() for m in answer.matches),
            detail=f"{answer.response_code.value} {decision.outcome.value} "
                   f"candidates={decision.candidates_scored}",
            extra={"explanation": str(decision.to_dict())[:2000]}))
        return answer
