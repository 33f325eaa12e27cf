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
medians reported, with the ratio replay / ceiling (target >= 0.8) and replay / single runner.

Usage: .venv/bin/python bench/bench_replay.py [--seconds 8] [--fps 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.cases import models_for
from edge.config import EdgeConfig, load_config
from edge.infer import Detector
from edge.ingest import read_file_frames
from edge.runtime.pipeline import load_detectors
from edge.runtime.replay import ReplayResult, replay_clip

from _common import REPO, VTEST, for_seconds, machine


def ceiling(detector: Detector, frames: list[np.ndarray], runners: int, seconds: float) -> float:
    """Frames/s of `detect()` (pre- and post-processing included) from `runners` threads, no decoding."""
    batch = detector.preferred_batch
    done = [0] * runners
    start = time.perf_counter()

    def run(i: int, stop: threading.Event) -> None:
        k = i * batch
        while not stop.is_set():
            detector.detect([frames[(k + j) % len(frames)] for j in range(batch)])
            done[i] += batch
            k += runners * batch

    for_seconds(run, runners, seconds)
    return sum(done) / (time.perf_counter() - start)


def with_runners(config: EdgeConfig, runners: int) -> EdgeConfig:
    return config.model_copy(update={"inference": config.inference.model_copy(update={"runners": runners})})


def replay(config: EdgeConfig, detectors: dict[str, Detector]) -> ReplayResult:
    """One replay of the whole clip into a fresh run directory (fresh rule state, same cases every time)."""
    with tempfile.TemporaryDirectory() as run_dir:
        return replay_clip(config, VTEST, Path(run_dir), detectors=detectors)


def rate(result: ReplayResult) -> float:
    return result.frames_analysed / result.wall_seconds


def median_result(results: list[ReplayResult]) -> ReplayResult:
    return sorted(results, key=rate)[len(results) // 2]


def describe(result: ReplayResult) -> str:
    return (
        f"{rate(result):.1f} frames/s: {result.frames_analysed} frames over {result.media_seconds:.1f} s of video "
        f"in {result.wall_seconds:.1f} s ({result.speed:.1f}x real time), {len(result.new_cases)} new cases"
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
    detectors = load_detectors(config, models_for(camera))
    (model_id, detector), *others = detectors.items()
    if others:
        parser.error(f"{args.config}: this bench measures one model, the camera uses {sorted(detectors)}")
    frames = [f.image for f in read_file_frames(VTEST, camera.id, camera.analysis.fps)]
    detector.detect(frames[:1])  # warm-up: first-run allocations are not the model's speed
    print(f"machine: {machine()}; CPU only, onnxruntime {ort.__version__}, providers {detector.providers}")
    print(
        f"model {model_id!r}: {detector.format}, batch {detector.preferred_batch}; clip {VTEST.name} analysed at "
        f"{camera.analysis.fps:g} fps ({len(frames)} frames); inference.runners {runners}; "
        f"{args.rounds} interleaved rounds"
    )
    tops: list[float] = []
    fast: list[ReplayResult] = []
    single: list[ReplayResult] = []
    for r in range(args.rounds):
        tops.append(ceiling(detector, frames, runners, args.seconds))
        fast.append(replay(config, detectors))
        single.append(replay(with_runners(config, 1), detectors))
        print(
            f"  round {r + 1}: ceiling {tops[-1]:.1f}, replay {rate(fast[-1]):.1f}, "
            f"single runner {rate(single[-1]):.1f} frames/s (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    top = statistics.median(tops)
    best, one = median_result(fast), median_result(single)
    print(f"ceiling (detect() on pre-decoded frames, {runners} threads):  {top:.1f} frames/s")
    print(f"replay ({runners} runners):  {describe(best)}")
    print(f"replay (1 runner):   {describe(one)}")
    print(f"ratio replay / ceiling: {rate(best) / top:.2f} (target >= 0.8)")
    print(f"ratio replay / single runner: {rate(best) / rate(one):.2f}")


if __name__ == "__main__":
    main()
