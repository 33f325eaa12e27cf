"""The tester's workflow: ground truth for recorded clips, `edge eval` scoring, annotated output.

truth.py (file format) -> run.py (replay + match) -> match.py / score.py (pure arithmetic) ->
report.py (tables); annotate.py (annotated MP4) and sheet.py (evidence contact sheet).
"""

from edge.evaluate.annotate import VideoAnnotator
from edge.evaluate.match import ObservedCase, Outcome, match_cases, observed_cases
from edge.evaluate.run import Annotation, Evaluation, evaluate, evaluate_clip
from edge.evaluate.score import ClassScore, Thresholds, gate, score
from edge.evaluate.sheet import contact_sheet
from edge.evaluate.truth import ExpectedCase, Truth, TruthError, load_truth

__all__ = [
    "Annotation",
    "ClassScore",
    "Evaluation",
    "ExpectedCase",
    "ObservedCase",
    "Outcome",
    "Thresholds",
    "Truth",
    "TruthError",
    "VideoAnnotator",
    "contact_sheet",
    "evaluate",
    "evaluate_clip",
    "gate",
    "load_truth",
    "match_cases",
    "observed_cases",
    "score",
]
