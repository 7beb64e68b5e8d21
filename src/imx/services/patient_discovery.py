"""XCPD responder (ITI-55): find the one patient the initiator means, or say why not.

Candidates are blocked on birth date (and the day/month-swapped date), scored on name,
sex and identifiers, and decided conservatively: a wrong match discloses another person's
images, so ties and borderline scores answer "no match" with the XCPD DetectedIssue code
that tells the initiator what would settle it (ITI TF-2b 3.55.4.2.2.6).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler

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

__all__ = ["MatchThresholds", "PatientDiscoveryService", "score_candidate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchThresholds:
    match: float = 0.92  # at or above: a confident match
    review: float = 0.80  # between review and match: borderline, ask for more
    margin: float = 0.05  # a runner-up this close to the best makes it ambiguous


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in kept.upper()).split())


def _dicom_name(record: PatientRecord) -> PersonName:
    parts = (record.patient_name.split("=")[0].split("^") + ["", "", "", "", ""])[:5]
    given = tuple(p for p in (parts[1], parts[2]) if p)
    return PersonName(family=parts[0], given=given, prefix=parts[3], suffix=parts[4])


def _name_score(query: PersonName, candidate: PersonName) -> float:
    family = JaroWinkler.similarity(_fold(query.family), _fold(candidate.family))
    q_given = _fold(" ".join(query.given[:1]))
    c_given = _fold(" ".join(candidate.given[:1]))
    given = JaroWinkler.similarity(q_given, c_given) if q_given and c_given else 0.5
    # swapped order (family written as given) counts too
    swapped = (JaroWinkler.similarity(_fold(query.family), c_given)
               + JaroWinkler.similarity(q_given, _fold(candidate.family))) / 2
    return max(0.6 * family + 0.4 * given, swapped * 0.95)


def score_candidate(query: PatientDemographics, candidate: PatientRecord) -> tuple[float, list[str]]:
    """A score in [0, 1] and the PHI-free reasons behind it (kept for the audit)."""
    reasons = []
    name = max((_name_score(q, _dicom_name(candidate)) for q in query.names), default=0.0)
    reasons.append(f"name={name:.2f}")
    score = name
    if query.birth_date and candidate.birth_date:
        if query.birth_date != candidate.birth_date:
            score -= 0.05  # a day/month transposition: still a candidate, slightly weaker
            reasons.append("birth_date=transposed")
        else:
            reasons.append("birth_date=exact")
    if query.gender and candidate.sex:
        if query.gender == candidate.sex:
            score = min(1.0, score + 0.03)
            reasons.append("sex=agree")
        else:
            score -= 0.3  # twins of different sex share a birth date and an address
            reasons.append("sex=disagree")
    ours = {(i.assigning_authority, i.id) for i in (candidate.patient_id,
                                                    *candidate.other_patient_ids)}
    theirs = {(i.assigning_authority, i.id) for i in query.ids}
    if ours & theirs:
        score = 1.0
        reasons.append("identifier=match")
    return max(0.0, min(1.0, score)), reasons


class PatientDiscoveryService:
    def __init__(self, *, metadata: MetadataStore, audit: AuditSink, clock: Clock,
                 thresholds: MatchThresholds | None = None) -> None:
        self._metadata = metadata
        self._audit = audit
        self._clock = clock
        self._thresholds = thresholds or MatchThresholds()

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
        """Decide the ITI-55 answer for one query."""
        demo = request.demographics
        scored = sorted(((*score_candidate(demo, c), c) for c in await self._candidates(demo)),
                        key=lambda t: t[0], reverse=True)
        t = self._thresholds
        answer: PatientDiscoveryAnswer
        if not scored or scored[0][0] < t.review:
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH)
        elif len(scored) > 1 and scored[1][0] >= t.review and scored[0][0] - scored[1][0] < t.margin:
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=(DetectedIssue.ANSWER_NOT_AVAILABLE,))
        elif scored[0][0] < t.match:
            issue = (DetectedIssue.GENDER_REQUESTED if not demo.gender
                     else DetectedIssue.ADDRESS_REQUESTED if not demo.addresses
                     else DetectedIssue.TELECOM_REQUESTED if not demo.telecoms
                     else DetectedIssue.ANSWER_NOT_AVAILABLE)
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=(issue,))
        else:
            best = scored[0][2]
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.OK, matches=(
                PatientMatch(score=round(scored[0][0] * 100), demographics=PatientDemographics(
                    names=(_dicom_name(best),), gender=best.sex if best.sex in ("M", "F") else "",
                    birth_date=best.birth_date, ids=(best.patient_id,))),))
        await self._audit.record(AuditRecord(
            event="patient-discovery", outcome="success", occurred_at=self._clock.now(),
            source=f"urn:oid:{request.sender_home_community_id}", transaction="ITI-55",
            patient_ids=tuple(m.demographics.ids[0].to_cx() for m in answer.matches),
            detail=f"{answer.response_code.value} candidates={len(scored)} "
                   f"best={' '.join(scored[0][1]) if scored else '-'}"))
        return answer
