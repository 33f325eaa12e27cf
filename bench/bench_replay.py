"""How close `edge replay` runs to the model's ceiling on this box, measured in the same run.

1. ceiling: the bundled detector (the demo config's model section) running `detect()` flat out on
   pre-decoded frames of streams/vtest.avi (the frames the replay analyses), from
   `inference.runners` threads, batches of the size the engine forms, for --seconds: frames/s;
2. replay: `replay_clip` of streams/vtest.avi with streams/demo.yaml into a fresh run directory
   (decoding, the shared inference engine with its parallel runners, tracker, rules, cases):
   analysed frames/s, and its speed against real time;
3. single runner: the same replay with `inference.runners: 1`, the figure before replay shared the
   worker's engine, so the gain is visible.
The three are interleaved for --rounds rounds (other work on the box changes between them) and the
medians reported, with the ratio replay / ceiling (target >= 0.8) and replay / single runner, and
for each replay the share of its wall time its runners spent inside the model (whether the replay
keeps the model fed) and the process's CPU time per frame against the ceiling's (what decoding and
the pipeline add): both depend little on what else runs on the box, unlike frames/s.

Usage: .venv/bin/python bench/bench_replay.py [--seconds 8] [--fps 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import onnxruntime as ort

from edge.cases import models_for
from edge.config import EdgeConfig, load_config
from edge.infer import Detector
from edge.ingest import read_file_frames
from edge.runtime.pipeline import load_detectors
from edge.runtime.replay import ReplayResult, replay_clip
from edge.types import Detections

from _common import REPO, VTEST, for_seconds, machine


@dataclass(frozen=True)
class Ceiling:
    rate: float  # frames/s
    cpu_ms: float  # CPU time of the process per frame (all threads)


def ceiling(detector: Detector, frames: list[np.ndarray], runners: int, seconds: float) -> Ceiling:
    """Frames/s of `detect()` (pre- and post-processing included) from `runners` threads, no decoding."""
    batch = detector.preferred_batch
    done = [0] * runners
    start, cpu = time.perf_counter(), time.process_time()

    def run(i: int, stop: threading.Event) -> None:
        k = i * batch
        while not stop.is_set():
            detector.detect([frames[(k + j) % len(frames)] for j in range(batch)])
            done[i] += batch
            k += runners * batch

    for_seconds(run, runners, seconds)
    frames_done = sum(done)
    return Ceiling(frames_done / (time.perf_counter() - start), (time.process_time() - cpu) / frames_done * 1000)


class TimedDetector:
    """The detector, adding up the seconds its `detect()` calls take (over all runner threads)."""

    def __init__(self, detector: Detector) -> None:
        self._detector = detector
        self._lock = threading.Lock()
        self.busy_s = 0.0

    def __getattr__(self, name: str) -> object:
        return getattr(self._detector, name)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        started = time.perf_counter()
        try:
            return self._detector.detect(images)
        finally:
            with self._lock:
                self.busy_s += time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    """One replay, the share of its wall time its runners spent inside the model, and what a frame cost."""

    result: ReplayResult
    busy: float
    detect_ms: float  # mean time of one detect() call inside the replay
    cpu_ms: float  # CPU time of the process per analysed frame: decoding, model, pipeline

    @property
    def rate(self) -> float:
        return self.result.frames_analysed / self.result.wall_seconds


def with_runners(config: EdgeConfig, runners: int) -> EdgeConfig:
    return config.model_copy(update={"inference": config.inference.model_copy(update={"runners": runners})})


def replay(config: EdgeConfig, model_id: str, detector: Detector) -> Run:
    """One replay of the whole clip into a fresh run directory (fresh rule state, same cases every time)."""
    timed = TimedDetector(detector)
    cpu = time.process_time()
    with tempfile.TemporaryDirectory() as run_dir:
        result = replay_clip(config, VTEST, Path(run_dir), detectors={model_id: cast(Detector, timed)})
    n = result.frames_analysed
    busy = timed.busy_s / (result.wall_seconds * config.inference.runners)
    return Run(result, busy, timed.busy_s / n * 1000, (time.process_time() - cpu) / n * 1000)


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def describe(run: Run) -> str:
    r = run.result
    return (
        f"{run.rate:.1f} frames/s: {r.frames_analysed} frames over {r.media_seconds:.1f} s of video "
        f"in {r.wall_seconds:.1f} s ({r.speed:.1f}x real time), {len(r.new_cases)} new cases; "
        f"runners inside the model {run.busy:.0%} of the time, {run.detect_ms:.0f} ms per detect(), "
        f"{run.cpu_ms:.0f} ms CPU per frame"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each ceiling measurement")
    parser.add_argument("--fps", type=float, default=None, help="analysed frames per media second (default: demo's)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--config", type=Path, default=REPO / "streams" / "demo.yaml")
    args = parser.parse_args()

    config = load_config(args.config)
    camera = config.cameras[0]
    if args.fps is not None:
        camera.analysis.fps = args.fps
    runners = config.inference.runners
    (model_id, detector), *others = load_detectors(config, models_for(camera)).items()
    if others:
        parser.error(f"{args.config}: this bench measures one model, the camera uses more")
    frames = [f.image for f in read_file_frames(VTEST, camera.id, camera.analysis.fps)]
    detector.detect(frames[:1])  # warm-up: first-run allocations are not the model's speed
    print(f"machine: {machine()}; CPU only, onnxruntime {ort.__version__}, providers {detector.providers}")
    print(
        f"model {model_id!r}: {detector.format}, batch {detector.preferred_batch}; clip {VTEST.name} analysed at "
        f"{camera.analysis.fps:g} fps ({len(frames)} frames); inference.runners {runners}; "
        f"{args.rounds} interleaved rounds"
    )
    tops: list[Ceiling] = []
    fast: list[Run] = []
    single: list[Run] = []
    for r in range(args.rounds):
        tops.append(ceiling(detector, frames, runners, args.seconds))
        fast.append(replay(config, model_id, detector))
        single.append(replay(with_runners(config, 1), model_id, detector))
        print(
            f"  round {r + 1}: ceiling {tops[-1].rate:.1f}, replay {fast[-1].rate:.1f}, "
            f"single runner {single[-1].rate:.1f} frames/s (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    top = sorted(tops, key=lambda c: c.rate)[len(tops) // 2]
    best, one = median_run(fast), median_run(single)
    print(
        f"ceiling (detect() on pre-decoded frames, {runners} threads):  {top.rate:.1f} frames/s, "
        f"{runners / top.rate * 1000:.0f} ms per detect(), {top.cpu_ms:.0f} ms CPU per frame"
    )
    print(f"replay ({runners} runners):  {describe(best)}")
    print(f"replay (1 runner):   {describe(one)}")
    per_round = " ".join(f"{f.rate / t.rate:.2f}" for f, t in zip(fast, tops, strict=True))
    print(f"ratio replay / ceiling: {best.rate / top.rate:.2f} (target >= 0.8); per round: {per_round}")
    print(f"CPU per frame, ceiling / replay: {top.cpu_ms / best.cpu_ms:.2f} (what decoding and the pipeline add)")
    print(f"ratio replay / single runner: {best.rate / one.rate:.2f}")


if __name__ == "__main__":
    main()
