"""Testers see what the platform's verdicts change: reject cases of a replay, then replay again.

After a clip's first replay, the cases a tester names (a verdicts file of case ids) or the cases that
matched ground-truth items marked `detector_false_positive` get the platform's `false_alarm` verdict
(reason `wrong_object` unless the file says otherwise), through the same code as on the box
(`edge.runtime.verdicts.judge` on the replay's state). The second replay starts from a clean rule
state that holds only the suppressions those verdicts made, and is scored against the truth without
the rejected items: a rejected case that opens again is a false positive, every other item is
still expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.cases import CaseStore, VerdictRequest
from edge.cases.store import Suppression
from edge.cases.verdicts import REASONS, Reason
from edge.config import EdgeConfig
from edge.config.load import read_yaml
from edge.evaluate.truth import Truth, TruthError
from edge.runtime import verdicts
from edge.runtime.pipeline import CameraPipeline

MARKED = "marked"  # `--verdicts marked`: reject what the truth files mark as detector false positives


@dataclass(frozen=True, slots=True)
class Rejection:
    case_id: str
    reason: Reason = "wrong_object"


@dataclass(frozen=True, slots=True)
class VerdictPlan:
    """Which cases the platform rejects: named in a file, and/or those matching marked truth items."""

    named: tuple[Rejection, ...] = ()
    marked: bool = False


def load_plan(source: str) -> VerdictPlan:
    """`marked`, or a YAML file: a list of case ids, or a mapping of case id -> reason."""
    if source == MARKED:
        return VerdictPlan(marked=True)
    path = Path(source)
    data = read_yaml(path, "verdicts file", TruthError)
    if isinstance(data, list) and all(isinstance(c, str) and c for c in data):
        return VerdictPlan(tuple(Rejection(c) for c in data))
    if isinstance(data, dict) and all(isinstance(c, str) and r in REASONS for c, r in data.items()):
        return VerdictPlan(tuple(Rejection(c, r) for c, r in data.items()))
    raise TruthError(
        f"{path}: a verdicts file is a list of false-alarm case ids, or a mapping of case id -> reason "
        f"(one of {list(REASONS)})"
    )


def rejections(plan: VerdictPlan, truth: Truth, matched: dict[str, str]) -> list[Rejection]:
    """This clip's rejections; `matched`: expected item id -> the case that matched it in the first replay."""
    out = list(plan.named)
    if plan.marked:
        marked = [item.id for item in truth.spec.expected if item.detector_false_positive]
        out += [Rejection(matched[i]) for i in marked if i in matched and matched[i] not in {r.case_id for r in out}]
    return out


def apply(
    config: EdgeConfig, camera_id: str, state: Path, class_names: dict[str, list[str]], rejected: list[Rejection]
) -> tuple[list[str], list[Suppression]]:
    """Give the replay's cases their verdicts on its state; (case ids judged, the suppressions made)."""
    pipeline = CameraPipeline(config, camera_id, state, class_names, sink=lambda _message: None)
    judged = []
    try:
        for n, rejection in enumerate(rejected, 1):
            if not pipeline.knows(rejection.case_id):
                continue  # another clip's case (a verdicts file may name cases of several clips)
            request = VerdictRequest(request_id=f"eval-{n}", verdict="false_alarm", reason=rejection.reason)
            verdicts.judge([pipeline], config.worker.id, rejection.case_id, request)
            judged.append(rejection.case_id)
    finally:
        pipeline.close()
    store = CaseStore(state)
    try:
        return judged, store.suppressions(camera_id)
    finally:
        store.close()


def without(truth: Truth, items: set[str]) -> Truth:
    """The truth with the rejected items left out: after the verdicts they are false alarms, not cases."""
    spec = truth.spec.model_copy(update={"expected": [e for e in truth.spec.expected if e.id not in items]})
    return truth.model_copy(update={"spec": spec})
