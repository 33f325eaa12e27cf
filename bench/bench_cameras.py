"""How many live cameras the real worker sustains at 0.5 analysed frames/s each, vs the naive loop, same run.

Each simulated camera is an H.264 25 fps file made at run time from the first 40 s of
streams/vtest.avi at its own pace (people move at their real speed; 768x576 crf 28, or with
`--resolution 1080p` the pictures upscaled to 1920x1080 at 4 Mbit/s; 2 s key frame interval, no
B-frames, as IP cameras send), read at real-time pace and looped; camera starts are staggered over
one GOP so key frames don't align. Setups, each a named side of one ladder run:
- worker: the real `edge.runtime.worker.Worker` built from an `EdgeConfig` with N such cameras,
  decode `auto`, streams/demo.yaml's zones and dwell rules (tracker, rules and cases run; cases go
  to a stand-in `edge receiver` process), every other setting at its default (all levers on,
  change-gated inference included);
- worker-no-gate: the same with `change_gate.enabled: false` (every analysed frame runs the detector);
- worker-crop: the same with `inference.crop_to_zones: true` (the detector sees only the zones' box,
  whatever the model; the default 'auto' crops only a model whose receptive field is local);
- yolox: the worker on models/yolox-nano-coco.onnx, every setting at its default (so 'auto' crops);
- yolox-whole: the same with `inference.crop_to_zones: false` (the whole frame);
- worker-int8: the worker on models/centernet-mbv3-coco-int8.onnx (when that file exists, or `--int8`);
- worker-all-frames (only when asked for with --variants): decode `all`, the key-frame lever off;
- worker-2-arenas (only when asked for): the worker in a process started with MALLOC_ARENA_MAX=2;
- worker-dynamic-mmap (only when asked for): `worker.mmap_threshold_kb: 0`, glibc's own dynamic threshold;
- worker-crop-int8 (only when asked for): the crop and the int8 model together;
- naive: every frame decoded, and each camera's thread runs single-frame inference itself (no pipeline);
- naive-yolox: the same loop on the YOLOX model.
Each trial runs in a fresh subprocess, so its memory and threads are its own. A count is sustained
when, after a warm-up, cameras get >= 90% of 0.5 analysed frames/s and the lag (result time minus the
picture's real-time due time; for the worker, once its pipeline has taken the frame) does not grow:
the median lag of the last third of the window is at most 1 s above that of the first third. All sides
run at each count of a ladder in turn (so they see the same background load), each until its first
failure. Reports each side's maximum and its ratio to the naive loop's of the same model and to the
`worker` side (the CenterNet defaults), the CPU per camera, the RSS
per extra camera (least-squares slope of RSS against cameras over a side's trials) and the share of
analysed frames the detector ran on.

Usage: .venv/bin/python bench/bench_cameras.py [--seconds 30] [--counts 16 32 48 64 96 128]
           [--resolution 576p|1080p] [--zones no-parking-gate plaza] [--int8] [--variants ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.config import ModelConfig
from edge.infer import load_detector
from edge.ingest import CameraStream, HealthRegistry
from edge.runtime.worker import Worker
from edge.types import Frame

from _cameras import (
    GOP_S,
    MODEL,
    RATE,
    RESOLUTIONS,
    Lags,
    box_config,
    clip_bitrate,
    demo_zones,
    describe_zones,
    detector_frames,
    make_clip,
    platform,
    sample_process,
    slope,
    stagger_starts,
    threading_choice,
    watch,
)
from _common import REPO, machine

WARMUP_S = 6.0
INT8 = REPO / "models" / "centernet-mbv3-coco-int8.onnx"
YOLOX = REPO / "models" / "yolox-nano-coco.onnx"
GOAL_CAMERAS, GOAL_RATIO, GOAL_OVER_OLD = 192, 3.0, 4.0  # issue 26: of the yolox side, vs its naive loop and `worker`
OPT_IN = (
    "worker-all-frames",
    "worker-2-arenas",
    "worker-dynamic-mmap",
    "worker-crop-int8",
)  # sides run only when named in --variants


@dataclass(frozen=True)
class Variant:
    """One side of the ladder: how its cameras are decoded and analysed."""

    name: str
    what: str
    naive: bool = False
    change_gate: bool = True
    model: str = str(MODEL)
    decode: str = "auto"
    crop: bool | str = "auto"  # inference.crop_to_zones
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # for the trial's process (glibc reads it at start)
    mmap_threshold_kb: int | None = None  # worker.mmap_threshold_kb (None: the default)


def variants(int8: bool) -> dict[str, Variant]:
    cores = len(os.sched_getaffinity(0))
    known = [
        Variant("worker", "the real Worker, every setting at its default"),
        Variant("worker-no-gate", "the Worker with change_gate.enabled false", change_gate=False),
        Variant("worker-crop", "the Worker with inference.crop_to_zones true (crops any model)", crop=True),
        Variant("yolox", f"the Worker on {YOLOX.relative_to(REPO)}, every setting at its default", model=str(YOLOX)),
        Variant("yolox-whole", "the yolox side with inference.crop_to_zones false", model=str(YOLOX), crop=False),
        Variant("worker-all-frames", "the Worker decoding every frame (decode: all)", decode="all"),
        Variant(
            "worker-2-arenas",
            "the Worker with glibc's malloc held to 2 arenas (MALLOC_ARENA_MAX=2; its default is 8 per core)",
            env={"MALLOC_ARENA_MAX": "2"},
        ),
        Variant(
            "worker-dynamic-mmap",
            "the Worker with glibc's dynamic mmap threshold (worker.mmap_threshold_kb 0, not 128)",
            mmap_threshold_kb=0,
        ),
        Variant(
            "naive",
            f"every frame decoded, single-frame inference on each camera's thread, {cores} intra-op "
            "threads (all cores), no pipeline",
            naive=True,
        ),
        Variant("naive-yolox", "the naive loop on the YOLOX model", naive=True, model=str(YOLOX)),
    ]
    if int8:
        known.insert(2, Variant("worker-int8", f"the Worker on {INT8.relative_to(REPO)}", model=str(INT8)))
        known.append(Variant("worker-crop-int8", "worker-crop on the int8 model", model=str(INT8), crop=True))
    return {v.name: v for v in known}


@dataclass(frozen=True)
class Trial:
    """One side at one camera count, as its subprocess measured it."""

    variant: str
    cameras: int
    sustained: bool
    rate: float  # analysed frames/s per camera over the window
    lag_first: float  # median lag of the window's first third (nan: no results)
    lag_last: float
    cpu_cores: float  # the process's CPU time over the last 2/3 of the window / its length
    rss_mb: float  # at the end of the window
    threads: int
    fds: int
    detector_share: float  # detector frames / analysed frames (1.0 for naive, by construction)
    load: float

    @property
    def cores_per_camera(self) -> float:
        return self.cpu_cores / self.cameras

    def line(self) -> str:
        state = "sustained" if self.sustained else "NOT sustained"
        return (
            f"    {self.variant:<17} {self.cameras:3d} cameras: {state:<13} {self.rate:.2f} fps/camera, "
            f"lag {self.lag_first:.2f} -> {self.lag_last:.2f} s, {self.cpu_cores:.2f} cores, RSS {self.rss_mb:.0f} MB, "
            f"{self.threads} threads, {self.fds} fds, detector on {self.detector_share:.0%} of frames "
            f"(load {self.load:.1f})"
        )


def _sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def measure(
    variant: str, lags: Lags, cameras: int, t0: float, seconds: float, frames: Callable[[], int] | None
) -> Trial:
    """Wait out the warm-up and the window (cameras started from `t0`) and judge it.

    `frames`: detector frames so far (None: every analysed frame ran the detector)."""
    begin = t0 + WARMUP_S
    _sleep_until(begin)
    frames0 = frames() if frames else 0
    _sleep_until(begin + seconds / 3)
    cpu0, wall0 = sum(os.times()[:2]), time.time()
    _sleep_until(begin + seconds)
    end = time.time()
    cpu = (sum(os.times()[:2]) - cpu0) / (end - wall0)
    ran = frames() - frames0 if frames else None
    sample = sample_process()
    rows = lags.between(begin, end)
    rate = len(rows) / cameras / (end - begin)
    third = (end - begin) / 3
    first, last = rows[rows[:, 0] < begin + third, 1], rows[rows[:, 0] >= end - third, 1]
    lag_first = float(np.median(first)) if len(first) else float("nan")
    lag_last = float(np.median(last)) if len(last) else float("nan")
    sustained = bool(len(first) and len(last) and rate >= 0.9 * RATE and lag_last - lag_first <= 1.0)
    share = 1.0 if ran is None else ran / max(1, len(rows))
    return Trial(
        variant, cameras, sustained, rate, lag_first, lag_last, cpu, sample.rss_mb, sample.threads, sample.fds, share,
        os.getloadavg()[0],
    )  # fmt: skip


def run_worker(variant: Variant, cameras: int, clip: Path, seconds: float, zone_ids: Sequence[str], url: str) -> Trial:
    with tempfile.TemporaryDirectory(prefix="bench-box-") as storage:
        zones = demo_zones(zone_ids)
        config = box_config(
            cameras,
            clip,
            Path(storage),
            zones,
            Path(variant.model),
            variant.change_gate,
            variant.decode,
            url,
            crop_to_zones=variant.crop,
            mmap_threshold_kb=variant.mmap_threshold_kb,
        )
        worker = Worker(config)
        lags = Lags()
        watch(worker, lags)
        stagger_starts(worker)
        t0 = time.time()
        worker.start()
        try:
            return measure(variant.name, lags, cameras, t0, seconds, lambda: detector_frames(worker))
        finally:
            worker.stop()


def run_naive(variant: Variant, cameras: int, clip: Path, seconds: float) -> Trial:
    """The loop a first version would write: onnxruntime may take every core."""
    cores = len(os.sched_getaffinity(0))
    detector = load_detector(ModelConfig(id="m", path=Path(variant.model), intra_op_threads=cores))
    lags = Lags()

    def on_frame(frame: Frame) -> None:
        detector.detect([frame.image])
        lags(frame)

    with tempfile.TemporaryDirectory(prefix="bench-naive-") as storage:
        config = box_config(cameras, clip, Path(storage), [], decode="all")
    health = HealthRegistry()
    streams = [CameraStream(camera, on_frame, health) for camera in config.cameras]
    t0 = time.time()
    for i, stream in enumerate(streams):
        _sleep_until(t0 + i * GOP_S / cameras)
        stream.start()
    try:
        return measure(variant.name, lags, cameras, t0, seconds, None)
    finally:
        for stream in streams:
            stream.stop()


def run_trial(spec: dict) -> None:
    """The subprocess side: one trial, its result as one JSON line on stdout."""
    variant = Variant(**spec["variant"])
    clip = Path(spec["clip"])
    if variant.naive:
        result = run_naive(variant, spec["cameras"], clip, spec["seconds"])
    else:
        result = run_worker(variant, spec["cameras"], clip, spec["seconds"], spec["zones"], spec["platform"])
    print(json.dumps(dataclasses.asdict(result)), flush=True)


@dataclass(frozen=True)
class Run:
    """What every trial of one bench run shares."""

    clip: Path
    seconds: float
    zones: list[str]  # of streams/demo.yaml; empty = all
    platform: str  # url of the stand-in platform


def trial(variant: Variant, cameras: int, run: Run) -> Trial:
    """One trial in a fresh interpreter: no memory, threads or caches left over from the one before."""
    spec = {"variant": dataclasses.asdict(variant), "cameras": cameras, **dataclasses.asdict(run)}
    spec["clip"] = str(run.clip)
    env = {**os.environ, **variant.env}
    done = subprocess.run(
        [sys.executable, __file__, "--trial", json.dumps(spec)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=WARMUP_S + run.seconds + 300,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"trial {variant.name} at {cameras} cameras failed (exit {done.returncode})")
    result = Trial(**json.loads(lines[-1]))
    print(result.line(), flush=True)
    return result


def ladder(sides: Sequence[Variant], counts: Sequence[int], run: Run) -> list[Trial]:
    """Every side at each count in turn (so they share the machine's load), each until its first failure."""
    trials: list[Trial] = []
    running = {v.name for v in sides}
    for n in counts:
        print(f"  {n} cameras:", flush=True)
        for variant in sides:
            if variant.name in running:
                result = trial(variant, n, run)
                trials.append(result)
                if not result.sustained:
                    running.discard(variant.name)
        if not running:
            break
    return trials


def report(sides: Sequence[Variant], trials: Sequence[Trial]) -> None:
    cores = len(os.sched_getaffinity(0))
    best: dict[str, Trial | None] = {}
    for variant in sides:
        own = [t for t in trials if t.variant == variant.name]
        top = max((t for t in own if t.sustained), key=lambda t: t.cameras, default=None)
        best[variant.name] = top
        per_camera = slope([t.cameras for t in own], [t.rss_mb for t in own])
        memory = f"RSS per extra camera {per_camera:.1f} MB (slope over {len(own)} trials)"
        if top is None:
            print(f"{variant.name}: sustains none of the counts tried; {memory}")
            continue
        print(
            f"{variant.name}: sustains {top.cameras} cameras (measured), {top.cores_per_camera:.3f} cores per camera "
            f"-> about {cores / top.cores_per_camera:.0f} cameras on {cores} otherwise idle cores (projected); "
            f"detector on {top.detector_share:.0%} of analysed frames; {memory}"
        )
    naive_of = {v.model: best[v.name] for v in sides if v.naive}
    old = best.get("worker")
    for variant in sides:
        side = best[variant.name]
        naive = naive_of.get(variant.model)
        if variant.naive or side is None:
            continue
        if naive is not None:
            ratio = side.cameras / naive.cameras
            print(
                f"ratio {variant.name} / naive loop of its model, measured: {ratio:.1f} (CPU per camera: "
                f"{naive.cores_per_camera / side.cores_per_camera:.1f})"
            )
        if old is not None and variant.name != "worker":
            print(f"ratio {variant.name} / worker (the CenterNet defaults), measured: {side.cameras / old.cameras:.1f}")
        if variant.name == "yolox" and naive is not None and old is not None:
            met = (
                side.cameras >= GOAL_CAMERAS
                and side.cameras / naive.cameras >= GOAL_RATIO
                and side.cameras / old.cameras >= GOAL_OVER_OLD
            )
            print(
                f"goal >= {GOAL_CAMERAS} cameras, >= {GOAL_RATIO:g}x its naive loop, >= {GOAL_OVER_OLD:g}x worker: "
                f"{'met' if met else 'NOT met'}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per trial, after warm-up")
    parser.add_argument("--counts", type=int, nargs="+", default=[16, 32, 48, 64, 96, 128])
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="576p")
    parser.add_argument("--zones", nargs="+", default=[], help="zone ids of streams/demo.yaml (default: all)")
    parser.add_argument("--int8", action="store_true", help=f"add worker-int8 (default: when {INT8.name} exists)")
    parser.add_argument("--variants", nargs="+", help=f"sides to run (default: all but {', '.join(OPT_IN)})")
    parser.add_argument("--trial", help=argparse.SUPPRESS)  # internal: one trial, in a subprocess
    args = parser.parse_args()
    if args.trial:
        run_trial(json.loads(args.trial))
        return
    if args.int8 and not INT8.is_file():
        raise SystemExit(f"--int8: {INT8} does not exist")
    known = variants(args.int8 or INT8.is_file())
    names = args.variants or [n for n in known if n not in OPT_IN]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {sorted(known)}")
    sides = [known[n] for n in names]
    spec = RESOLUTIONS[args.resolution]
    print(
        f"machine: {machine()}; onnxruntime {ort.__version__}; target {RATE} analysed frames/s per camera; "
        f"{args.seconds:g} s windows after {WARMUP_S:g} s warm-up, each trial in a fresh process"
    )
    zones = demo_zones(args.zones)
    with tempfile.TemporaryDirectory() as tmp:
        box = box_config(1, Path(tmp) / "x.mp4", Path(tmp), zones)
        print(f"worker {threading_choice(box)}")
        print(f"worker change gate: {box.change_gate} (regions: each zone's box widened by the margin)")
        print("zones (streams/demo.yaml), on every worker camera:")
        for line in describe_zones(zones):
            print(f"  {line}")
        for variant in sides:
            print(f"side {variant.name}: {variant.what}")
        clip = make_clip(Path(tmp) / f"camera-{spec.name}.mp4", spec)
        print(f"clip: {spec.describe()} (measured {clip_bitrate(clip) / 1e6:.2f} Mbit/s), looped at real-time pace")
        with platform(Path(tmp)) as url:
            trials = ladder(sides, args.counts, Run(clip, args.seconds, args.zones, url))
    report(sides, trials)


if __name__ == "__main__":
    main()
