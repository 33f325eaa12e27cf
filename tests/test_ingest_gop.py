"""The decode decision on real H.264: taken once the GOP is known, kept over loop points and
reconnects, taken again only when the camera's GOP really changes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from rtsp_support import Collector, StreamPool, assert_monotonic, camera, http_server, wait_until, write_clip

from edge.config import ZoneConfig
from edge.ingest import CameraStream, HealthRegistry
from edge.ingest.decode import GopMeter

RATE = 25  # frames/s, as the bench's cameras


def h264_ts(path: Path, seconds: float, gop_s: float) -> Path:
    """A small moving picture as H.264 in MPEG-TS, a key frame exactly every `gop_s`, no B-frames
    (as IP cameras send)."""
    ramp = np.arange(96)
    images = [
        np.broadcast_to(((ramp + 3 * i) % 256).astype(np.uint8)[None, :, None], (64, 96, 3)).copy()
        for i in range(round(seconds * RATE))
    ]
    keyint = round(gop_s * RATE)
    x264 = {"preset": "ultrafast", "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0"}
    return write_clip(path, images, rate=RATE, codec="libx264", gop=keyint, options=x264)


def spliced(path: Path, segment: Path, copies: int) -> Path:
    """`copies` of a TS segment back to back: the timestamps restart at each splice, as when a
    camera or an RTSP server loops a file, or a camera resets, within one session."""
    path.write_bytes(segment.read_bytes() * copies)
    return path


def key_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(p.pts * stream.time_base) for p in container.demux(stream) if p.is_keyframe and p.size]


@pytest.fixture
def run_stream() -> Iterator[Callable[..., CameraStream]]:
    pool = StreamPool()
    yield pool.start
    pool.stop_all()


def test_gop_meter_settles_on_two_agreeing_intervals_and_ignores_odd_ones():
    meter = GopMeter()

    def feed(*times: str) -> float | None:
        for t in times:
            meter.key_frame(Fraction(t), Fraction(1, RATE))
        return meter.gop_s

    assert feed("10", "12") is None  # one interval is no GOP yet
    assert feed("14") == 2.0
    assert feed("18", "20") == 2.0  # a lost key frame: one 4 s interval
    assert feed("20.6", "22") == 2.0  # an extra key frame at a scene cut: one short interval
    assert feed("0.5", "2.5") == 2.0  # timestamps restart (a spliced or looped stream, a reset)
    assert feed("4.52", "6.5") == 2.0  # within a frame: the same GOP
    meter.new_session()  # a reconnect: no interval across it
    assert feed("1000", "1006") == 2.0
    assert feed("1012") == 6.0  # two 6 s intervals: the camera was re-configured
    fresh = GopMeter()
    for t in ("14.08", "16.08", "18.08"):  # 2.0000000000000018 apart in floats
        fresh.key_frame(Fraction(t), Fraction(1, RATE))
    assert fresh.gop_s == 2.0  # exactly: 10 GOPs are no longer than a 20 s rule's min_duration_s


PARKED = {"id": "parked-vehicle", "event_code": "0505", "classes": ["car", "truck", "bus"], "min_duration_s": 20}


def zone(rule: dict) -> ZoneConfig:
    return ZoneConfig.model_validate({"id": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "rules": [rule]})


def test_looped_camera_decides_key_frames_once_over_many_loop_points(run_stream, tmp_path: Path):
    # 3 copies of a 6 s clip (2 s GOP) in one file, looped: loop points inside the stream (the
    # timestamps restart) and at the reopen. Read flat out, so a dozen pass in about a second;
    # pacing plays no part in the decision.
    clip = spliced(tmp_path / "looped.ts", h264_ts(tmp_path / "segment.ts", 6.0, 2.0), 3)
    assert sorted(set(np.diff(key_times(clip)).round(2))) == [-4.0, 2.0]  # the timestamps do restart
    health, sink = HealthRegistry(), Collector()
    cam = camera("c", str(clip), fps=0.5, loop=True, live=False, stall_timeout_s=10.0)
    # the bench's camera: the demo's parked-vehicle rule, 10 key frames in its 20 s exactly
    run_stream(cam.model_copy(update={"zones": [zone(PARKED)]}), sink, health)
    sink.wait_for(9 * 5)  # 9 analysed frames a pass: 5 passes, 14 loop points
    snap = health.snapshot()["c"]
    assert (snap.decode, snap.decode_switches) == ("keyframes", 1)  # all -> keyframes, once
    assert snap.gop_s == pytest.approx(2.0)
    assert all(f.is_keyframe for f in sink.frames)
    assert_monotonic(sink.frames)


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "http"
    root.mkdir()
    with http_server(root) as base:
        yield base, root


def serve(root: Path, name: str, clip: Path) -> None:
    """Replace what the server sends in one step (a reader never sees half a file)."""
    part = root / f"{name}.part"
    part.write_bytes(clip.read_bytes())
    part.replace(root / name)


def test_reconnects_keep_the_decision_and_a_longer_gop_takes_it_again(run_stream, http_dir, tmp_path: Path):
    base, root = http_dir
    short = h264_ts(tmp_path / "gop2.ts", 6.0, 2.0)
    long = h264_ts(tmp_path / "gop6.ts", 13.0, 6.0)  # key frames at 0, 6, 12 s
    serve(root, "cam.ts", short)
    health, sink = HealthRegistry(), Collector()
    # each stream end is a disconnect: the camera reconnects to the same URL
    run_stream(camera("h", f"{base}/cam.ts", fps=0.5, live=False, stall_timeout_s=10.0), sink, health)

    wait_until(lambda: health.snapshot()["h"].reconnects >= 3, 15, "three reconnects on the 2 s GOP")
    snap = health.snapshot()["h"]
    assert (snap.decode, snap.decode_switches, snap.gop_s) == ("keyframes", 1, pytest.approx(2.0))
    # the camera is re-configured to a 6 s GOP: key frames alone would trip the 10 s stall watchdog
    serve(root, "cam.ts", long)
    wait_until(lambda: health.snapshot()["h"].gop_s == pytest.approx(6.0), 15, "the 6 s GOP measured")
    reconnects = health.snapshot()["h"].reconnects
    wait_until(lambda: health.snapshot()["h"].reconnects >= reconnects + 2, 15, "two more reconnects")
    snap = health.snapshot()["h"]
    assert (snap.decode, snap.decode_switches) == ("all", 2)
    assert_monotonic(sink.frames)


def test_camera_health_starts_in_the_mode_it_decodes(tmp_path: Path):
    health = HealthRegistry()
    for decode in ("auto", "keyframes", "all"):
        CameraStream(camera(decode, str(tmp_path / "x.ts"), decode=decode), Collector(), health)
    snap = health.snapshot()
    assert [(snap[d].decode, snap[d].decode_switches, snap[d].gop_s) for d in ("auto", "keyframes", "all")] == [
        ("all", 0, None),
        ("keyframes", 0, None),
        ("all", 0, None),
    ]


def test_the_supervisor_never_takes_a_camera_for_dead_before_or_while_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # the supervisor looks at any moment: before a staggered start, and between a thread's creation
    # and its start (a camera taken for dead there was restarted at once, counted against its budget)
    stream = CameraStream(camera("s", str(tmp_path / "x.ts")), Collector(), HealthRegistry())
    supervised = stream.supervised()
    assert supervised.alive()
    looks = []
    start = threading.Thread.start

    def looked_at_then_started(thread: threading.Thread) -> None:
        looks.append(supervised.alive())
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", looked_at_then_started)
    stream.start()
    monkeypatch.undo()
    try:
        assert looks == [True] and supervised.alive()
    finally:
        stream.stop()


def test_a_rule_applied_to_a_running_camera_takes_the_decision_again(run_stream, tmp_path: Path):
    clip = spliced(tmp_path / "looped.ts", h264_ts(tmp_path / "segment.ts", 6.0, 2.0), 3)
    health, sink = HealthRegistry(), Collector()
    cam = camera("c", str(clip), fps=1.0, loop=True, live=False, stall_timeout_s=10.0)
    stream = run_stream(cam, sink, health)
    wait_until(lambda: health.snapshot()["c"].decode == "keyframes", 15, "key frames without rules")
    # a person may not stay 5 s: 10 pictures in 5 s need every frame, not one per 2 s GOP
    quick = {"id": "q", "event_code": "0501", "classes": ["person"], "min_duration_s": 5, "gap_allowance_s": 2}
    stream.apply(cam.model_copy(update={"zones": [zone(quick)]}))
    wait_until(lambda: health.snapshot()["c"].decode == "all", 15, "all frames for the quick rule")
    stream.apply(cam)  # the rule removed again
    wait_until(lambda: health.snapshot()["c"].decode == "keyframes", 15, "key frames again")
    assert health.snapshot()["c"].decode_switches == 3
    with pytest.raises(ValueError, match="camera c: cannot take the config of camera other"):
        stream.apply(cam.model_copy(update={"id": "other"}))
