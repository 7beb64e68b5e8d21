"""XCPD responder (ITI-55): find the one patient the initiator means, or say why not.

Candidates come from the patient index (``PatientIndex``): an indexed lookup of the query's
blocking keys (birth date, family-name sound + birth year/month or month/day, given-name
sound + year/month, first initial + ZIP, phone, identifiers), keeping the records that share
two kinds of key or a phone/identifier (``imx.matching.blocking.CANDIDATE_MIN_KINDS``), plus
any patient an identifier in the query was correlated with earlier; ``imx.matching`` scores
them (Fellegi-Sunter weights, Jaro-Winkler, nicknames, twins) and decides conservatively: a
wrong match discloses another person's images, so ties and borderline scores answer "no
match" with the XCPD DetectedIssue codes that tell the initiator what would settle it
(ITI TF-2b 3.55.4.2.2.6).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from imx.matching import MatchOutcome, PreparedDemographics, blocking_keys, decide, prepare
from imx.matching.blocking import (
    CANDIDATE_FALLBACK_KINDS,
    CANDIDATE_MIN_KINDS,
    CANDIDATE_STRONG_KINDS,
)
from imx.matching.model import SSN_ROOT
from imx.matching.mpi_form import decode_match_form, index_entry, query_demographics
from imx.model.audit import AuditRecord
from imx.model.identifiers import PatientId
from imx.model.mpi import MpiPatient, PatientCorrelation
from imx.model.patient_discovery import (
    DetectedIssue,
    PatientDemographics,
    PatientDiscoveryAnswer,
    PatientDiscoveryRequest,
    PatientMatch,
    QueryResponseCode,
)
from imx.ports import AuditSink, Clock, PatientIndex

__all__ = ["PatientDiscoveryService", "to_demographics"]

to_demographics = query_demographics  # the XCPD query in the matcher's shape

# More candidates than this means the keys were too common to discriminate (a query with
# only a birth date at 1M patients); the decision then sees the first ones only.
_MAX_CANDIDATES = 2000


def _issues(codes: tuple[str, ...]) -> tuple[DetectedIssue, ...]:
    out = []
    for code in codes:
        try:
            out.append(DetectedIssue(code))
        except ValueError:
            continue
    return tuple(out) or (DetectedIssue.ANSWER_NOT_AVAILABLE,)


def _answer_demographics(entry: MpiPatient) -> PatientDemographics:
    """What we disclose for a match: our identifier first (the one to use in ITI-38), then
    the demographics we hold (ITI TF-2b 3.55.4.4.2: the responder's own values)."""
    d = entry.demographics
    return PatientDemographics(
        names=d.names[:1], gender=d.gender if d.gender in ("M", "F") else "",
        birth_date=d.birth_date, addresses=d.addresses[:1], telecoms=d.telecoms,
        ids=(entry.patient_id,))


def _foreign_ids(request: PatientDiscoveryRequest, entry: MpiPatient) -> list[PatientId]:
    """The initiator's own patient identifiers in ``livingSubjectId`` (Query and Feed,
    SPEC-NOTES §2.1): not ours, not one we hold for the patient, not a national SSN."""
    ours = {entry.patient_id, *entry.demographics.ids}
    return [i for i in request.demographics.ids
            if i not in ours and i.assigning_authority
            and i.assigning_authority not in (SSN_ROOT, entry.patient_id.assigning_authority)]


class PatientDiscoveryService:
    """The XCPD responder over the patient index (``PatientIndex`` port)."""

    def __init__(self, *, index: PatientIndex, audit: AuditSink, clock: Clock) -> None:
        self._index = index
        self._audit = audit
        self._clock = clock

    async def _candidates(self, demo: PatientDemographics, keys: set[str], *,
                          narrow: bool) -> dict[tuple[str, str], PreparedDemographics]:
        """Candidates keyed ``(id, assigning authority)`` (a PatientId is built for the
        decided one only: ~150 candidates per query at 1M patients)."""
        found = await self._index.find_mpi_candidates(
            keys, limit=_MAX_CANDIDATES, min_kinds=CANDIDATE_MIN_KINDS,
            strong_kinds=CANDIDATE_STRONG_KINDS if narrow else CANDIDATE_FALLBACK_KINDS)
        out = {(c.id, c.assigning_authority): decode_match_form(c.match_form) for c in found}
        for remote in demo.ids:  # an identifier correlated earlier (Query and Feed)
            local = await self._index.resolve_correlation(remote)
            entry = await self._index.get_mpi_patient(local) if local is not None else None
            if entry is None:
                continue
            key = (entry.patient_id.id, entry.patient_id.assigning_authority)
            prepared = out.get(key) or decode_match_form(index_entry(entry)[0])
            # Their identifier is now one of ours for this person: it agrees when sent again.
            theirs = (remote.assigning_authority.strip(), remote.id.strip().upper())
            out[key] = dataclasses.replace(prepared,
                                           identifiers=prepared.identifiers | {theirs})
        return out

    async def discover_patient(self, request: PatientDiscoveryRequest, *,
                               audit_fields: Mapping[str, str] | None = None
                               ) -> PatientDiscoveryAnswer:
        """Decide the ITI-55 answer for one query (the decision's reasons go to the audit).

        ``audit_fields`` (the verified requester, addresses: ``AuditRecord`` field names) are
        added to the one audit record of this transaction.

        On a match, identifiers of the initiator's community sent in ``livingSubjectId`` are
        recorded as correlations (SPEC-NOTES §2.5), so its later ITI-38 with them works.
        """
        query = prepare(query_demographics(request.demographics))
        keys = blocking_keys(query)
        # First the records sharing two kinds of key (or a phone/identifier): ~4 at 1M
        # patients instead of ~145. Twins and namesakes share birth date and family-name
        # sound, so the ambiguity check still sees them. Only when that finds nobody close
        # are the records sharing just the birth date scored too (~75 more), so a nickname
        # plus a typo still gets its "...Requested" hint.
        forms = await self._candidates(request.demographics, keys, narrow=True)
        decision = decide(query, forms.items())
        if decision.outcome is MatchOutcome.NO_MATCH:
            forms = await self._candidates(request.demographics, keys, narrow=False)
            decision = decide(query, forms.items())
        answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH)
        correlated = 0
        if decision.outcome is MatchOutcome.MATCH and isinstance(decision.patient_key, tuple):
            matched_id, authority = decision.patient_key
            entry = await self._index.get_mpi_patient(
                PatientId(id=matched_id, assigning_authority=authority))
            if entry is not None:
                total = decision.explanation.total if decision.explanation else 0.0
                answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.OK, matches=(
                    PatientMatch(score=max(0, min(100, round(total * 4))),
                                 demographics=_answer_demographics(entry)),))
                correlated = await self._correlate(request, entry)
        elif decision.outcome is MatchOutcome.AMBIGUOUS:
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=(DetectedIssue.ANSWER_NOT_AVAILABLE,))
        elif decision.outcome is MatchOutcome.NEED_MORE:
            answer = PatientDiscoveryAnswer(response_code=QueryResponseCode.NO_MATCH,
                                            detected_issues=_issues(decision.detected_issues))
        await self._audit.record(AuditRecord(
            event="patient-discovery", outcome="success", occurred_at=self._clock.now(),
            source=f"urn:oid:{request.sender_home_community_id}", transaction="ITI-55",
            patient_ids=tuple(m.demographics.ids[0].to_cx() for m in answer.matches),
            detail=f"{answer.response_code.value} {decision.outcome.value} "
                   f"candidates={decision.candidates_scored} correlated={correlated}",
            extra={"explanation": str(decision.to_dict())[:2000]}, **dict(audit_fields or {})))
        return answer

    async def _correlate(self, request: PatientDiscoveryRequest, entry: MpiPatient) -> int:
        if not request.sender_home_community_id:
            return 0
        added = 0
        for remote in _foreign_ids(request, entry):
            added += await self._index.add_correlation(PatientCorrelation(
                local_patient_id=entry.patient_id, remote_patient_id=remote,
                home_community_id=request.sender_home_community_id))
        return added
