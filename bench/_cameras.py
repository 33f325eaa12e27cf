"""The simulated camera box that bench_cameras and bench_soak share: clips made at run time, the real
`Worker` built from an `EdgeConfig` with N looped live cameras, lag per analysed frame, process samples.

Every camera is an H.264 file made from streams/vtest.avi (no B-frames, a key frame every GOP_S
seconds, as IP cameras send), read at real-time pace and looped, analysed at RATE frames/s with
decode `auto`, and watched by zones taken from streams/demo.yaml (the clip's real geometry), so the
tracker, rules and cases run as on a box. Cases go to a stand-in platform (`edge receiver`, a
process of its own on 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from edge.config import EdgeConfig, ZoneConfig, load_config, parse_config
from edge.infer import thread_plan
from edge.runtime.worker import Worker
from edge.types import Detections, Frame

from _common import REPO, VTEST

RATE = 0.5  # analysed frames/s per camera
GOP_S = 2.0
DEMO = REPO / "streams" / "demo.yaml"
MODEL = REPO / "models" / "centernet-mbv3-coco.onnx"


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """What a simulated camera sends. bitrate: bits/s (an IP camera's setting), None = x264 crf 28."""

    name: str
    width: int
    height: int
    fps: int
    bitrate: int | None

    def describe(self) -> str:
        rate = f"{self.bitrate / 1e6:g} Mbit/s" if self.bitrate else "crf 28"
        return f"H.264 {self.width}x{self.height} {self.fps} fps, {rate}, key frame every {GOP_S:g} s, no B-frames"


RESOLUTIONS = {
    "576p": ClipSpec("576p", 768, 576, 25, None),  # vtest's own size
    "1080p": ClipSpec("1080p", 1920, 1080, 25, 4_000_000),  # vtest pictures upscaled
}


def make_clip(path: Path, spec: ClipSpec, seconds: float = 40.0) -> Path:
    """The first `seconds` of vtest at its own pace (10 fps, each picture repeated to fill the spec's
    frame rate: people move at their real speed), scaled and encoded as the spec says."""
    params = f"keyint={int(spec.fps * GOP_S)}:min-keyint={int(spec.fps * GOP_S)}:scenecut=0:bframes=0"
    options = {"preset": "veryfast"}
    if spec.bitrate:  # capped like a camera's VBR setting: at most one second's worth in the buffer
        kbit = spec.bitrate // 1000
        params += f":vbv-maxrate={kbit}:vbv-bufsize={kbit}"
    else:
        options["crf"] = "28"
    options["x264-params"] = params
    with av.open(str(VTEST)) as src, av.open(str(path), "w") as dst:
        source = src.streams.video[0]
        pictures = src.decode(source)
        out = dst.add_stream("libx264", rate=spec.fps)
        out.width, out.height, out.pix_fmt = spec.width, spec.height, "yuv420p"
        if spec.bitrate:
            out.bit_rate = spec.bitrate
        out.options = options
        shown, picture = -1, None
        for i in range(int(seconds * spec.fps)):
            while shown < int(i * source.average_rate / spec.fps):
                picture, shown = next(pictures, None), shown + 1
            if picture is None:
                break  # vtest is 79.5 s long
            frame = picture.reformat(width=spec.width, height=spec.height, format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, spec.fps)
            for packet in out.encode(frame):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return path


def clip_bitrate(path: Path) -> float:
    """The clip's mean video bitrate in bits/s (to show the encoder kept to the spec)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = sum(p.size for p in container.demux(stream))
        return size * 8 / float(stream.duration * stream.time_base)


def demo_zones(ids: Sequence[str] = ()) -> list[ZoneConfig]:
    """streams/demo.yaml's zones for the clip (all of them, or those named), rules included."""
    zones = load_config(DEMO).cameras[0].zones
    unknown = sorted(set(ids) - {z.id for z in zones})
    if unknown:
        raise SystemExit(f"unknown zone(s) {unknown}; streams/demo.yaml has {[z.id for z in zones]}")
    return [z for z in zones if not ids or z.id in ids]


def describe_zones(zones: Sequence[ZoneConfig]) -> list[str]:
    """One line per zone: where it is and what its rules count (change gating saves more on quiet zones)."""
    lines = []
    for zone in zones:
        xs, ys = [p[0] for p in zone.polygon], [p[1] for p in zone.polygon]
        rules = ", ".join(f"{r.kind} {'/'.join(r.classes)} {r.min_duration_s:g} s" for r in zone.rules)
        lines.append(f"{zone.id} (x {min(xs):.2f}-{max(xs):.2f}, y {min(ys):.2f}-{max(ys):.2f} of the frame; {rules})")
    return lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def platform(directory: Path) -> Iterator[str]:
    """A stand-in platform (`edge receiver` in its own process) that takes the box's cases; yields its url.

    Cases are delivered and acknowledged as on a box, so the outbox does not grow for the whole run."""
    port = free_port()
    with (directory / "receiver.log").open("w") as log:
        command = [sys.executable, "-m", "edge.cli", "receiver", "--port", str(port)]
        receiver = subprocess.Popen([*command, "--db", str(directory / "receiver.db")], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                if receiver.poll() is not None:
                    raise SystemExit(f"edge receiver exited ({receiver.returncode}): see {log.name}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"edge receiver did not listen on port {port} within 60 s") from None
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/api/cases"
        finally:
            receiver.terminate()
            receiver.wait(timeout=30)


def box_config(
    cameras: int,
    clip: Path,
    storage: Path,
    zones: Sequence[ZoneConfig],
    model: Path = MODEL,
    change_gate: bool = True,
    decode: str = "auto",
    platform_url: str | None = None,
    crop_to_zones: bool | str = "auto",
    mmap_threshold_kb: int | None = None,
) -> EdgeConfig:
    """An edge box with `cameras` copies of the clip camera; everything not named here at its default."""
    demo = load_config(DEMO)
    model_id = demo.models[0].id  # the demo zones' rules name it
    camera = {
        "source": {"url": str(clip), "loop": True, "live": True},
        "analysis": {"fps": RATE, "decode": decode},
        "zones": [z.model_dump(mode="json") for z in zones],
    }
    data = {
        "worker": {"id": "bench-box"} | ({} if mmap_threshold_kb is None else {"mmap_threshold_kb": mmap_threshold_kb}),
        "models": [{"id": model_id, "path": str(model)}],
        "cameras": [{"id": f"cam{i:03d}", **camera} for i in range(cameras)],
        "change_gate": {"enabled": change_gate},
        "inference": {"crop_to_zones": crop_to_zones},
        "storage": {"dir": str(storage)},
    }
    if platform_url:
        data["platform"] = {"url": platform_url}
    return parse_config(data, REPO, origin="bench box config")


def threading_choice(config: EdgeConfig) -> str:
    """The inference engine's runners and each session's intra-op threads, as edge/infer/session.py picks them."""
    per_model = "; ".join(f"{m.id}: {thread_plan(config.inference, m)}" for m in config.models)
    return (
        f"inference: {per_model}; max_batch {config.inference.max_batch}, "
        f"queue_per_camera {config.inference.queue_per_camera}"
    )


class Lags:
    """Per analysed frame: (camera, result time, lag behind the picture's real-time due time)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self._anchor: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, frame: Frame) -> None:
        now = time.time()
        with self._lock:
            # the first frame of a camera is read on time: it fixes when media time 0 was due
            anchor = self._anchor.setdefault(frame.camera_id, frame.wall_time - frame.media_time)
            self.rows.append((frame.camera_id, now, now - (anchor + frame.media_time)))

    def take(self) -> np.ndarray:
        """(result time, lag) rows since the last call, forgotten here (a long run's memory stays flat)."""
        with self._lock:
            rows, self.rows = self.rows, []
        return np.array([(t, lag) for _, t, lag in rows], dtype=float).reshape(-1, 2)

    def between(self, begin: float, end: float) -> np.ndarray:
        """(result time, lag) rows of results that came in [begin, end)."""
        with self._lock:
            rows = [(t, lag) for _, t, lag in self.rows if begin <= t < end]
        return np.array(rows, dtype=float).reshape(-1, 2)


def watch(worker: Worker, lags: Lags) -> None:
    """Record each analysed frame's lag once the worker's pipeline has taken it.

    The worker hands `self.analyse` to the inference engine per frame (read at call time), so
    replacing it on the instance sees every analysed frame, whichever path it took."""
    analyse = worker.analyse

    def analysed(frame: Frame, detections: dict[str, Detections]) -> None:
        try:
            analyse(frame, detections)
        finally:
            lags(frame)

    worker.analyse = analysed  # type: ignore[method-assign]


def _start_later(start: Callable[[], None], delay_s: float) -> None:
    timer = threading.Timer(delay_s, start)
    timer.daemon = True
    timer.start()


def stagger_starts(worker: Worker, spread_s: float = GOP_S) -> None:
    """`worker.start()` starts every camera at once; spread them over `spread_s` so key frames don't align."""
    streams = list(worker.streams.values())
    for i, stream in enumerate(streams):
        stream.start = functools.partial(_start_later, stream.start, i * spread_s / len(streams))  # type: ignore[method-assign]


def detector_frames(worker: Worker) -> int:
    """Frames the detector ran on (the engine's per-model counts).

    A change-gated frame (no zone changed) passes through the engine with no model to run and
    reuses the last detections, so this over the frames `watch` saw is the share that ran the
    detector: counted by the engine, independently of the pipeline's own `gate_counts`."""
    return sum(m.frames for m in worker.inference.stats().models.values())


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """This process now: resident memory, threads, open file descriptors."""

    rss_mb: float
    threads: int
    fds: int


def sample_process() -> ProcessSample:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return ProcessSample(
        rss_mb=int(status["VmRSS"].split()[0]) / 1024,  # kB
        threads=int(status["Threads"]),
        fds=len(os.listdir("/proc/self/fd")),
    )


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys against xs (nan with fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return float("nan")
    return float(np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)[0])
