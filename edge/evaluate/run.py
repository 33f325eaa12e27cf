"""Evaluate a rule set: replay each ground-truth file's clip, match its cases and faults, score, gate.

Each clip is replayed from a clean rule state with a fixed start time (deterministic ids and
times) into its own folder `<out>/<nn>-<name>/` (cases.jsonl and evidence, as `edge replay`
writes them); detectors are loaded once and shared by all clips.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.cases import CaseStore, models_for
from edge.cases.store import Suppression
from edge.config import CameraConfig, EdgeConfig
from edge.evaluate.annotate import Codec, VideoAnnotator
from edge.evaluate.faults import FaultOutcome, match_faults, observed_faults
from edge.evaluate.match import Outcome, match_cases, observed_cases
from edge.evaluate.score import ClassScore, Thresholds, gate, gate_faults, score, score_faults
from edge.evaluate.sheet import contact_sheet
from edge.evaluate.truth import Truth, TruthError
from edge.evaluate.verdicts import VerdictPlan, apply, rejections, without
from edge.infer import Detector
from edge.runtime.pipeline import load_detectors
from edge.runtime.replay import JsonLinesSink, ReplayResult, replay_clip
from edge.types import CaseMessage

ClipProgress = Callable[[Truth, float], None]  # (truth, media seconds analysed so far)
StartEpoch = Callable[[str], float]  # camera id -> wall-clock time of the clip's first frame


@dataclass(frozen=True)
class Annotation:
    """Where annotated output goes and how the video is encoded."""

    folder: Path
    codec: Codec = "h264"


@dataclass
class ClipEvaluation:
    """One ground-truth file: the replay, the matching and the files written."""

    truth: Truth
    camera_id: str
    run_dir: Path
    result: ReplayResult
    outcome: Outcome
    faults: FaultOutcome | None = None  # None: the truth file lists no faults, so they are not scored
    warnings: list[str] = field(default_factory=list)
    video: Path | None = None
    sheet: Path | None = None
    rejected: list[str] = field(default_factory=list)  # cases of the first replay the platform rejected

    def to_json(self) -> dict[str, Any]:
        outcome = self.outcome
        return {
            "rejected": self.rejected,
            "truth": str(self.truth.path),
            "clip": str(self.truth.clip),
            "camera": self.camera_id,
            "run_dir": str(self.run_dir),
            "frames_analysed": self.result.frames_analysed,
            "frames_reused": self.result.frames_reused,
            "media_seconds": round(self.result.media_seconds, 3),
            "wall_seconds": round(self.result.wall_seconds, 3),
            "annotated_video": None if self.video is None else str(self.video),
            "contact_sheet": None if self.sheet is None else str(self.sheet),
            "warnings": self.warnings,
            "matches": [
                {
                    "expected": m.expected.id,
                    "case_id": m.case.case_id,
                    "event": m.case.event,
                    "opened_s": m.case.opened_s,
                    "latency_s": round(m.latency_s, 3),
                }
                for m in outcome.matches
            ],
            "duplicates": [
                {"case_id": d.case.case_id, "event": d.case.event, "of": d.of.id, "opened_s": d.case.opened_s}
                for d in outcome.duplicates
            ],
            "false_positives": [
                {
                    "case_id": f.case.case_id,
                    "kind": f.kind,
                    "event": f.case.event,
                    "zone": f.case.zone,
                    "opened_s": f.case.opened_s,
                    "near": None if f.near is None else f.near.id,
                }
                for f in outcome.false_cases
            ],
            "misses": [
                {"expected": e.id, "event": e.event, "zone": e.zone, "window": list(e.window)} for e in outcome.misses
            ],
            "faults": None if self.faults is None else _faults_json(self.faults),
        }


def _faults_json(outcome: FaultOutcome) -> dict[str, Any]:
    return {
        "found": [
            {
                "expected": m.expected.id,
                "case_id": m.fault.case_id,
                "kind": m.expected.kind,
                "opened_s": m.fault.opened_s,
                "latency_s": round(m.latency_s, 3),
            }
            for m in outcome.matches
        ],
        "spurious": [
            {
                "case_id": s.fault.case_id,
                "why": s.kind,
                "kinds": list(s.fault.kinds),
                "opened_s": s.fault.opened_s,
                "near": None if s.near is None else s.near.id,
            }
            for s in outcome.spurious
        ],
        "missed": [{"expected": e.id, "kind": e.kind, "window": list(e.window)} for e in outcome.misses],
    }


@dataclass
class Evaluation:
    clips: list[ClipEvaluation]
    scores: dict[str, ClassScore]
    thresholds: Thresholds
    failures: list[str]
    fault_scores: dict[str, ClassScore] | None = None  # None: no truth file scores device faults
    after: Evaluation | None = None  # the second replay, after the platform's verdicts (edge/evaluate/verdicts.py)

    @property
    def passed(self) -> bool:
        return not self.failures and (self.after is None or self.after.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "edge.eval/1",
            "passed": self.passed,
            "failures": self.failures,
            "thresholds": self.thresholds.to_json(),
            "classes": {event: row.to_json() for event, row in self.scores.items()},
            "faults": None
            if self.fault_scores is None
            else {kind: row.to_json() for kind, row in self.fault_scores.items()},
            "clips": [clip.to_json() for clip in self.clips],
            "after_verdicts": None if self.after is None else self.after.to_json(),
        }


def truth_camera(config: EdgeConfig, truth: Truth) -> CameraConfig:
    """The camera whose rules the truth file is about; a name the config lacks is the tester's error."""
    if not config.cameras:
        raise TruthError("the config has no cameras: add the camera the ground truth is about")
    camera_id = truth.spec.camera or config.cameras[0].id
    ids = [c.id for c in config.cameras]
    if camera_id not in ids:
        raise TruthError(f"{truth.path}: camera {camera_id!r} is not in the config; cameras: {ids}")
    return config.camera(camera_id)


