"""How many patrol cameras one box visits at a revisit interval, vs the continuous worker's sustained count, same run.

Cameras live on 127.0.0.1 in their own processes (bench/_patrol_servers.py), each showing the clip at
its own wall-clock position so a visit sees that camera's "now", from pre-encoded material (H.264
pieces passed through by a GStreamer RTSP server; JPEGs served by a snapshot HTTP server): their CPU is
small and reported apart. The clip is bench/_cameras.py's (the first 40 s of streams/vtest.avi, 576p
crf 28 or 1080p 4 Mbit/s, 2 s key frame interval, no B-frames). Each trial runs the real
`edge.runtime.worker.Worker` in a fresh subprocess with N patrol cameras (stream or snapshot visits),
streams/demo.yaml's zones with their dwell times stretched to three revisits (so the derived revisit
interval is the one asked for), `pictures_per_visit` pictures each, every other setting at its default.
A count is sustained when the achieved revisit interval's p95 is at most 1.1x the target, at the end no
camera is overdue, and at most 1 % of the visits' pictures were dropped before inference. The continuous
side is bench_cameras.py's `worker` at 0.5 analysed frames/s, in the same run. Reports each side's
maximum, the ratio, CPU per visit (the worker process's CPU seconds over its visits) and RSS per patrol
camera (slope of RSS against cameras).

Usage: .venv/bin/python bench/bench_patrol.py [--counts 100 250 500] [--revisit 60] [--seconds 180]
           [--kinds stream snapshot] [--resolution 576p|1080p] [--pictures 4] [--continuous 16 32 48]
           [--model models/yolox-nano-coco.onnx]   # both sides on another detector (default: the bundled default)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2

from edge.config import parse_config
from edge.runtime.worker import Worker

from _cameras import (
    DEMO,
    GOP_S,
    MODEL,
    RESOLUTIONS,
    ClipSpec,
    clip_bitrate,
    demo_zones,
    free_port,
    make_clip,
    platform,
    sample_process,
    slope,
)
from _common import REPO, machine

SERVERS = Path(__file__).with_name("_patrol_servers.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # the GStreamer RTSP server needs its `gi`
PIECE_S = 8.0  # four key frames per piece: a visit of up to 4 pictures never runs out of stream
OVERLOAD = 1.1
MAX_DROPPED = 0.01  # visit pictures the inference engine may drop (stale, overflow) in a sustained trial


def cut_pieces(clip: Path, spec: ClipSpec, folder: Path) -> int:
    """The clip as PIECE_S pieces, re-encoded as the clip was but one slice per picture and from a key frame.

    (x264's default threading cuts a picture into slices, which the RTSP server's packetisation splits
    with parameter sets: a decoder then conceals half of every key frame, docs/ingest.md.)"""
    folder.mkdir(parents=True, exist_ok=True)
    keyint = int(spec.fps * GOP_S)
    params = f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:slices=1:sliced-threads=0"
    options = {"preset": "veryfast", "threads": "1"}
    if spec.bitrate:
        kbit = spec.bitrate // 1000
        params += f":vbv-maxrate={kbit}:vbv-bufsize={kbit}"
    else:
        options["crf"] = "28"
    options["x264-params"] = params
    per_piece = int(PIECE_S * spec.fps)
    pieces, out, stream, n = 0, None, None, 0
    with av.open(str(clip)) as src:
        for picture in src.decode(video=0):
            if n % per_piece == 0:
                if out is not None:
                    for packet in stream.encode():
                        out.mux(packet)
                    out.close()
                out = av.open(str(folder / f"piece-{pieces:03d}.mp4"), "w")
                stream = out.add_stream("libx264", rate=spec.fps)
                stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
                if spec.bitrate:
                    stream.bit_rate = spec.bitrate
                stream.options = options
                pieces += 1
            frame = picture.reformat(format="yuv420p")
            frame.pts, frame.time_base = n % per_piece, Fraction(1, spec.fps)
            for packet in stream.encode(frame):
                out.mux(packet)
            n += 1
    if out is not None:
        for packet in stream.encode():
            out.mux(packet)
        out.close()
    return pieces


def snapshot_jpegs(clip: Path, folder: Path) -> int:
    """One JPEG per second of the clip (quality 85, as a camera's snapshot URL answers)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with av.open(str(clip)) as src:
        for frame in src.decode(video=0):
            if frame.time is not None and frame.time >= n:
                image = frame.to_ndarray(format="bgr24")
                (folder / f"{n:03d}.jpg").write_bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1])
                n += 1
    return n


