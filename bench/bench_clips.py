"""Evidence clips: memory per camera with clips on vs off, and what cutting a clip costs.

Memory: two child processes read the same cameras the same way (N cameras, each the bundled
streams/vtest-h264.mp4 and the bundled MS-MPEG-4 streams/vtest.avi in turn, key-frame-only decoding
at 2 analysed frames/s, as the worker would), one with a packet ring per camera (the default
evidence.clip bounds) and one without; each reports its peak RSS and the bytes its rings hold at the
end. The difference over N is the clip cost per camera; the rings' own count says how much of it is
the packets (the rest is the allocator). Cost of a clip: remuxing one default clip (8 s before to
4 s after the confirmation) from a full ring, against decoding the same frames (what a re-encode
would at least have to do), in the same run.

    .venv/bin/python bench/bench_clips.py [--cameras 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import av

from edge.config.evidence import ClipConfig
from edge.ingest import PacketRing, read_file_frames

REPO = Path(__file__).resolve().parents[1]
CLIPS = (REPO / "streams" / "vtest-h264.mp4", REPO / "streams" / "vtest.avi")


def ring_for(config: ClipConfig) -> PacketRing:
    return PacketRing(config.buffer_s, int(config.buffer_mb * 2**20))


def child(cameras: int, clips_on: bool) -> None:
    """Read every camera's clip, interleaved frame by frame; print peak RSS and ring bytes as JSON."""
    config = ClipConfig()
    rings = [ring_for(config) if clips_on else None for _ in range(cameras)]
    sources = [
        read_file_frames(CLIPS[i % len(CLIPS)], f"cam{i}", 2.0, decode="keyframes", packets=rings[i])
        for i in range(cameras)
    ]
    frames = 0
    while sources:
        for source in list(sources):
            if next(source, None) is None:
                sources.remove(source)
            else:
                frames += 1
    held = [r.stats().bytes for r in rings if r is not None]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_mb": peak_kb / 1024, "ring_mb": [b / 2**20 for b in held], "frames": frames}))


def run_child(cameras: int, clips_on: bool) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(cameras), "--on" if clips_on else "--off"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def clip_cost(repeats: int) -> None:
    config = ClipConfig()
    ring = ring_for(config)
    for frame in read_file_frames(CLIPS[0], "cam", 2.0, decode="keyframes", packets=ring):
        if frame.media_time >= 30.0:
            break
    confirm = 26.0
    window = (confirm - config.before_s, confirm + config.after_s)
    remux, decode, clip = [], [], None
    for _ in range(repeats):
        start = time.process_time()
        clip = ring.cut(*window, confirm, config.max_kb * 1024)
        remux.append(time.process_time() - start)
        assert clip is not None
        start = time.process_time()
        with av.open(io.BytesIO(clip.data)) as container:
            count = sum(1 for _ in container.decode(video=0))
        decode.append(time.process_time() - start)
    assert clip is not None
    best_remux, best_decode = min(remux), min(decode)
    print(
        f"one clip ({clip.duration_s:.1f} s, {clip.frames} frames, {len(clip.data) / 1024:.0f} KB, {clip.codec}): "
        f"remux {best_remux * 1000:.1f} ms CPU vs decoding its {count} frames {best_decode * 1000:.1f} ms "
        f"= {best_remux / best_decode:.2f} of a decode (best of {repeats})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--on", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--off", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.on)
        return
    config = ClipConfig()
    off, on = run_child(args.cameras, False), run_child(args.cameras, True)
    extra = (on["rss_mb"] - off["rss_mb"]) / args.cameras
    rings = on["ring_mb"]
    print(
        f"{args.cameras} cameras, key-frame-only decoding at 2 fps, ring bounds {config.buffer_s:g} s / "
        f"{config.buffer_mb:g} MB: peak RSS clips off {off['rss_mb']:.0f} MB, on {on['rss_mb']:.0f} MB "
        f"(x{on['rss_mb'] / off['rss_mb']:.2f}); {extra:.1f} MB per camera; rings hold "
        f"{min(rings):.1f}-{max(rings):.1f} MB each at the end"
    )
    clip_cost(args.repeats)


if __name__ == "__main__":
    main()