def truth_warnings(truth: Truth, camera: CameraConfig, scene_enabled: bool = True) -> list[str]:
    """Expected cases no rule of the camera can produce (a typo, or a rule the change removed), and
    expected faults that cannot be reported (another camera, or the scene model is off)."""
    rules = {(p.zone.id, p.rule.event_code) for p in camera.rules(enabled_only=True)}
    zones = {z.id for z in camera.zones}
    out = []
    elsewhere = "{id}: camera {camera!r} is not the replayed camera {replayed!r}; it will be missed"
    for item in truth.for_camera(camera.id):
        if item.camera != camera.id:
            out.append(elsewhere.format(id=item.id, camera=item.camera, replayed=camera.id))
        elif item.zone not in zones:
            out.append(f"{item.id}: camera {camera.id!r} has no zone {item.zone!r} (zones: {sorted(zones)})")
        elif (item.zone, item.event) not in rules:
            out.append(f"{item.id}: zone {item.zone!r} has no enabled rule for event {item.event}")
    for fault in truth.faults_for_camera(camera.id) or []:
        if fault.camera != camera.id:
            out.append(elsewhere.format(id=fault.id, camera=fault.camera, replayed=camera.id))
        elif not scene_enabled:
            out.append(f"{fault.id}: the config's scene model is off (scene.enabled), so no device fault is reported")
    return out


def fault_warning(truth: Truth, outcome: FaultOutcome | None, messages: Sequence[CaseMessage]) -> list[str]:
    """Device faults reported on a clip whose truth file does not score them: said, not silently dropped."""
    if outcome is not None:
        return []
    reported = observed_faults(messages)
    if not reported:
        return []
    kinds = sorted({kind for fault in reported for kind in fault.kinds})
    return [
        f"{len(reported)} device fault(s) reported ({', '.join(kinds)}) but {truth.path.name} has no 'faults' "
        "list, so faults are not scored; add one (an empty list if there should be none)"
    ]