class Servers:
    """The camera server process of one trial; its CPU seconds are read from /proc."""

    def __init__(self, kind: str, material: Path, cameras: int) -> None:
        self.port = free_port()
        python = SYSTEM_PYTHON if kind == "stream" else sys.executable
        mode = "rtsp" if kind == "stream" else "http"
        command = [python, str(SERVERS), mode, str(material), "--port", str(self.port), "--cameras", str(cameras)]
        command += ["--piece-s", str(PIECE_S)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        if not ready or not self.proc.stdout.readline().startswith("READY"):
            self.proc.kill()
            raise SystemExit(f"{mode} camera server did not start")
        self.kind = kind

    def url(self, camera: int) -> str:
        if self.kind == "stream":
            return f"rtsp://127.0.0.1:{self.port}/cam{camera:03d}"
        return f"http://127.0.0.1:{self.port}/cam{camera:03d}.jpg"

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks of 1/100 s

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@dataclass(frozen=True)
class PatrolTrial:
    kind: str
    cameras: int
    revisit_s: float
    sustained: bool
    visits: int
    failed_visits: int
    p50_s: float | None
    p95_s: float | None
    overdue: int
    worker_cpu_s: float
    server_cpu_s: float
    seconds: float
    rss_mb: float
    dropped: int  # visit pictures dropped before inference (stale or overflow)

    @property
    def cpu_per_visit_ms(self) -> float:
        return 1000 * self.worker_cpu_s / max(1, self.visits)

    def line(self) -> str:
        p = "-" if self.p95_s is None else f"p50 {self.p50_s:.1f} s, p95 {self.p95_s:.1f} s"
        return (
            f"    {self.kind} x {self.cameras}: {'sustained' if self.sustained else 'NOT sustained'}; achieved revisit "
            f"{p} (target {self.revisit_s:g} s), {self.overdue} overdue at the end; {self.visits} visits "
            f"({self.failed_visits} failed), {self.dropped} pictures dropped; worker "
            f"{self.cpu_per_visit_ms:.0f} ms CPU per visit ({self.worker_cpu_s / self.seconds:.2f} cores); "
            f"camera server {self.server_cpu_s / self.seconds:.2f} cores; RSS {self.rss_mb:.0f} MB"
        )


def patrol_config(
    kind: str, servers: Servers, cameras: int, revisit_s: float, pictures: int, storage: Path, url: str, model: str
):
    zones = []
    for zone in demo_zones():
        rules = [
            r.model_dump(mode="json") | {"min_duration_s": 3 * revisit_s, "clear_after_s": 3 * revisit_s}
            for r in zone.rules
        ]
        zones.append(zone.model_dump(mode="json") | {"rules": rules})
    analysis = {"mode": "patrol", "pictures_per_visit": pictures, "visit_timeout_s": 8}
    source = {"kind": "snapshot"} if kind == "snapshot" else {}
    data = {
        "worker": {"id": "bench-patrol"},
        "models": [{"id": "coco", "path": model}],
        "cameras": [
            {"id": f"cam{i:03d}", "source": {"url": servers.url(i), **source}, "analysis": analysis, "zones": zones}
            for i in range(cameras)
        ],
        "patrol": {"max_concurrent_visits": 256 if kind == "stream" else 64},
        "storage": {"dir": str(storage)},
        "platform": {"url": url},
    }
    return parse_config(data, REPO, origin="bench patrol config")


def run_trial(spec: dict) -> None:
    """The subprocess side: one patrol trial against a server already running; one JSON line on stdout."""
    kind, cameras, revisit_s, seconds = spec["kind"], spec["cameras"], spec["revisit_s"], spec["seconds"]
    servers = Servers.__new__(Servers)
    servers.kind, servers.port = kind, spec["port"]
    with tempfile.TemporaryDirectory(prefix="bench-patrol-") as storage:
        config = patrol_config(
            kind, servers, cameras, revisit_s, spec["pictures"], Path(storage), spec["platform"], spec["model"]
        )
        worker = Worker(config)
        worker.start()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        try:
            time.sleep(seconds)
            status = worker.patrol_status()
            stats = worker.inference.stats().cameras.values()
        finally:
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            rss = sample_process().rss_mb
            worker.stop()
    box = status.box
    visits = sum(c.visits for c in status.cameras.values())
    failed = sum(c.failed_visits for c in status.cameras.values())
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    dropped = sum(c.dropped_overflow + c.dropped_stale for c in stats)
    on_time = box.revisit_p95_s is not None and box.revisit_p95_s <= OVERLOAD * revisit_s and box.overdue == 0
    sustained = on_time and dropped <= MAX_DROPPED * visits * spec["pictures"]
    result = PatrolTrial(
        kind, cameras, revisit_s, sustained, visits, failed, box.revisit_p50_s, box.revisit_p95_s, box.overdue,
        cpu, 0.0, seconds, rss, dropped,
    )  # fmt: skip
    print(json.dumps(dataclasses.asdict(result)), flush=True)


def patrol_trial(kind: str, material: Path, cameras: int, args: argparse.Namespace, url: str) -> PatrolTrial:
    servers = Servers(kind, material, cameras)
    try:
        before = servers.cpu_s()
        spec = {"kind": kind, "cameras": cameras, "revisit_s": args.revisit, "seconds": args.seconds}
        spec |= {"pictures": args.pictures, "port": servers.port, "platform": url, "model": str(args.model)}
        done = subprocess.run(
            [sys.executable, __file__, "--trial", json.dumps(spec)], stdout=subprocess.PIPE, text=True, check=False,
            timeout=args.seconds + 300,
        )  # fmt: skip
        server_cpu = servers.cpu_s() - before
    finally:
        servers.stop()
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"patrol trial {kind} x {cameras} failed (exit {done.returncode})")
    result = dataclasses.replace(PatrolTrial(**json.loads(lines[-1])), server_cpu_s=server_cpu)
    print(result.line(), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 250, 500, 750])
    parser.add_argument("--revisit", type=float, default=60.0, help="target revisit interval, seconds")
    parser.add_argument("--seconds", type=float, default=180.0, help="each patrol trial's length (>= 2 revisits)")
    parser.add_argument("--kinds", nargs="+", choices=["stream", "snapshot"], default=["stream", "snapshot"])
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="576p")
    parser.add_argument("--pictures", type=int, default=4, help="pictures_per_visit (the config default: 4)")
    parser.add_argument("--continuous", type=int, nargs="+", default=[16, 32, 48, 64], help="continuous ladder")
    parser.add_argument("--continuous-seconds", type=float, default=30.0)
    parser.add_argument(
        "--model", type=Path, default=MODEL, help="the detector of both sides (default: the bundled default)"
    )
    parser.add_argument("--trial", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trial:
        run_trial(json.loads(args.trial))
        return
    import bench_cameras  # the continuous side, exactly as bench_cameras.py measures it

    spec = RESOLUTIONS[args.resolution]
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-patrol-") as tmp:
        work = Path(tmp)
        clip = make_clip(work / f"camera-{spec.name}.mp4", spec)
        pieces = cut_pieces(clip, spec, work / "pieces")
        jpegs = snapshot_jpegs(clip, work / "jpegs")
        print(f"camera: {spec.describe()} ({clip_bitrate(clip) / 1e6:.2f} Mbit/s), {pieces} pieces of {PIECE_S:g} s, "
              f"{jpegs} snapshot JPEGs; rules: {DEMO.name}'s zones, dwell {3 * args.revisit:g} s; "
              f"model {args.model.name}; {args.pictures} pictures per visit; "
              f"target revisit {args.revisit:g} s")  # fmt: skip
        with platform(work) as url:
            print("continuous worker (bench_cameras.py's 'worker' side, 0.5 analysed frames/s per camera):")
            worker_side = dataclasses.replace(bench_cameras.variants(int8=False)["worker"], model=str(args.model))
            run = bench_cameras.Run(clip, args.continuous_seconds, [], url)
            continuous = bench_cameras.ladder([worker_side], args.continuous, run)
            best_continuous = max((t.cameras for t in continuous if t.sustained), default=0)
            results: dict[str, list[PatrolTrial]] = {}
            for kind in args.kinds:
                print(f"patrol, {kind} visits:")
                material = work / ("pieces" if kind == "stream" else "jpegs")
                results[kind] = []
                for n in args.counts:
                    results[kind].append(patrol_trial(kind, material, n, args, url))
                    if not results[kind][-1].sustained:
                        break
    print(f"continuous worker sustains {best_continuous} cameras ({args.resolution})")
    for kind, trials in results.items():
        best = max((t.cameras for t in trials if t.sustained), default=0)
        ratio = best / best_continuous if best_continuous else float("nan")
        rss = slope([t.cameras for t in trials], [t.rss_mb for t in trials])
        top = max((t for t in trials if t.sustained), key=lambda t: t.cameras, default=trials[-1])
        print(
            f"patrol ({kind} visits) sustains {best} cameras at a {args.revisit:g} s revisit: {ratio:.1f}x the "
            f"continuous worker; {top.cpu_per_visit_ms:.0f} ms worker CPU per visit; camera server "
            f"{top.server_cpu_s / top.seconds:.2f} cores (not the box's); RSS per patrol camera {rss * 1024:.0f} kB "
            f"(slope over {len(trials)} trials)"
        )


if __name__ == "__main__":
    main()
