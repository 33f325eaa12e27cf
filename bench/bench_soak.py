"""Does the worker's memory stay flat over a long run? RSS, threads and open files of the real worker, sampled.

Runs the real `Worker` with N simulated cameras (the camera box of bench_cameras: looped live H.264
clips made at run time from streams/vtest.avi, 0.5 analysed frames/s, decode auto, streams/demo.yaml's
zones and dwell rules, cases delivered to a stand-in `edge receiver`) for `--minutes`, and every
`--every` seconds samples this process's resident memory (VmRSS), thread count, open file descriptors
(/proc/self/fd) and the frames analysed since the last sample (with their median lag and the share
that ran the detector), and, to tell where growth is, what SQLite's allocator holds
(`sqlite3_memory_used`: every connection's page cache, bounded by its `cache_size`, 2 MB by default)
and the interpreter's allocated blocks (`sys.getallocatedblocks`: Python objects piling up). Prints
one row per sample, then least-squares slopes after `--warmup` seconds (caches, SQLite pages,
allocator arenas and the rules' places fill up first): RSS in MB/hour, split into SQLite's and the
rest, threads and fds per hour, and a verdict.

Flat means: the RSS slope is below `--max-rss-slope` MB/hour (default 20) by two standard errors,
and threads and fds do not climb (the median of the last third of the samples is no higher than the
highest count of the first third: a connection opened or closed moves a count by one, a leak keeps
adding). The slope above the limit by two standard errors is NOT flat; in between is UNDECIDED (run
longer). Why 20 MB/hour: on the 2-core development box the worker's RSS moves by about 15 MB between
samples (the allocator taking and returning arenas), which leaves a 30-minute run's slope uncertain
by about +-10 MB/hour, so 20 is the smallest growth such a run can tell from noise; it would still
be 14 GB over a month, a real leak. Smaller leaks need longer runs (`--minutes 600`): the standard
error falls with the run's length to the power 1.5. The default warm-up, 5 minutes, is how long the
rules' places and case state took to fill up at 40 cameras there (RSS rose for ~5 minutes, then
moved about a level).

Usage: .venv/bin/python bench/bench_soak.py [--cameras 48] [--minutes 30] [--every 10] [--warmup 300]
           [--mmap-threshold-kb 0]   # glibc's dynamic mmap threshold instead of the worker's fixed one
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.runtime.worker import Worker

from _cameras import (
    RATE,
    RESOLUTIONS,
    Lags,
    ProcessSample,
    box_config,
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
from _common import machine


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampling instant: the process, and what was analysed since the sample before."""

    elapsed_s: float
    process: ProcessSample
    analysed: int  # frames analysed since the previous sample
    detector: int  # of them, frames the detector ran on
    lag_s: float  # their median lag (nan: none)
    sqlite_mb: float  # what SQLite's allocator holds: page caches and statements of every connection
    python_blocks: int  # the interpreter's allocated memory blocks (Python objects and their buffers)


def sqlite_memory() -> Callable[[], float]:
    """MB SQLite has allocated in this process (`sqlite3_memory_used`, the library Python's sqlite3 uses)."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return lambda: float("nan")
    used = ctypes.CDLL(name).sqlite3_memory_used
    used.restype = ctypes.c_int64
    return lambda: used() / 2**20


def row(s: Sample, cameras: int, interval_s: float) -> str:
    p = s.process
    share = f"{s.detector / s.analysed:.0%}" if s.analysed else "-"
    return (
        f"{s.elapsed_s / 60:7.1f} {p.rss_mb:8.1f} {p.threads:7d} {p.fds:5d} {s.analysed:8d} "
        f"{s.analysed / cameras / interval_s:10.2f} {s.lag_s:7.2f} {share:>8} {s.sqlite_mb:9.1f} "
        f"{s.python_blocks / 1000:10.0f}"
    )


def soak(worker: Worker, cameras: int, seconds: float, every: float) -> list[Sample]:
    """Run the started worker for `seconds`, sampling every `every` s; Ctrl-C ends it early."""
    lags = Lags()
    watch(worker, lags)
    stagger_starts(worker)
    samples: list[Sample] = []
    print(f"{'minute':>7} {'RSS MB':>8} {'threads':>7} {'fds':>5} {'analysed':>8} {'fps/camera':>10} {'lag s':>7} "
          f"{'detector':>8} {'SQLite MB':>9} {'Py blocks k':>10}", flush=True)  # fmt: skip
    sqlite_mb = sqlite_memory()
    t0 = time.time()
    worker.start()
    frames = detector_frames(worker)
    try:
        while (due := t0 + (len(samples) + 1) * every) <= t0 + seconds:
            time.sleep(max(0.0, due - time.time()))
            rows, now = lags.take(), detector_frames(worker)
            lag = float(np.median(rows[:, 1])) if len(rows) else float("nan")
            process = sample_process()
            samples.append(
                Sample(time.time() - t0, process, len(rows), now - frames, lag, sqlite_mb(), sys.getallocatedblocks())
            )
            frames = now
            print(row(samples[-1], cameras, every), flush=True)
    except KeyboardInterrupt:
        print("interrupted: the slopes cover what was sampled", flush=True)
    finally:
        outbox = worker.outbox.stats()
        print(f"case messages: {outbox.delivered} delivered, {outbox.pending} pending, {outbox.dead} dead", flush=True)
        worker.stop()
    return samples


def climbs(counts: list[int]) -> bool:
    """The last third's median above the first third's highest: still being added to, not moving about."""
    third = max(1, len(counts) // 3)
    return float(np.median(counts[-third:])) > max(counts[:third])


def fit(hours: list[float], values: list[float]) -> tuple[float, float, float]:
    """Least-squares slope, its standard error and the residuals' spread (standard deviation)."""
    x, y = np.asarray(hours), np.asarray(values)
    rise = slope(hours, values)
    residuals = y - (y.mean() + rise * (x - x.mean()))
    spread = float(np.sqrt((residuals**2).sum() / (len(x) - 2)))
    return rise, spread / float(np.sqrt(((x - x.mean()) ** 2).sum())), spread


