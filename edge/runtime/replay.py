"""Replay a recorded clip through the whole pipeline, as fast as the machine allows.

source (file) -> sampler (media time) -> the shared inference engine -> CameraPipeline -> sink.
The same pipeline object as the live worker (tracker, scene model, tamper pauses and device faults,
rules, cases), fed by the same batched inference loop with its parallel runners; unlike a live
camera nothing is ever dropped: a bounded number of frames are in flight, and the decoder waits
for a free slot. The wall clock of the clip is a fixed epoch plus media time, so the
same clip, config and model give the same case ids, times and boxes on every run. Decoding runs
ahead in a thread so the decoder, the model and the rules overlap on a 2-core box. A patrol camera's
clip is visited instead (edge/runtime/patrol_replay.py).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edge.cases import models_for
from edge.config import EdgeConfig
from edge.infer import Detector, ModelError
from edge.infer.engine import InferenceEngine
from edge.ingest import read_file_frames
from edge.runtime.clips import ClipAttacher, clip_ring
from edge.runtime.handoff import MessageSink
from edge.runtime.patrol_replay import patrol_pictures
from edge.runtime.pipeline import CameraPipeline, PipelineStep, load_detectors
from edge.runtime.plates import PlateAttacher, PlateService, plates_wanted
from edge.types import CaseMessage, Detections, Frame

Progress = Callable[[float], None]  # media seconds analysed so far
FrameObserver = Callable[[PipelineStep], None]  # sees every analysed frame (annotated video, evaluation)


@dataclass
class ReplayResult:
    camera_id: str
    clip: Path
    frames_analysed: int = 0
    frames_reused: int = 0  # analysed with the previous detections: the change gate saw no zone change
    media_seconds: float = 0.0
    wall_seconds: float = 0.0
    messages: list[CaseMessage] = field(default_factory=list)

    @property
    def speed(self) -> float:
        """How many times faster than real time the clip was analysed."""
        return self.media_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def new_cases(self) -> list[CaseMessage]:
        return [m for m in self.messages if m.kind == "new" and not m.is_device_fault]

    @property
    def faults(self) -> list[CaseMessage]:
        return [m for m in self.messages if m.is_device_fault]


def _prefetch(frames: Iterator[Frame], depth: int) -> Iterator[Frame]:
    """Decode in a background thread, `depth` frames ahead; re-raise decode errors here."""
    box: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def pump() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        box.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            box.put(exc)

    thread = threading.Thread(target=pump, name="replay-decode", daemon=True)
    thread.start()
    try:
        while (item := box.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _wait_for_slot(slots: threading.Semaphore, inference: InferenceEngine) -> None:
    """Block until a frame may be submitted; a batch the model failed on is never delivered, so fail here."""
    while not slots.acquire(timeout=0.5):
        failed = sorted(m for m, stats in inference.stats().models.items() if stats.failed_batches)
        if failed:
            raise ModelError(f"model {failed[0]!r} failed on frames of the clip (the log has the error)")


def replay_clip(
    config: EdgeConfig,
    clip: Path,
    run_dir: Path,
    camera_id: str | None = None,
    epoch: float = 0.0,
    sink: MessageSink | None = None,
    progress: Progress | None = None,
    detectors: dict[str, Detector] | None = None,
    observer: FrameObserver | None = None,
    realtime: bool = False,
) -> ReplayResult:
    """Analyse `clip` as camera `camera_id` (default: the first camera) and return its messages.

    Rule state lives in `run_dir/state.db`; a fresh `run_dir` gives a fresh, reproducible run.
    `realtime` paces the replay to the clip's own speed (a live-like run for demos and soak tests).
    """
    camera = config.camera(camera_id) if camera_id else config.cameras[0]
    result = ReplayResult(camera.id, clip)

    def deliver(message: CaseMessage) -> None:
        result.messages.append(message)
        if sink is not None:
            sink(message)

    if detectors is None:
        detectors = load_detectors(config, models_for(camera))
    class_names = {mid: det.class_names for mid, det in detectors.items()}
    ring = clip_ring(config.evidence.clip) if camera.clip else None
    clips = ClipAttacher(ring, config.evidence.clip, wall_bound=False) if ring is not None else None
    service = PlateService(config) if plates_wanted(config) else None
    plates = PlateAttacher(service, config, camera, wall_bound=False) if service is not None else None
    pipeline = CameraPipeline(config, camera.id, run_dir / "state.db", class_names, deliver, clips=clips, plates=plates)
    # a replay never drops a frame: nothing is stale (media time, not the wall clock), and the
    # decoder waits while `depth` frames are in flight (waiting, in the model, in the rules), the
    # camera's queue being as deep, so it never overflows; the depth keeps every runner fed
    depth = config.inference.queue_per_camera + config.inference.runners + 1
    settings = {"staleness_s": float("inf"), "queue_per_camera": depth}
    inference = InferenceEngine(detectors, config.inference.model_copy(update=settings))
    slots = threading.Semaphore(depth)
    failures: list[BaseException] = []
    started = time.perf_counter()

    def analyse(frame: Frame, detections: dict[str, Detections]) -> None:
        try:
            if not failures:
                step = pipeline.analyse(frame, detections, snapshot=observer is not None)
                if observer is not None:
                    observer(step)
                result.frames_analysed += 1
                result.media_seconds = frame.media_time
                if progress is not None:
                    progress(result.media_seconds)
        except BaseException as exc:  # raised by replay_clip once the loop has stopped
            failures.append(exc)
        finally:
            slots.release()

    inference.start()
    try:
        frames = read_file_frames(clip, camera.id, camera.analysis.fps, epoch=epoch, packets=ring)
        if camera.analysis.mode == "patrol":  # visits wait for the rules' last answer: no decoding ahead

            def settle() -> None:
                for _ in range(depth):
                    _wait_for_slot(slots, inference)
                for _ in range(depth):
                    slots.release()

            frames = patrol_pictures(frames, camera, config.patrol, pipeline, settle)
        else:
            frames = _prefetch(frames, depth=depth)
        for frame in frames:
            if realtime:
                time.sleep(max(0.0, frame.media_time - (time.perf_counter() - started)))
            _wait_for_slot(slots, inference)
            if failures:
                break
            admission = pipeline.admit(frame)  # no models: reused, or only class-agnostic rules
            inference.submit(frame, admission.models, analyse, region=admission.region)
        inference.stop(drain=not failures)
        if not failures:
            pipeline.finish()  # the clip ended: cases waiting for their clip's last seconds go now
        result.frames_reused = pipeline.gate_counts.reused
    finally:
        inference.stop(drain=not failures)
        pipeline.close()
        if service is not None:
            service.close()
    if failures:
        raise failures[0]
    result.wall_seconds = time.perf_counter() - started
    return result


def write_evidence(message: CaseMessage, evidence_dir: Path) -> dict[str, Path]:
    """Write a message's pictures under evidence_dir/<case_id>/ and return name -> path."""
    case_dir = evidence_dir / message.case_id
    case_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in message.pictures.items():
        path = case_dir / f"{message.seq:03d}-{Path(name).name}"
        path.write_bytes(data)
        paths[name] = path
    return paths


class JsonLinesSink:
    """Replay output a tester can check: one JSON line per message plus the evidence files."""

    def __init__(self, run_dir: Path) -> None:
        self.evidence_dir = run_dir / "evidence"
        self.path = run_dir / "cases.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self.picture_paths: dict[str, dict[str, Path]] = {}

    def __call__(self, message: CaseMessage) -> None:
        paths = write_evidence(message, self.evidence_dir)
        self.picture_paths[message.message_id] = paths
        line = {
            "message_id": message.message_id,
            "case_id": message.case_id,
            "seq": message.seq,
            "kind": message.kind,
            "body": message.body,
            "pictures": {name: str(p) for name, p in paths.items()},
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
