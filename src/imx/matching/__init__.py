"""Patient matching for the XCPD Responding Gateway (the MPI core): pure and deterministic.

Owns normalisation, blocking keys, Fellegi-Sunter scoring and the match decision with its
audit explanation. Must not import I/O, a clock, a framework or anything above ``imx.model``.
A wrong match discloses another person's records, so every rule here prefers "no match".
"""

from imx.matching.blocking import blocking_keys
from imx.matching.decide import MatchDecision, MatchOutcome, MatchThresholds, decide
from imx.matching.model import Demographics
from imx.matching.normalise import PreparedDemographics, prepare
from imx.matching.score import FieldScore, MatchWeights, ScoreExplanation, score

__all__ = [
    "Demographics",
    "FieldScore",
    "MatchDecision",
    "MatchOutcome",
    "MatchThresholds",
    "MatchWeights",
    "PreparedDemographics",
    "ScoreExplanation",
    "blocking_keys",
    "decide",
    "prepare",
    "score",
]
