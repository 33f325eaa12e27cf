"""How many live cameras the worker sustains at 0.5 analysed frames/s each, vs the naive loop, same run.

Each simulated camera is an H.264 25 fps file (made from streams/vtest.avi in a temp dir: 2 s key
frame interval, no B-frames, as IP cameras send) read at real-time pace and looped, through
`edge.ingest.CameraStream`; camera starts are staggered over one GOP so key frames don't align.
- worker: decode policy 'auto' (key frames only once the GOP is measured), frames handed to one
  shared `InferenceEngine` (default threads: all cores but one for inference);
- naive: every frame decoded ('all'), and each camera's thread runs single-frame inference itself.
A camera count is sustained when, after a warm-up, cameras get >= 90% of 0.5 analysed frames/s and
the lag (result time minus the picture's real-time due time) does not grow: the median lag of the
last third of the window is at most 1 s above that of the first third. Both sides run at each
count of a ladder in turn (so they see the same background load), each until its first failure.
Reports the measured maxima and their ratio, and from the CPU time used at each side's largest
sustained count, the CPU cost per camera and the cameras it projects onto otherwise idle cores.

Usage: .venv/bin/python bench/bench_cameras.py [--seconds 30] [--counts 4 8 16 32 64]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import onnxruntime as ort

from edge.config import AnalysisConfig, CameraConfig, InferenceConfig, ModelConfig, SourceConfig
from edge.infer import Detector, InferenceEngine, load_detector
from edge.ingest import CameraStream, HealthRegistry
from edge.types import Detections, Frame

REPO = Path(__file__).resolve().parents[1]
RATE = 0.5  # analysed frames/s per camera
GOP_S = 2.0
WARMUP_S = 6.0
Setup = Callable[["Lags"], tuple[str, Callable[[Frame], None], Callable[[], None]]]


def make_clip(path: Path, seconds: float = 20.0) -> Path:
    """vtest pictures as 25 fps H.264 with a key frame every GOP_S seconds."""
    with av.open(str(REPO / "streams" / "vtest.avi")) as src, av.open(str(path), "w") as dst:
        out = dst.add_stream("libx264", rate=25)
        out.width, out.height, out.pix_fmt = 768, 576, "yuv420p"
        out.options = {
            "preset": "veryfast",
            "crf": "28",
            "x264-params": f"keyint={int(25 * GOP_S)}:scenecut=0:bframes=0",
        }
        for i, frame in enumerate(src.decode(video=0)):
            if i >= seconds * 25:
                break
            picture = frame.reformat(format="yuv420p")
            picture.pts, picture.time_base = i, Fraction(1, 25)
            for packet in out.encode(picture):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return path


class Lags:
    """Per analysed frame: (camera, result time, lag behind the picture's real-time due time)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self._anchor: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, frame: Frame, results: dict[str, Detections] | None = None) -> None:
        now = time.time()
        with self._lock:
            # the first frame of a camera is read on time: it fixes when media time 0 was due
            anchor = self._anchor.setdefault(frame.camera_id, frame.wall_time - frame.media_time)
            self.rows.append((frame.camera_id, now, now - (anchor + frame.media_time)))


def verdict(lags: Lags, cameras: int, begin: float, end: float) -> tuple[bool, str]:
    rows = np.array([(t, lag) for _, t, lag in lags.rows if begin <= t < end]).reshape(-1, 2)
    rate = len(rows) / cameras / (end - begin)
    third = (end - begin) / 3
    first = rows[rows[:, 0] < begin + third, 1]
    last = rows[rows[:, 0] >= end - third, 1]
    if not len(first) or not len(last):
        return False, f"{rate:.2f} fps/camera, too few results"
    growth = float(np.median(last) - np.median(first))
    ok = rate >= 0.9 * RATE and growth <= 1.0
    return ok, f"{rate:.2f} fps/camera, lag {np.median(first):.2f} -> {np.median(last):.2f} s"


def camera_config(i: int, clip: Path, decode: str) -> CameraConfig:
    return CameraConfig(
        id=f"cam{i:03d}",
        source=SourceConfig(url=str(clip), loop=True, live=True),
        analysis=AnalysisConfig(fps=RATE, decode=decode),
    )


@dataclass(frozen=True)
class Trial:
    cameras: int
    sustained: bool
    cpu_cores: float  # this process's CPU time over the window / window length

    @property
    def cores_per_camera(self) -> float:
        return self.cpu_cores / self.cameras


def trial(cameras: int, clip: Path, seconds: float, setup: Setup) -> Trial:
    lags = Lags()
    decode, on_frame, finish = setup(lags)
    health = HealthRegistry()
    streams = [CameraStream(camera_config(i, clip, decode), on_frame, health) for i in range(cameras)]
    t0 = time.time()
    for i, stream in enumerate(streams):
        time.sleep(max(0.0, t0 + i * GOP_S / cameras - time.time()))
        stream.start()
    time.sleep(WARMUP_S + seconds / 3 - (time.time() - t0))
    cpu0 = sum(os.times()[:2])
    time.sleep(WARMUP_S + seconds - (time.time() - t0))
    end = time.time()
    cpu = (sum(os.times()[:2]) - cpu0) / (seconds * 2 / 3)
    for stream in streams:
        stream.stop()
    finish()
    ok, detail = verdict(lags, cameras, end - seconds, end)
    print(
        f"    {cameras:3d} cameras: {'sustained' if ok else 'NOT sustained'} ({detail}; "
        f"{cpu:.2f} cores used, load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return Trial(cameras, ok, cpu)


def worker_setup(detector: Detector) -> Setup:
    def setup(lags: Lags) -> tuple[str, Callable[[Frame], None], Callable[[], None]]:
        engine = InferenceEngine({"m": detector}, InferenceConfig(max_batch=8, max_wait_ms=20, staleness_s=5))
        engine.start()

        def on_frame(frame: Frame) -> None:
            engine.submit(frame, ["m"], lags)

        return "auto", on_frame, lambda: engine.stop(drain=False)

    return setup


def naive_setup(detector: Detector) -> Setup:
    def setup(lags: Lags) -> tuple[str, Callable[[Frame], None], Callable[[], None]]:
        def on_frame(frame: Frame) -> None:
            lags(frame, {"m": detector.detect([frame.image])[0]})

        return "all", on_frame, lambda: None

    return setup


def ladder_search(setups: dict[str, Setup], clip: Path, seconds: float, counts: list[int]) -> dict[str, Trial | None]:
    """Both sides at each count in turn (so they share the machine's load), each until its first failure."""
    best: dict[str, Trial | None] = dict.fromkeys(setups)
    running = set(setups)
    for n in counts:
        for name, setup in setups.items():
            if name not in running:
                continue
            print(f"  {name}:", flush=True)
            result = trial(n, clip, seconds, setup)
            if result.sustained:
                best[name] = result
            else:
                running.discard(name)
        if not running:
            break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per trial, after warm-up")
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 8, 12, 16, 24, 32, 48, 64, 96])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "centernet-mbv3-coco.onnx")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(
        f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f}; onnxruntime {ort.__version__}; "
        f"target {RATE} analysed frames/s per camera; {args.seconds:g} s windows after {WARMUP_S:g} s warm-up"
    )
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "camera-25fps.mp4")
        print(f"clip: {clip.name}, H.264 768x576 25 fps, key frame every {GOP_S:g} s, looped at real-time pace")
        # the worker's default thread budget (all cores but one); the naive loop lets onnxruntime take all
        setups = {
            "worker": worker_setup(load_detector(ModelConfig(id="m", path=args.model))),
            "naive": naive_setup(load_detector(ModelConfig(id="m", path=args.model, intra_op_threads=cores))),
        }
        best = ladder_search(setups, clip, args.seconds, args.counts)
    for name, result in best.items():
        if result is None:
            print(f"{name}: sustains none of the counts tried")
            continue
        print(
            f"{name}: sustains {result.cameras} cameras (measured), {result.cores_per_camera:.3f} cores per camera "
            f"-> about {cores / result.cores_per_camera:.0f} cameras on {cores} otherwise idle cores (projected)"
        )
    worker, naive = best["worker"], best["naive"]
    if worker and naive:
        print(f"ratio worker / naive, measured: {worker.cameras / naive.cameras:.1f}")
        print(f"ratio worker / naive, CPU per camera: {naive.cores_per_camera / worker.cores_per_camera:.1f}")


if __name__ == "__main__":
    main()
