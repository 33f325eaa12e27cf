"""Which of a camera's frames the detector sees, and which reuse the last answer it gave.

The change gate (edge/scene/change.py) decides per frame, before inference, whether the detector
must run; a frame it lets pass reuses the detections of the frame the detector last ran on. Frames
are admitted in order but may be dropped under overload before they are analysed, so the ledger
here remembers every admitted frame until it (or a later one) comes back: a gated frame whose
reference never came back is not analysed at all (`lost`), and the next frame runs the detector.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from edge.config import CameraConfig, EdgeConfig
from edge.scene import ChangeGate, bounding, zone_regions
from edge.types import Detections, Frame, Region

FrameKey = tuple[int, float]  # (index, media_time): one analysed frame of the camera


def frame_key(frame: Frame) -> FrameKey:
    return frame.index, frame.media_time


@dataclass(frozen=True, slots=True)
class GateCounts:
    """Analysed frames by what the change gate decided: the detector ran, its last answer was reused,
    or a reused answer was lost with its frame (dropped under overload: the frame was not analysed)."""

    inferred: int
    reused: int
    lost: int


@dataclass(frozen=True, slots=True)
class Admission:
    """What a frame needs from the shared inference engine: `models` to run on it (none: reuse or no
    detector rules) and the `region` of the frame they must look at (None: all of it)."""

    models: list[str]
    region: Region | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """The detections an analysed frame goes on with; `detections` None: the answer it was to reuse
    is lost (its frame was dropped), so this frame is not analysed."""

    detections: Mapping[str, Detections] | None
    reused: bool


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A frame on its way through inference: `reuses` names the frame whose detections stand for it."""

    key: FrameKey
    reuses: FrameKey | None


@dataclass(frozen=True, slots=True)
class _Inferred:
    """The detector's latest answer for the camera, before tracking."""

    key: FrameKey
    detections: dict[str, Detections]


def inference_plan(config: EdgeConfig, camera: CameraConfig) -> tuple[ChangeGate, Region | None]:
    """The change gate over the zones' regions, and the region the detector must look at.

    With privacy on, both cover the whole frame: bystanders anywhere must be blurred where they
    are now, not where the last inferred frame saw them, nor left unseen outside the zones."""
    zones = [z.points for z in camera.zones if any(r.enabled for r in z.rules)]
    gaps = [
        g
        for placed in camera.rules(enabled_only=True)
        for g in (placed.rule.gap_allowance_s, placed.rule.clear_after_s)
    ]
    tolerance_s = min(gaps, default=None)
    if config.evidence.privacy.enabled or not zones:
        return ChangeGate(config.change_gate, [], tolerance_s), None
    watch = zone_regions(zones, config.change_gate.margin)
    inference = config.inference
    crop = bounding(zone_regions(zones, inference.crop_margin)) if inference.crop_to_zones else None
    return ChangeGate(config.change_gate, watch, tolerance_s), crop


class GateLedger:
    """One camera's change gate with what it decided for the frames still on their way; not thread-safe."""

    def __init__(self, gate: ChangeGate, region: Region | None) -> None:
        self._gate, self.region = gate, region
        self._reference: FrameKey | None = None  # the last frame admitted to run the detector
        self._inferred: _Inferred | None = None
        # frames admitted and not analysed yet: each leaves when it (or a later frame: it was dropped) is
        self._admitted: deque[_Admitted] = deque()
        self._inferred_frames = self._reused_frames = self._lost_frames = 0

    @property
    def counts(self) -> GateCounts:
        return GateCounts(self._inferred_frames, self._reused_frames, self._lost_frames)

    def replan(self, gate: ChangeGate, region: Region | None) -> None:
        """The camera's zones changed: a new gate (whose first frame runs the detector) and region."""
        self._gate, self.region = gate, region

    def admit(self, frame: Frame, model_ids: list[str]) -> Admission:
        """Models to run on `frame`: none where the gate lets the last inferred frame's detections stand."""
        verdict = self._gate.check(frame.image, frame.media_time)
        reuses = None if verdict.run else self._reference  # the gate only says no after a run
        if reuses is None:
            self._reference = frame_key(frame)
        self._admitted.append(_Admitted(frame_key(frame), reuses))
        return Admission([]) if reuses is not None else Admission(model_ids, self.region)

    def resolve(self, frame: Frame, detections: Mapping[str, Detections]) -> Resolved:
        """The detections `frame` is analysed with: its own, or those of the frame it was admitted to reuse."""
        reuses = self._take(frame)
        if reuses is not None:
            if self._inferred is None or self._inferred.key != reuses:
                self._lost_frames += 1
                self._gate.reset()
                return Resolved(None, reused=True)
            self._reused_frames += 1
            return Resolved(self._inferred.detections, reused=True)
        if detections:
            self._inferred = _Inferred(frame_key(frame), dict(detections))
            self._inferred_frames += 1
        return Resolved(detections, reused=False)

    def _take(self, frame: Frame) -> FrameKey | None:
        """What `admit` decided for `frame` (None: its detections are its own); earlier frames never came back."""
        key = frame_key(frame)
        if not any(a.key == key for a in self._admitted):
            return None  # not admitted through the gate (a caller that runs the detector itself)
        while (admitted := self._admitted.popleft()).key != key:
            continue
        return admitted.reuses