def verdict(
    samples: list[Sample], every: float, warmup_s: float, max_rss_slope: float, cameras: int, bare_mb: float
) -> None:
    after = [s for s in samples if s.elapsed_s >= warmup_s]
    if len(after) < 3:
        print(f"too few samples after the {warmup_s:g} s warm-up to fit a slope ({len(after)})")
        return
    hours = [s.elapsed_s / 3600 for s in after]
    rss = [s.process.rss_mb for s in after]
    rss_slope, error, spread = fit(hours, rss)
    counts = {"threads": [s.process.threads for s in after], "fds": [s.process.fds for s in after]}
    thread_slope, fd_slope = slope(hours, counts["threads"]), slope(hours, counts["fds"])
    analysed = sum(s.analysed for s in after)
    span_s = after[-1].elapsed_s - after[0].elapsed_s + every  # each sample counts the interval before it
    half = len(rss) // 2
    print(
        f"after the {warmup_s:g} s warm-up ({len(after)} samples over {span_s / 60:.1f} min): "
        f"RSS {min(rss):.1f}-{max(rss):.1f} MB (medians of the halves {np.median(rss[:half]):.1f} and "
        f"{np.median(rss[half:]):.1f}), slope {rss_slope:+.1f} +- {error:.1f} MB/hour (residual spread "
        f"{spread:.1f} MB); threads {thread_slope:+.1f}/hour ({after[0].process.threads} -> "
        f"{after[-1].process.threads}); fds {fd_slope:+.1f}/hour ({after[0].process.fds} -> {after[-1].process.fds})"
    )
    print(
        f"analysed {analysed / cameras / span_s:.2f} frames/s per camera (target {RATE}); RSS {np.mean(rss):.0f} MB "
        f"= {bare_mb:.0f} MB before the worker was built + {(np.mean(rss) - bare_mb) / cameras:.1f} MB per camera "
        "(the model's share included)"
    )
    sqlite = [s.sqlite_mb for s in after]
    sqlite_slope, sqlite_error, _ = fit(hours, sqlite)
    rest_slope, rest_error, _ = fit(hours, [r - q for r, q in zip(rss, sqlite, strict=True)])
    blocks_slope = slope(hours, [s.python_blocks for s in after])
    print(
        f"of the RSS slope: SQLite's allocations {sqlite_slope:+.1f} +- {sqlite_error:.1f} MB/hour "
        f"({sqlite[0]:.1f} -> {sqlite[-1]:.1f} MB), the rest {rest_slope:+.1f} +- {rest_error:.1f} MB/hour; "
        f"Python blocks {blocks_slope / 1000:+.1f}k/hour ({after[0].python_blocks / 1000:.0f}k -> "
        f"{after[-1].python_blocks / 1000:.0f}k)"
    )
    climbing = [name for name, values in counts.items() if climbs(values)]
    if rss_slope + 2 * error < max_rss_slope:
        memory = f"below {max_rss_slope:g} MB/hour"
    elif rss_slope - 2 * error > max_rss_slope:
        memory = f"above {max_rss_slope:g} MB/hour"
    else:
        memory = f"not resolved against {max_rss_slope:g} MB/hour in this run (run longer)"
    if climbing or memory.startswith("above"):
        outcome = "NOT flat"
    else:
        outcome = "FLAT" if memory.startswith("below") else "UNDECIDED"
    print(f"verdict: {outcome} (RSS slope {memory}, 2 standard errors; climbing: {', '.join(climbing) or 'none'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=48)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds left out of the slopes")
    parser.add_argument("--max-rss-slope", type=float, default=20.0, help="MB/hour under which RSS counts as flat")
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="576p")
    parser.add_argument("--zones", nargs="+", default=[], help="zone ids of streams/demo.yaml (default: all)")
    parser.add_argument(
        "--mmap-threshold-kb", type=int, help="worker.mmap_threshold_kb (default: the config's; 0: glibc's dynamic)"
    )
    args = parser.parse_args()
    spec = RESOLUTIONS[args.resolution]
    zones = demo_zones(args.zones)
    print(f"machine: {machine()}; {args.cameras} cameras for {args.minutes:g} min, a sample every {args.every:g} s")
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / f"camera-{spec.name}.mp4", spec)
        print(f"clip: {spec.describe()}, looped at real-time pace; {RATE} analysed frames/s per camera")
        print("zones (streams/demo.yaml), on every camera: " + "; ".join(describe_zones(zones)))
        with platform(Path(tmp)) as url:
            config = box_config(
                args.cameras, clip, Path(tmp) / "box", zones, platform_url=url, mmap_threshold_kb=args.mmap_threshold_kb
            )
            print(
                f"worker {threading_choice(config)}; mmap threshold {config.worker.mmap_threshold_kb} KB (0: dynamic)"
            )
            bare_mb = sample_process().rss_mb
            samples = soak(Worker(config), args.cameras, args.minutes * 60, args.every)
    verdict(samples, args.every, args.warmup, args.max_rss_slope, args.cameras, bare_mb)


if __name__ == "__main__":
    main()
