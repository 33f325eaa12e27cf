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

`--int8 [PATH]` compares the model with its INT8 copy instead (models/README.md "INT8 copy"), and
`--against PATH` with any other model (models/yolox-nano-coco.onnx), in the same run, interleaved:
per-frame time of `detect()` on decoded frames (preprocessing and decoding included) from one
thread at batch 1 and at `--int8-batch` (the demo's `max_batch`), with `--region x1 y1 x2 y2` also
at batch 1 on the window of that region (a zone crop), and frames/s of `run()` from `--runners`
threads (what the engine does with the box), each with the worker's thread settings; reports every
figure of both models and their ratios.
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
from edge.types import Detections, Frame, Region

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


def per_frame_ms(
    detector: Detector, frames: list[np.ndarray], batch: int, seconds: float, region: Region | None = None
) -> tuple[float, float]:
    """Wall and CPU milliseconds per frame of `detect()` from one thread, batches of `batch` frames
    (each run on the window covering `region`, where given and the model's size is dynamic).

    CPU time (this process's, all threads) depends less than wall time on what else runs on the box."""
    detector.detect(frames[:batch], [region] * batch)
    done, i = 0, 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        detector.detect([frames[(i + k) % len(frames)] for k in range(batch)], [region] * batch)
        done += batch
        i += batch
    return (time.perf_counter() - start) * 1000 / done, (time.process_time() - cpu) * 1000 / done


def compare_models(args: argparse.Namespace, cfg: ModelConfig, frames: list[np.ndarray], other: Path) -> None:
    """Two models side by side, interleaved: one thread's ms/frame at two batch sizes (and on the
    `--region` window), and the multi-runner ceiling; each ratio is the median of the rounds' own ratios."""
    first, second = cfg.path.stem, other.stem
    models = {first: load_detector(cfg), second: load_detector(cfg.model_copy(update={"id": "b", "path": other}))}
    batches = (1, args.int8_batch)
    plan = thread_plan(InferenceConfig(runners=args.runners), cfg)
    print(f"machine: {machine()}; onnxruntime {ort.__version__}; the worker's threads: {plan}")
    print(
        f"models: {cfg.path.name} vs {other.name}; {args.rounds} interleaved rounds of {args.seconds:g} s "
        f"per measurement; ceiling from {args.runners} threads at batch 1"
    )
    region = tuple(args.region) if args.region else None
    rows: dict[str, dict[str, list[float]]] = {first: {}, second: {}}
    for r in range(args.rounds):
        line = []
        for name, detector in models.items():
            for batch in batches:
                wall, cpu = per_frame_ms(detector, frames, batch, args.seconds)
                rows[name].setdefault(f"detect ms/frame, batch {batch}", []).append(wall)
                rows[name].setdefault(f"detect CPU ms/frame, batch {batch}", []).append(cpu)
                line.append(f"{name} b{batch} {wall:.1f} ms ({cpu:.1f} CPU)")
            if region is not None:
                wall, cpu = per_frame_ms(detector, frames, 1, args.seconds, region)
                rows[name].setdefault("detect ms/frame, batch 1, zone window", []).append(wall)
                rows[name].setdefault("detect CPU ms/frame, batch 1, zone window", []).append(cpu)
                line.append(f"{name} window {wall:.1f} ms ({cpu:.1f} CPU)")
            fps = ceiling(detector, frames, 1, args.runners, args.seconds)
            rows[name].setdefault(f"ceiling frames/s, {args.runners} threads", []).append(fps)
            line.append(f"{name} ceiling {fps:.1f}/s")
        print(f"  round {r + 1} (load {os.getloadavg()[0]:.1f}): " + ", ".join(line))
    for name, measured in rows.items():
        for key, values in measured.items():
            print(f"{name} {key:<56} {np.median(values):8.1f}")
    for (key, a), b in zip(rows[first].items(), rows[second].values(), strict=True):
        ratios = np.array(b) / np.array(a) if key.startswith("ceiling") else np.array(a) / np.array(b)
        spread = f"rounds {ratios.min():.2f}-{ratios.max():.2f}"
        print(f"speed-up {second} vs {first}, {key}: x{np.median(ratios):.2f} ({spread})")


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
    parser.add_argument("--against", type=Path, help="compare the model with this other model file instead")
    parser.add_argument("--int8-batch", type=int, default=4, help="the larger batch of a comparison")
    parser.add_argument(
        "--region", type=float, nargs=4, help="a comparison also times detect() on the window of this region"
    )
    args = parser.parse_args()

    cfg = ModelConfig(
        id="m", path=args.model, providers=[args.provider], intra_op_threads=args.threads, batch=args.batch
    )
    frames = decode_frames(100)
    if args.int8 or args.against:
        compare_models(args, cfg, frames, args.against or args.int8)
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
