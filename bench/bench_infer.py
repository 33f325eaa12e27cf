"""Engine vs naive loop on N simulated cameras, and the engine's efficiency against the model's ceiling.

Every camera offers decoded frames of streams/vtest.avi at its live rate (10 fps). In the same run:
1. ceiling: the model alone (`session.run`) on pre-made batches, from as many threads as the
   engine has runners, frames/s;
2. naive: one thread per camera, each analysing its camera's newest frame with a single-frame
   `detect` (one `session.run` per frame) on a session shared by all threads;
3. engine: camera threads `submit` to one `InferenceEngine`, which batches across cameras.
Reports analysed frames/s of engine and naive, their ratio, and engine / ceiling (pipeline
efficiency). Both sides use the same model, thread count and preprocessing/decoding code.

Defaults are the worker's own on this box: batch 1 on the CPU, 2 runners, all cores but one
per session. Usage: .venv/bin/python bench/bench_infer.py [--cameras 8] [--seconds 10]
[--batch 1] [--runners 2] [--threads 1] [--provider cpu]

`--int8 [PATH]` compares the model with its INT8 copy instead (models/README.md "INT8 copy"), in
the same run, interleaved: per-frame time of `detect()` on decoded frames (preprocessing and
decoding included) from one thread at batch 1 and at `--int8-batch` (the demo's `max_batch`), and
frames/s of `run()` from `--runners` threads (what the engine does with the box), each with the
worker's thread settings; reports every figure of both models and the fp32 / int8 ratio.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.config import InferenceConfig, ModelConfig
from edge.infer import Detector, InferenceEngine, load_detector
from edge.infer.session import default_threads, thread_plan
from edge.types import Detections, Frame

from _common import REPO, decode_frames, for_seconds, machine

FPS = 10.0
INT8 = REPO / "models" / "centernet-mbv3-coco-int8.onnx"


def ceiling(detector: Detector, frames: list[np.ndarray], batch: int, runners: int, seconds: float) -> float:
    """Frames/s of `session.run` alone on a batch prepared once, from `runners` threads."""
    tensor, _ = detector.preprocess(frames[:batch])
    detector.run(tensor)
    done = [0] * runners
    start = time.perf_counter()

    def run(i: int, stop: threading.Event) -> None:
        while not stop.is_set():
            detector.run(tensor)
            done[i] += batch

    for_seconds(run, runners, seconds)
    return sum(done) / (time.perf_counter() - start)


def naive(detector: Detector, frames: list[np.ndarray], cameras: int, seconds: float) -> float:
    """One thread per camera: take the camera's current frame, detect it alone, repeat."""
    counts = [0] * cameras
    start = time.perf_counter()

    def camera(c: int, stop: threading.Event) -> None:
        while not stop.is_set():
            live = int((time.perf_counter() - start) * FPS) + c * 7  # the frame the camera shows now
            detector.detect([frames[live % len(frames)]])
            counts[c] += 1

    for_seconds(camera, cameras, seconds)
    return sum(counts) / (time.perf_counter() - start)


