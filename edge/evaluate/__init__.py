"""The tester's workflow: ground truth for recorded clips, `edge eval` scoring, annotated output.

truth.py (file format) -> run.py (replay + match) -> match.py / faults.py / score.py (pure arithmetic) ->
report.py (tables); annotate.py (annotated MP4) and sheet.py (evidence contact sheet).
"""

from edge.evaluate.annotate import VideoAnnotator
from edge.evaluate.faults import FaultOutcome, ObservedFault, match_faults, observed_faults
from edge.evaluate.match import ObservedCase, Outcome, match_cases, observed_cases
from edge.evaluate.run import Annotation, Evaluation, evaluate, evaluate_clip
from edge.evaluate.score import ClassScore, FaultScore, Thresholds, gate, gate_faults, score, score_faults
from edge.evaluate.sheet import contact_sheet
from edge.evaluate.truth import ExpectedCase, ExpectedFault, Truth, TruthError, load_truth

__all__ = [
    "Annotation",
    "ClassScore",
    "Evaluation",
    "ExpectedCase",
    "ExpectedFault",
    "FaultOutcome",
    "FaultScore",
    "ObservedCase",
    "ObservedFault",
    "Outcome",
    "Thresholds",
    "Truth",
    "TruthError",
    "VideoAnnotator",
    "contact_sheet",
    "evaluate",
    "evaluate_clip",
    "gate",
    "gate_faults",
    "load_truth",
    "match_cases",
    "match_faults",
    "observed_cases",
    "observed_faults",
    "score",
    "score_faults",
]
