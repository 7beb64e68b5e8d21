"""The match decision (ITI TF-2b 3.55.4.2.2.6; SPEC-NOTES 2.4): one patient, none, or why not.

MATCH only when exactly one candidate reaches ``match`` and no other comes within
``ambiguity_margin`` of it. Several close ones: AMBIGUOUS (``AnswerNotAvailable``). A best
score between ``review`` and ``match``: NEED_MORE, naming the demographics absent from the
query whose agreement would lift it to a match (``LivingSubjectAdministrativeGenderRequested``,
``PatientAddressRequested``, ``PatientTelecomRequested``, ``MothersMaidenNameRequested``).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from imx.matching.model import Demographics
from imx.matching.normalise import PreparedDemographics, prepare
from imx.matching.score import DEFAULT_WEIGHTS, MatchWeights, ScoreExplanation, score, score_total

__all__ = ["MatchDecision", "MatchOutcome", "MatchThresholds", "decide"]

ANSWER_NOT_AVAILABLE = "AnswerNotAvailable"
# Query field -> (weight field, level it would reach, XCPD DetectedIssue code), most decisive first.
_REQUESTABLE = (
    ("address", "exact", "PatientAddressRequested"),
    ("telecom", "agree", "PatientTelecomRequested"),
    ("mothers_maiden_name", "agree", "MothersMaidenNameRequested"),
    ("sex", "agree", "LivingSubjectAdministrativeGenderRequested"),
)


class MatchOutcome(enum.StrEnum):
    """What the responder answers."""

    MATCH = "match"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    NEED_MORE = "need_more"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchThresholds:
    """Decision thresholds on the total log2 weight."""

    match: float = 17.0
    review: float = 12.0
    ambiguity_margin: float = 4.5


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchDecision:
    """The outcome, the matched key (MATCH only), the DetectedIssue codes and the evidence."""

    outcome: MatchOutcome
    patient_key: Hashable | None = None
    explanation: ScoreExplanation | None = None
    detected_issues: tuple[str, ...] = ()
    candidates_scored: int = 0
    runner_up_total: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready, PHI-free record for the audit trail (the key is the caller's id)."""
        return {
            "outcome": self.outcome.value,
            "patient_key": None if self.patient_key is None else str(self.patient_key),
            "detected_issues": list(self.detected_issues),
            "candidates_scored": self.candidates_scored,
            "runner_up_total": self.runner_up_total,
            "explanation": None if self.explanation is None else self.explanation.to_dict(),
        }


def _requested(
    query: PreparedDemographics, best: ScoreExplanation, need: float, weights: MatchWeights
) -> tuple[str, ...]:
    missing_in_query = {
        "address": not query.street,
        "telecom": not query.phones,
        "mothers_maiden_name": not query.mothers_maiden_name,
        "sex": not query.sex,
    }
    gains = []
    for field_name, level, code in _REQUESTABLE:
        gain = weights.weight(field_name, level) - next(
            (f.weight for f in best.fields if f.field == field_name), 0.0
        )
        if missing_in_query[field_name] and gain > 0:
            gains.append((gain, code))
    # Ask for what could decide it, alone or together; nothing if even all of it could not.
    if sum(g for g, _ in gains) < need:
        return ()
    return tuple(code for _, code in gains)


def decide(
    query: Demographics | PreparedDemographics,
    candidates: Iterable[tuple[Hashable, Demographics | PreparedDemographics]],
    thresholds: MatchThresholds = MatchThresholds(),
    weights: MatchWeights = DEFAULT_WEIGHTS,
) -> MatchDecision:
    """Score every candidate and decide per the XCPD outcome rules.

    Args:
        query: the query demographics.
        candidates: ``(patient_key, demographics)`` pairs from blocking.
        thresholds: match / review / ambiguity margin.
        weights: per-field weights.

    Returns:
        The decision with the best candidate's explanation.
    """
    q = query if isinstance(query, PreparedDemographics) else prepare(query)
    best_key: Hashable | None = None
    best_record: PreparedDemographics | None = None
    best_total = 0.0
    runner_up: float | None = None
    count = 0
    for key, demo in candidates:
        count += 1
        c = demo if isinstance(demo, PreparedDemographics) else prepare(demo)
        total = score_total(q, c, weights)  # the explanation is built for the best only
        if best_record is None or total > best_total:
            if best_record is not None:
                runner_up = best_total
            best_key, best_record, best_total = key, c, total
        elif runner_up is None or total > runner_up:
            runner_up = total
    best = score(q, best_record, weights) if best_record is not None else None
    if best is None or best.total < thresholds.review:
        return MatchDecision(
            outcome=MatchOutcome.NO_MATCH,
            explanation=best,
            candidates_scored=count,
            runner_up_total=runner_up,
        )
    outcome, key, codes = _outcome(q, best, best_key, runner_up, thresholds, weights)
    return MatchDecision(
        outcome=outcome,
        patient_key=key,
        explanation=best,
        detected_issues=codes,
        candidates_scored=count,
        runner_up_total=runner_up,
    )


def _outcome(
    q: PreparedDemographics,
    best: ScoreExplanation,
    best_key: Hashable | None,
    runner_up: float | None,
    thresholds: MatchThresholds,
    weights: MatchWeights,
) -> tuple[MatchOutcome, Hashable | None, tuple[str, ...]]:
    if runner_up is not None and runner_up >= max(
        best.total - thresholds.ambiguity_margin, thresholds.review
    ):
        return MatchOutcome.AMBIGUOUS, None, (ANSWER_NOT_AVAILABLE,)
    if best.total >= thresholds.match:
        return MatchOutcome.MATCH, best_key, ()
    codes = _requested(q, best, thresholds.match - best.total, weights)
    return (MatchOutcome.NEED_MORE if codes else MatchOutcome.NO_MATCH), None, codes