def evaluate_clip(
    config: EdgeConfig,
    truth: Truth,
    run_dir: Path,
    detectors: dict[str, Detector],
    epoch: float,
    annotation: Annotation | None = None,
    progress: ClipProgress | None = None,
    suppressions: list[Suppression] | None = None,
) -> ClipEvaluation:
    """Replay one truth file's clip from a clean state and match its cases to the truth.

    `suppressions`: objects the platform rejected earlier, which the clean state starts with."""
    camera = truth_camera(config, truth)
    for stale in run_dir.glob("state.db*"):
        stale.unlink()  # a fresh rule state: the same clip gives the same cases
    if suppressions:
        run_dir.mkdir(parents=True, exist_ok=True)
        store = CaseStore(run_dir / "state.db")
        store.add_suppressions(suppressions)
        store.close()
    sink = JsonLinesSink(run_dir)
    annotator = None
    if annotation is not None:
        names = {model_id: det.class_names for model_id, det in detectors.items()}
        annotator = VideoAnnotator(annotation.folder / f"{run_dir.name}.mp4", camera, names, annotation.codec)
    try:
        result = replay_clip(
            config,
            truth.clip,
            run_dir,
            camera_id=camera.id,
            epoch=epoch,
            sink=sink,
            detectors=detectors,
            observer=annotator,
            progress=None if progress is None else lambda media_s: progress(truth, media_s),
        )
    finally:
        if annotator is not None:
            annotator.close()
    outcome = match_cases(truth.for_camera(camera.id), observed_cases(result.messages))
    expected_faults = truth.faults_for_camera(camera.id)
    faults = None if expected_faults is None else match_faults(expected_faults, observed_faults(result.messages))
    warnings = truth_warnings(truth, camera, config.scene.enabled) + fault_warning(truth, faults, result.messages)
    evaluation = ClipEvaluation(truth, camera.id, run_dir, result, outcome, faults, warnings)
    if annotator is not None and annotation is not None:
        evaluation.video = annotator.path
        evaluation.sheet = annotation.folder / f"{run_dir.name}-cases.png"
        contact_sheet(result.messages, evaluation.sheet)
    return evaluation


def evaluate(
    config: EdgeConfig,
    truths: Sequence[Truth],
    out: Path,
    epoch: StartEpoch,
    thresholds: Thresholds,
    annotation: Annotation | None = None,
    progress: ClipProgress | None = None,
    plan: VerdictPlan | None = None,
) -> Evaluation:
    """Replay and match every truth file, then score per event class and apply the gate.

    With a verdict `plan`, each clip's rejected cases get the platform's verdict and the clip is
    replayed again from the suppressions they made (`after`, gated too)."""
    cameras = [truth_camera(config, truth) for truth in truths]  # every naming error before any replay
    loaded: dict[str, Detector] = {}
    clips, after = [], []
    for n, (truth, camera) in enumerate(zip(truths, cameras, strict=True), 1):
        needed = models_for(camera)
        loaded.update(load_detectors(config, [m for m in needed if m not in loaded]))
        run_dir = out / f"{n:02d}-{truth.name}"
        detectors = {m: loaded[m] for m in needed}
        clips.append(evaluate_clip(config, truth, run_dir, detectors, epoch(camera.id), annotation, progress))
        if plan is not None:
            after.append(_after_verdicts(config, clips[-1], plan, detectors, epoch(camera.id), progress))
    evaluation = summarise(clips, thresholds)
    if plan is not None:
        evaluation.after = summarise(after, thresholds)
    return evaluation


def _after_verdicts(
    config: EdgeConfig,
    first: ClipEvaluation,
    plan: VerdictPlan,
    detectors: dict[str, Detector],
    epoch: float,
    progress: ClipProgress | None,
) -> ClipEvaluation:
    """The platform rejects the plan's cases of the first replay; the clip is replayed from what they taught."""
    matched = {m.expected.id: m.case.case_id for m in first.outcome.matches}
    names = {model_id: list(det.class_names) for model_id, det in detectors.items()}
    rejected = rejections(plan, first.truth, matched)
    judged, suppressions = apply(config, first.camera_id, first.run_dir / "state.db", names, rejected)
    items = {item for item, case_id in matched.items() if case_id in judged}
    run_dir = first.run_dir.with_name(first.run_dir.name + "-after-verdicts")
    truth = without(first.truth, items)
    shown = None if progress is None else lambda _truth, media_s: progress(first.truth, media_s)  # its own bar
    second = evaluate_clip(config, truth, run_dir, detectors, epoch, None, shown, suppressions)
    second.rejected = judged
    return second


def summarise(clips: list[ClipEvaluation], thresholds: Thresholds) -> Evaluation:
    """Score the clips' cases per event class and their faults per kind (where truth lists faults), and gate."""
    scores = score(clip.outcome for clip in clips)
    fault_outcomes = [clip.faults for clip in clips if clip.faults is not None]
    fault_scores = score_faults(fault_outcomes) if fault_outcomes else None
    failures = gate(scores, thresholds) + ([] if fault_scores is None else gate_faults(fault_scores, thresholds))
    return Evaluation(clips, scores, thresholds, failures, fault_scores)
