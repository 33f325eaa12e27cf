"""The per-camera pipeline: one analysed frame's detections -> case and device-fault messages -> sink.

    frame -> [change gate: the detector runs, or the last inferred frame's detections stand] ->
    detections -> [view change: every candidate ends] -> tracker -> scene model (static objects,
    tamper) -> [zones paused while tampered, a device fault reported instead] -> rules -> cases -> sink

Callers ask `admit(frame)` which models to run on a frame (none where the camera's zones look as
they did on the last frame the detector saw, edge/scene/change.py) and on which part of it (with
`inference.crop_to_zones`, the zones' box), hand the frame to the shared inference engine with
those, and pass what comes back to `analyse`, in order. The live worker, `edge replay`, `edge eval`
and `edge demo` all run this object, so a tester's replay makes exactly the decisions the box will.
Every message takes one route to the sink (edge/runtime/handoff.py): the case engine keeps each of
its messages in its state file until the sink has taken it (a crash between the two never loses
one; the outbox stores a message id once); the fault reporter holds its device faults the same way.
Thread-safe: the API may read a snapshot or apply an edit while frames are analysed (between two).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

from edge.cases import (
    CaseEngine,
    CaseSnapshot,
    CaseStore,
    Quality,
    StoreError,
    SuppressionView,
    VerdictRecord,
    VerdictRequest,
    bystanders,
    quality,
)
from edge.cases.verify import Verification, VerifyRequest
from edge.config import CameraConfig, EdgeConfig
from edge.infer import Detector, load_detector
from edge.runtime.admission import Admission, GateCounts, GateLedger, inference_plan
from edge.runtime.clips import ClipAttacher
from edge.runtime.faults import FaultReporter
from edge.runtime.handoff import HandOff, MessageSink, NoSpace, StorageAlarm
from edge.runtime.patrol_memory import PackedFrame, unpacked
from edge.runtime.plates import PlateAttacher
from edge.runtime.verifier import Verifier
from edge.scene import SceneModel, SceneUpdate, TamperStatus, ViewChangeDetector
from edge.track import Tracker
from edge.types import CaseMessage, Detections, Frame

log = logging.getLogger(__name__)

CaseGate = Callable[[], bool]  # may new cases open now? (`Outbox.disk.may_open_cases`: false when the disk is full)


def load_detectors(config: EdgeConfig, model_ids: Sequence[str]) -> dict[str, Detector]:
    """The named models, loaded once: every camera of the worker (and a replay) shares them."""
    return {model_id: load_detector(config.model(model_id)) for model_id in model_ids}


@dataclass(frozen=True, slots=True)
class PipelineStep:
    """What one analysed frame went through, for observers (annotated video, evaluation).

    detections: per model, with the pipeline's own tracker ids; paused: the view was tampered or the
    disk nearly full, so no rule saw this frame; cases: the rules' timers after the frame (only when
    asked for).
    """

    frame: Frame
    detections: dict[str, Detections]
    scene: SceneUpdate | None
    paused: bool
    messages: list[CaseMessage]
    cases: CaseSnapshot | None = None
    view_changed: bool = False  # a cut or re-aim since the previous frame ended every candidate
    reused: bool = False  # the change gate let the last inferred frame's detections stand


@dataclass(frozen=True, slots=True)
class LiveView:
    """The camera's latest analysed frame as its rules saw it: what the operator's overlay draws.

    frame: the analysed frame (kept until the next one; the newest decoded frame may be later);
    detections: per model, with the pipeline's tracker ids; class_names: per model; scene: the scene
    model's static objects (class ids of `scene_model`) and tamper verdict, None without a scene model;
    paused: no rule saw the frame; cases: the rules' places (candidates) and open cases after it.
    """

    frame: Frame
    detections: dict[str, Detections]
    class_names: dict[str, list[str]]
    scene: SceneUpdate | None
    scene_model: str | None
    paused: bool
    cases: CaseSnapshot


@dataclass(frozen=True, slots=True)
class _Seen:
    """The latest step's inputs to a LiveView (its case snapshot is taken when it is read); a patrol
    camera holds its frame as JPEG between visits (edge/runtime/patrol_memory.py)."""

    frame: Frame | PackedFrame
    detections: dict[str, Detections]
    scene: SceneUpdate | None
    paused: bool


class CameraPipeline:
    """Tracker, scene model, device faults, rules and cases of one camera, with state that survives restarts."""

    def __init__(
        self,
        config: EdgeConfig,
        camera_id: str,
        state_path: Path,
        class_names: Mapping[str, Sequence[str]],
        sink: MessageSink,
        zone_version: int = 1,
        may_open_cases: CaseGate | None = None,
        clips: ClipAttacher | None = None,
        no_space: NoSpace | None = None,
        plates: PlateAttacher | None = None,
    ) -> None:
        """`may_open_cases`: asked before each frame's rules; while it says no, the rules are skipped,
        so rule state never advances past what the outbox can take (held messages still go out).
        `no_space`: told when the state file or the sink failed for disk space (the frame's rules then
        did not happen, and messages not yet taken stay held for the next frame).
        `clips`: adds an evidence clip to each new case (its message waits the clip's seconds after)."""
        self.camera_id = camera_id
        self._plates = plates  # reads the vehicle's plate for plate rules' messages (edge/runtime/plates.py)
        self._closed = False
        self._config = config
        self._storage_failed = StorageAlarm(camera_id, no_space)
        self._hand = HandOff(sink, self._storage_failed, clips, plates)
        self._may_open_cases = may_open_cases or (lambda: True)
        self._lock = threading.Lock()
        self._class_names = {k: list(v) for k, v in class_names.items()}
        self._trackers = {model_id: Tracker(config.tracker) for model_id in self._class_names}
        self._view = ViewChangeDetector(config.view_change)
        camera = config.camera(camera_id)
        self._gate = GateLedger(*inference_plan(config, camera))
        self._scene = SceneModel(camera_id, config.scene) if config.scene.enabled else None
        self._faults = FaultReporter(config, camera)
        self._seen: _Seen | None = None
        state_path.parent.mkdir(parents=True, exist_ok=True)
        self._store = CaseStore(state_path)
        try:
            self._cases = CaseEngine(config, camera_id, self._store, self._class_names, zone_version=zone_version)
            self._verifier = Verifier(self._cases)
            self._hand_off()  # messages a crash kept from the sink last time
        except BaseException:
            self._store.close()
            raise

    # -- what callers read ---------------------------------------------------------------------
    @property
    def model_ids(self) -> list[str]:
        """Models the camera's enabled rules need: a model runs only on cameras that need it."""
        with self._lock:
            return self._cases.model_ids

    @property
    def tamper(self) -> TamperStatus:
        return self._faults.status

    @property
    def camera_mode(self) -> tuple[str, int]:
        """The scene model's reading of the picture (day, low_light, infrared) and how often it changed;
        ("day", 0) without a scene model."""
        seen = self._seen
        update = seen.scene if seen is not None else None
        return (update.mode, update.mode_changes) if update is not None else ("day", 0)

    @property
    def gate_counts(self) -> GateCounts:
        with self._lock:
            return self._gate.counts

    def timing_candidates(self) -> bool:
        """True while a rule is timing a candidate (the camera's frames deserve inference priority)."""
        with self._lock:
            return self._cases.timing_candidates()

    def held_messages(self) -> list[CaseMessage]:
        """Messages the case state holds that the sink has not taken yet (a failing outbox leaves them here)."""
        with self._lock:
            return self._cases.pending_messages()

    def snapshot(self) -> CaseSnapshot:
        with self._lock:
            return self._cases.snapshot()

    def live_view(self) -> LiveView | None:
        """What the rules saw on the latest analysed frame and their timers now; None before the first frame."""
        with self._lock:
            seen = self._seen
            if seen is None:
                return None
            return LiveView(
                frame=unpacked(seen.frame),
                detections=seen.detections,
                class_names=self._class_names,
                scene=seen.scene,
                scene_model=self._scene_model_id(seen.detections) if seen.scene is not None else None,
                paused=seen.paused,
                cases=self._cases.snapshot(),
            )

    # -- the data flow -------------------------------------------------------------------------
    def admit(self, frame: Frame) -> Admission:
        """What to run on `frame` before `analyse`: no model where the change gate lets the last
        inferred frame's detections stand (or where the camera's rules need no detector)."""
        with self._lock:
            model_ids = self._cases.model_ids
            return self._gate.admit(frame, model_ids) if model_ids else Admission([])

    def analyse(self, frame: Frame, detections: Mapping[str, Detections], snapshot: bool = False) -> PipelineStep:
        """Run one analysed frame through every stage and hand its messages to the sink, in order.

        A frame `admit` gated gets the detections of the frame it reuses; if that frame never came
        back (dropped under overload), this one is not analysed either (a paused step) and the
        gate's next frame runs the detector."""
        with self._lock:
            resolved = self._gate.resolve(frame, detections)
            if resolved.detections is None:
                return PipelineStep(frame, {}, None, True, [])
            detections = resolved.detections
            view = self._view.update(frame.image)
            if view.changed:  # a cut, a preset switch, a re-aim: nothing seen before is known to be here now
                log.info("camera view cut", extra={"camera": frame.camera_id, "changed_share": round(view.share, 2)})
                for tracker in self._trackers.values():
                    tracker.reset()
                self._cases.end_candidates()
            tracked = {model_id: self._track(model_id, dets, frame) for model_id, dets in detections.items()}
            update = self._scene_update(frame, tracked)
            messages: list[CaseMessage] = []
            seen = bystanders(tracked, self._class_names) if self._config.evidence.privacy.enabled else None
            tamper = update.tamper if update is not None else TamperStatus()
            fault = self._faults.observe(frame, tamper, seen) if update is not None else None
            if fault is not None:
                log.warning(
                    "camera view tampered",
                    extra={"camera": frame.camera_id, "tamper": tamper.kind, "detail": tamper.detail},
                )
                messages.append(fault)  # handed off with the case messages, device faults first
            # a moved or covered view makes every zone meaningless; a full disk could not keep its cases
            tampered = tamper.active
            paused = tampered or not self._may_open_cases()
            static = update.static_objects if update is not None else None
            if not paused:
                emitted = self._stored(lambda: self._cases.process(frame, tracked, static))
                self._hand.hold(emitted, frame, self.release_overdue)
                if self._plates is not None and self._plates.reads_plates:  # a case is its vehicle's plate
                    self._plates.watch(frame, self._cases)
                messages += emitted
            messages += self._verifier.step(frame, tracked, static, view_bad=view.changed or tampered)
            self._hand_off(frame.media_time)
            cases = self._cases.snapshot() if snapshot else None
            self._seen = _Seen(frame, tracked, update, paused)
            return PipelineStep(frame, tracked, update, paused, messages, cases, view.changed, resolved.reused)

    def begin_visit(self, resumed: bool = False) -> None:
        """A patrol visit's pictures follow (edge/runtime/patrol.py): the gap before them is not absence.

        `resumed`: the camera's previous visit saw nothing (it failed) or this run has not visited it yet."""
        with self._lock:
            self._cases.begin_visit(resumed)

    def decision_due(self) -> float | None:
        """When one of the camera's rules could next confirm or clear (case clock); None: nothing timed."""
        with self._lock:
            return self._cases.decision_due()

    def end_visit(self) -> list[CaseMessage]:
        """The visit's pictures are all analysed: what it did not see is absent (cases clear, candidates end)."""
        with self._lock:
            emitted = self._stored(self._cases.end_visit)
            self._hand_off()
            if self._seen is not None:  # the live view's picture waits for the next visit small
                self._seen = replace(self._seen, frame=PackedFrame.pack(unpacked(self._seen.frame)))
            return emitted

    def _track(self, model_id: str, dets: Detections, frame: Frame) -> Detections:
        tracker = self._trackers.get(model_id)
        return tracker.update(dets, frame.media_time) if tracker is not None else dets

    def _scene_update(self, frame: Frame, tracked: Mapping[str, Detections]) -> SceneUpdate | None:
        """Static objects take their class from the camera's first model in config order."""
        if self._scene is None:
            return None
        model_id = self._scene_model_id(tracked)
        dets = tracked[model_id] if model_id else Detections.empty()
        names = self._class_names.get(model_id, []) if model_id else []
        return self._scene.update(frame, dets, names)

    def _scene_model_id(self, tracked: Mapping[str, Detections]) -> str | None:
        return next((m.id for m in self._config.models if m.id in tracked), None)

    def _hand_off(self, media_time: float | None = None, force: bool = False) -> None:
        """Sink every message the camera holds (device faults first, then its cases'), in order."""
        self._hand([self._faults, self._cases], media_time, force)

    def release_overdue(self) -> None:
        """Send messages whose clip wait ran out on the wall clock (no frame came to release them)."""
        with self._lock:
            if not self._closed:
                self._hand_off()

    def finish(self) -> None:
        """End of the source (a replay's last frame, a worker stopping): send what waits for a clip now."""
        with self._lock:
            if not self._closed:
                self._hand_off(force=True)

    def held_message_ids(self) -> list[str]:
        """Messages the sink has not taken yet (a full disk, a clip wait): kept in the state file."""
        with self._lock:
            return [m.message_id for m in self._cases.pending_messages()]

    def held_fault_ids(self) -> list[str]:
        """Device faults the sink has not taken yet: held in memory only, so a stop loses them (the
        camera's tamper state is judged afresh after the next start)."""
        with self._lock:
            return [m.message_id for m in self._faults.pending_messages()]

    # -- operator actions ----------------------------------------------------------------------
    def knows(self, case_id: str) -> bool:
        """A case of this camera (open, or cleared and kept in its state)."""
        with self._lock:
            return self._cases.knows(case_id)

    def verify(self, request: VerifyRequest, frames: int) -> Future[Verification]:
        """Look for the case in the next `frames` analysed frames; the future holds the answer."""
        with self._lock:
            return self._verifier.add(request, frames)

    def give_up(self, future: Future[Verification], detail: str) -> Verification:
        """The caller's wait is over: camera_unavailable (or the answer that landed meanwhile)."""
        with self._lock:
            answer = self._verifier.give_up(future, detail)
            self._hand_off()
            return answer

    def judge(self, case_id: str, request: VerdictRequest) -> tuple[VerdictRecord, bool]:
        """The platform's verdict on a case of this camera, stored with its state; (verdict, a retry's answer)."""
        with self._lock:
            return self._cases.judge(case_id, request)

    def stored_verdict(self, request_id: str) -> VerdictRecord | None:
        return self._store.verdict(request_id=request_id)

    def quality(self) -> list[Quality]:
        """Cases, verdicts and precision per zone/rule of this camera (flagged where noisy)."""
        return quality(self._store, self.camera_id, self._config.verdicts)

    def suppressions(self) -> list[SuppressionView]:
        with self._lock:
            return self._cases.suppressions.views()

    def remove_suppression(self, suppression_id: str) -> bool:
        with self._lock:
            return bool(self._cases.suppressions.remove([suppression_id]))

    def reload(self, camera: CameraConfig, zone_version: int) -> None:
        """Hot-apply a camera's zones and rules: they take effect on its next analysed frame."""
        with self._lock:
            self._cases.reload(camera, zone_version)
            if self._plates is not None:
                self._plates.reload(camera)
            self._gate.replan(*inference_plan(self._config, camera))  # its first frame runs the detector

    def rebase_scene(self) -> bool:
        """Take the current view as the new reference (after a deliberate re-aim); False without a scene model.

        A re-aim also ends the camera's suppressions: their places no longer show the same thing."""
        with self._lock:
            self._cases.suppressions.invalidate()
            if self._scene is None:
                return False
            self._scene.rebase()
        return True

    def close(self) -> None:
        """Close the state; messages still waiting for a clip stay stored and go (clipless) at the next start."""
        with self._lock:
            self._closed = True
            self._stored(self._cases.checkpoint)  # the timers moved since the last checkpoint
            self._store.close()

    def _stored(self, write: Callable[[], list[CaseMessage] | None]) -> list[CaseMessage]:
        """A case engine step that writes the state file; a failed write is an alarm, the step never happened."""
        try:
            return write() or []
        except StoreError as exc:
            self._storage_failed(exc)
            return []