def engine(
    detector: Detector, frames: list[np.ndarray], cameras: int, seconds: float, batch: int, runners: int
) -> tuple[float, str]:
    """Camera threads submit at their live rate; the engine analyses what it can (drop-oldest)."""
    config = InferenceConfig(max_batch=batch, max_wait_ms=20, staleness_s=5, runners=runners)
    eng = InferenceEngine({"m": detector}, config)
    delivered = [0]
    lock = threading.Lock()

    def on_result(frame: Frame, results: dict[str, Detections]) -> None:
        with lock:
            delivered[0] += 1

    start = time.perf_counter()

    def camera(c: int, stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            frame = Frame(f"cam{c}", frames[(i + c * 7) % len(frames)], i / FPS, time.time(), i)
            eng.submit(frame, ["m"], on_result)
            i += 1
            stop.wait(max(0.0, start + i / FPS - time.perf_counter()))

    eng.start()
    for_seconds(camera, cameras, seconds)
    eng.stop(drain=False)
    elapsed = time.perf_counter() - start
    stats = eng.stats()
    dropped = sum(s.dropped_overflow + s.dropped_stale for s in stats.cameras.values())
    detail = f"batch sizes {stats.models['m'].batch_sizes}, frames dropped {dropped}"
    return delivered[0] / elapsed, detail


def per_frame_ms(detector: Detector, frames: list[np.ndarray], batch: int, seconds: float) -> tuple[float, float]:
    """Wall and CPU milliseconds per frame of `detect()` from one thread, batches of `batch` frames.

    CPU time (this process's, all threads) depends less than wall time on what else runs on the box."""
    detector.detect(frames[:batch])
    done, i = 0, 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        detector.detect([frames[(i + k) % len(frames)] for k in range(batch)])
        done += batch
        i += batch
    return (time.perf_counter() - start) * 1000 / done, (time.process_time() - cpu) * 1000 / done


def compare_int8(args: argparse.Namespace, cfg: ModelConfig, frames: list[np.ndarray]) -> None:
    """fp32 and INT8 copy side by side, interleaved: one thread's ms/frame at two batch sizes, and
    the multi-runner ceiling; each speed-up is the median of the rounds' own ratios."""
    models = {
        "fp32": load_detector(cfg),
        "int8": load_detector(cfg.model_copy(update={"id": "int8", "path": args.int8})),
    }
    batches = (1, args.int8_batch)
    plan = thread_plan(InferenceConfig(runners=args.runners), cfg)
    print(f"machine: {machine()}; onnxruntime {ort.__version__}; the worker's threads: {plan}")
    print(
        f"models: {cfg.path.name} vs {args.int8.name}; {args.rounds} interleaved rounds of {args.seconds:g} s "
        f"per measurement; ceiling from {args.runners} threads at batch 1"
    )
    rows: dict[str, list[float]] = {}
    for r in range(args.rounds):
        line = []
        for name, detector in models.items():
            for batch in batches:
                wall, cpu = per_frame_ms(detector, frames, batch, args.seconds)
                rows.setdefault(f"{name} detect ms/frame, batch {batch}", []).append(wall)
                rows.setdefault(f"{name} detect CPU ms/frame, batch {batch}", []).append(cpu)
                line.append(f"{name} b{batch} {wall:.1f} ms ({cpu:.1f} CPU)")
            fps = ceiling(detector, frames, 1, args.runners, args.seconds)
            rows.setdefault(f"{name} ceiling frames/s, {args.runners} threads", []).append(fps)
            line.append(f"{name} ceiling {fps:.1f}/s")
        print(f"  round {r + 1} (load {os.getloadavg()[0]:.1f}): " + ", ".join(line))
    for key, values in rows.items():
        print(f"{key:<42} {np.median(values):8.1f}")
    for key in rows:
        if key.startswith("fp32 "):
            what = key.removeprefix("fp32 ")
            fp32, int8 = np.array(rows[key]), np.array(rows[f"int8 {what}"])
            ratios = int8 / fp32 if what.startswith("ceiling") else fp32 / int8
            spread = f"rounds {ratios.min():.2f}-{ratios.max():.2f}"
            print(f"speed-up int8 vs fp32, {what}: x{np.median(ratios):.2f} ({spread})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--batch", type=int, default=1, help="frames per model run (the CPU default is 1)")
    parser.add_argument("--runners", type=int, default=InferenceConfig().runners, help="engine runner threads")
    parser.add_argument("--provider", default="cpu", choices=["cpu", "cuda", "tensorrt", "openvino"])
    parser.add_argument("--threads", type=int, default=default_threads(), help="intra-op threads per session")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "centernet-mbv3-coco.onnx")
    parser.add_argument(
        "--int8", type=Path, nargs="?", const=INT8, help=f"compare with this INT8 copy instead (default {INT8.name})"
    )
    parser.add_argument("--int8-batch", type=int, default=4, help="the larger batch of the INT8 comparison")
    args = parser.parse_args()

    cfg = ModelConfig(
        id="m", path=args.model, providers=[args.provider], intra_op_threads=args.threads, batch=args.batch
    )
    frames = decode_frames(100)
    if args.int8:
        compare_int8(args, cfg, frames)
        return
    detector = load_detector(cfg)
    batch = min(args.batch, detector.max_batch)
    print(
        f"machine: {machine()}; "
        f"onnxruntime {ort.__version__}, providers {detector.providers}, {args.threads} intra-op threads"
    )
    print(
        f"model: {args.model.name} ({detector.format}); {args.cameras} cameras offering {FPS:g} fps each; "
        f"batch {batch}, {args.runners} engine runners; "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s per measurement"
    )
    tops, bases, fpss = [], [], []
    for r in range(args.rounds):
        tops.append(ceiling(detector, frames, batch, args.runners, args.seconds))
        bases.append(naive(detector, frames, args.cameras, args.seconds))
        fps, detail = engine(detector, frames, args.cameras, args.seconds, batch, args.runners)
        fpss.append(fps)
        print(f"  round {r + 1}: ceiling {tops[-1]:.1f}, naive {bases[-1]:.1f}, engine {fps:.1f} frames/s ({detail})")
    top, base, fps = (float(np.median(v)) for v in (tops, bases, fpss))
    print(f"ceiling (session.run on pre-made batches of {batch}, {args.runners} threads): {top:.1f} frames/s")
    print(f"naive loop (thread per camera, single-frame runs):  {base:.1f} frames/s")
    print(f"engine (shared batched loop):                      {fps:.1f} frames/s")
    print(f"ratio engine / naive: {fps / base:.2f}")
    print(f"pipeline efficiency engine / ceiling: {fps / top:.2f}")


if __name__ == "__main__":
    main()
