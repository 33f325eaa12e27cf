"""Replay a recorded clip through the whole pipeline, as fast as the machine allows.

source (file) -> sampler (media time) -> detector (batches) -> tracker/rules/cases -> sink.
The wall clock of the clip is a fixed epoch plus media time, so the same clip, config and model
give the same case ids, times and boxes on every run. Decoding runs one step ahead in a thread so
the decoder and the detector overlap on a 2-core box.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from edge.config import EdgeConfig
from edge.infer import Detector
from edge.ingest import read_file_frames
from edge.runtime.analysis import CameraAnalysis, MessageSink, load_detectors, models_for
from edge.types import CaseMessage, Detections, Frame

Progress = Callable[[float], None]  # media seconds analysed so far


class FrameObserver(Protocol):
    """Sees every analysed frame with its detections, the case engine's state and the messages it caused
    (annotated video, evaluation)."""

    def __call__(
        self, frame: Frame, detections: dict[str, Detections], state: dict[str, Any], messages: list[CaseMessage]
    ) -> None: ...


@dataclass
class ReplayResult:
    camera_id: str
    clip: Path
    frames_analysed: int = 0
    media_seconds: float = 0.0
    wall_seconds: float = 0.0
    messages: list[CaseMessage] = field(default_factory=list)

    @property
    def speed(self) -> float:
        """How many times faster than real time the clip was analysed."""
        return self.media_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def new_cases(self) -> list[CaseMessage]:
        return [m for m in self.messages if m.kind == "new"]


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


def _batches(frames: Iterator[Frame], size: int) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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
    """Analyse `clip` as camera `camera_id` (default: the first camera) and return its case messages.

    Rule state lives in `run_dir/state.db`; a fresh `run_dir` gives a fresh, reproducible run.
    `realtime` paces the replay to the clip's own speed (a live-like run for demos and soak tests).
    """
    camera = config.camera(camera_id) if camera_id else config.cameras[0]
    model_ids = models_for(camera)
    detectors = detectors if detectors is not None else load_detectors(config, model_ids)
    class_names = {mid: det.class_names for mid, det in detectors.items()}
    result = ReplayResult(camera.id, clip)

    def deliver(message: CaseMessage) -> None:
        result.messages.append(message)
        if sink is not None:
            sink(message)

    analysis = CameraAnalysis(config, camera.id, run_dir / "state.db", class_names, deliver)
    batch_size = max(1, min([config.inference.max_batch, *(d.preferred_batch for d in detectors.values())]))
    started = time.perf_counter()
    try:
        frames = read_file_frames(clip, camera.id, camera.analysis.fps, epoch=epoch)
        for batch in _batches(_prefetch(frames, depth=2 * batch_size), batch_size):
            if realtime:
                time.sleep(max(0.0, batch[-1].media_time - (time.perf_counter() - started)))
            per_model = {mid: det.detect([f.image for f in batch]) for mid, det in detectors.items()}
            for i, frame in enumerate(batch):
                detections: dict[str, Detections] = {mid: dets[i] for mid, dets in per_model.items()}
                messages = analysis.step(frame, detections)
                if observer is not None:
                    observer(frame, detections, analysis.engine.snapshot(), messages)
                result.frames_analysed += 1
                result.media_seconds = frame.media_time
            if progress is not None:
                progress(result.media_seconds)
    finally:
        analysis.close()
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
