"""One patrol visit to a video stream: connect, take the first analysable key frames, disconnect.

A visit opens the camera as the continuous stream does (`open_source`: its timeouts, fast probing,
its error wording), decodes key frames only (a visit wants pictures now, not motion), skips damaged
pictures as `FrameDecoder` marks them, and hangs up after `pictures_per_visit` pictures or
`visit_timeout_s`, whichever comes first. Every failure (refused, no answer, no key frame, garbage)
is a failed visit with its reason, never an exception: the scheduler counts it and backs off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from edge.config import CameraConfig
from edge.ingest.decode import FrameDecoder, StreamStalled
from edge.ingest.errors import SourceError
from edge.ingest.source import describe_error, open_source, plan_source

KEY_FRAME_RATE = 1000.0  # the sampler keeps every key frame: a visit takes the first K that decode clean


@dataclass(frozen=True, slots=True)
class Capture:
    """One analysable picture a visit took."""

    image: np.ndarray  # (H, W, 3) uint8 BGR
    wall_time: float  # time.time() when it was decoded


@dataclass(slots=True)
class VisitOutcome:
    """What one visit got: how many pictures, or why it failed (a visit with no picture has failed)."""

    camera_id: str
    started: float  # time.time()
    duration_s: float = 0.0
    pictures: int = 0
    error: str | None = None
    packets: int = 0
    damaged: int = 0  # decoded pictures skipped as damaged (or referencing damage)
    corrupt: int = 0

    @property
    def failed(self) -> bool:
        return not self.pictures


OnCapture = Callable[[Capture], None]  # each picture as it is taken (the scheduler sends it to inference)


def stream_visit(camera: CameraConfig, on_capture: OnCapture, stop: threading.Event | None = None) -> VisitOutcome:
    """Visit a stream camera once (blocking: the scheduler runs visits on its own threads)."""
    analysis, source = camera.analysis, camera.source
    limit = analysis.visit_timeout_s
    outcome = VisitOutcome(camera.id, time.time())
    begun = time.monotonic()
    bounded = source.model_copy(
        update={
            "open_timeout_s": min(source.open_timeout_s, limit),
            "read_timeout_s": min(source.read_timeout_s, limit),
            "stall_timeout_s": min(source.stall_timeout_s, limit),
        }
    )
    plan = plan_source(bounded)
    try:
        container = open_source(plan, bounded)
    except SourceError as exc:
        return _ended(outcome, begun, str(exc))
    decoder = FrameDecoder(container, KEY_FRAME_RATE, "keyframes", stall_timeout_s=limit)
    try:
        with container:
            for picture in decoder:
                if picture.sampled:
                    outcome.pictures += 1
                    on_capture(Capture(picture.bgr(), time.time()))
                if outcome.pictures >= analysis.pictures_per_visit or (stop is not None and stop.is_set()):
                    break
                if time.monotonic() - begun > limit:
                    break
    except StreamStalled as exc:
        _ended(outcome, begun, f"{plan.label}: {exc}")
    except (av.FFmpegError, OSError) as exc:
        _ended(outcome, begun, f"{plan.label}: {describe_error(exc, bounded)}")
    stats = decoder.stats
    outcome.packets, outcome.damaged, outcome.corrupt = stats.packets, stats.damaged, stats.corrupt
    if outcome.failed and outcome.error is None:
        outcome.error = f"{plan.label}: no analysable key frame within the {limit:g} s visit timeout"
    return _ended(outcome, begun, outcome.error)


def _ended(outcome: VisitOutcome, begun: float, error: str | None) -> VisitOutcome:
    outcome.duration_s = time.monotonic() - begun
    outcome.error = error if outcome.failed else None
    return outcome
