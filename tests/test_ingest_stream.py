"""CameraStream on files and HTTP, and its parts: decode policy, backoff, health, hand-off, source plans."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from rtsp_support import (
    Collector,
    StreamPool,
    assert_monotonic,
    camera,
    http_server,
    solid,
    wait_until,
    write_clip,
)

from edge.config import CameraConfig
from edge.ingest import (
    Backoff,
    CameraStream,
    HealthRegistry,
    StreamState,
    choose_decode,
    read_file_frames,
    redact,
)
from edge.ingest.source import plan_source
from edge.ingest.stream import MediaClock
from edge.types import Frame

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def short_clip(tmp_path: Path) -> Path:
    """1.5 s at 10 fps, colour changing each frame, key frame every 5 frames."""
    images = [np.full((48, 64, 3), (i * 15, 100, 255 - i * 15), np.uint8) for i in range(15)]
    return write_clip(tmp_path / "short.mp4", images, codec="libx264", gop=5)


@pytest.fixture
def run_stream() -> Iterator[Callable[..., CameraStream]]:
    pool = StreamPool()
    yield pool.start
    pool.stop_all()


# --- decode policy -------------------------------------------------------------------------------


def _cam(fps: float = 2.0, decode: str = "auto", stall: float = 10.0, rules: list[dict] | None = None) -> CameraConfig:
    zone = {"id": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "rules": rules or []}
    return CameraConfig.model_validate(
        {
            "id": "c",
            "source": {"url": "rtsp://cam/1", "stall_timeout_s": stall},
            "analysis": {"fps": fps, "decode": decode},
            "zones": [zone],
        }
    )


PARKING = {"id": "p", "event_code": "0505", "classes": ["car"], "min_duration_s": 120, "gap_allowance_s": 10}
QUICK = {"id": "q", "event_code": "0501", "classes": ["person"], "min_duration_s": 5, "gap_allowance_s": 2}


@pytest.mark.parametrize(
    ("camera_config", "gop", "expected"),
    [
        (_cam(rules=[PARKING]), None, "all"),  # GOP not yet measured
        (_cam(rules=[PARKING]), 2.0, "keyframes"),  # minutes of persistence: a picture per GOP is plenty
        (_cam(rules=[PARKING, QUICK]), 2.0, "all"),  # one quick rule needs the analysis rate
        (_cam(rules=[PARKING]), 4.0, "keyframes"),
        (_cam(rules=[PARKING]), 6.0, "all"),  # a gap of 6 s would eat the 10 s gap allowance
        (_cam(rules=[PARKING], stall=5.0), 4.0, "all"),  # key frames would trip the stall watchdog
        (_cam(fps=0.25, rules=[QUICK]), 2.0, "keyframes"),  # key frames already outpace the analysis rate
        (_cam(rules=[]), 2.0, "keyframes"),
        (_cam(rules=[QUICK | {"enabled": False}]), 2.0, "keyframes"),
        (_cam(decode="all", rules=[PARKING]), 2.0, "all"),  # forced by config
        (_cam(decode="keyframes", rules=[QUICK]), None, "keyframes"),
    ],
)
def test_choose_decode(camera_config: CameraConfig, gop: float | None, expected: str):
    assert choose_decode(camera_config, gop) == expected


# --- backoff -------------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets_after_a_stable_session():
    backoff = Backoff(0.5, 8.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    nominal = [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert all(n / 2 <= d <= n for d, n in zip(delays, nominal, strict=True))
    assert len({round(d, 6) for d in delays[4:]}) > 1  # jittered, not lockstep
    backoff.streamed(3.0)  # a short session: a flapping camera keeps backing off
    assert backoff.next_delay() >= 4.0
    backoff.streamed(8.0)
    assert backoff.next_delay() <= 0.5


def test_backoff_rejects_initial_above_cap():
    with pytest.raises(ValueError, match="initial"):
        Backoff(5.0, 1.0)


# --- health --------------------------------------------------------------------------------------


def test_health_state_machine_counts_reconnects_and_rejects_illegal_moves():
    health = HealthRegistry()
    health.register("a", stall_timeout_s=0.05)
    with pytest.raises(RuntimeError, match="illegal transition stopped -> streaming"):
        health.transition("a", StreamState.STREAMING)
    for state in (StreamState.CONNECTING, StreamState.BACKOFF, StreamState.CONNECTING, StreamState.STREAMING):
        health.transition("a", state, "refused" if state == StreamState.BACKOFF else None)
    snap = health.snapshot()["a"]
    assert (snap.state, snap.reconnects, snap.last_error) == (StreamState.STREAMING, 1, "refused")
    health.progress("a", packets=5, pictures=1, corrupt=2)
    health.analysed("a", 768, 576)
    health.decoding("a", "all", None)  # a session starts as registered: no switch
    health.decoding("a", "keyframes", 2.0)
    snap = health.snapshot()["a"]
    assert (snap.corrupt_packets, snap.width) == (2, 768)
    assert (snap.decode, snap.gop_s, snap.decode_switches) == ("keyframes", 2.0, 1)
    health.dropped("a", 3)  # frames the hand-off to inference dropped because it lagged
    health.dropped("unknown")  # a camera removed meanwhile: ignored, not an error
    assert health.snapshot()["a"].dropped_frames == 3
    wait_until(lambda: health.snapshot()["a"].state == StreamState.STALLED, 5, "the watchdog view")
    assert [t.state for t in health.history("a")][-1] == StreamState.STREAMING  # recorded state unchanged


# --- sources and config ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind", "on_end", "paced"),
    [
        ({"url": "rtsp://10.0.0.5/live"}, "rtsp", "reconnect", False),  # RTSP arrives in real time anyway
        ({"url": "https://cam/stream.ts"}, "http", "reconnect", True),
        ({"url": "http://cam/clip.mp4", "live": False}, "http", "reconnect", False),
        ({"url": "/clips/a.mp4"}, "file", "finish", True),  # a file camera is paced like a camera
        ({"url": "/clips/a.mp4", "live": False}, "file", "finish", False),
        ({"url": "/clips/a.mp4", "loop": True}, "file", "reopen", True),
        ({"url": "/clips/a.mp4", "loop": True, "live": False}, "file", "reopen", False),
        ({"url": "/clips/a.mp4", "live": True}, "file", "finish", True),
    ],
)
def test_source_plan(source: dict, kind: str, on_end: str, paced: bool):
    plan = plan_source(CameraConfig.model_validate({"id": "c", "source": source}).source)
    assert (plan.kind, plan.on_end, plan.paced) == (kind, on_end, paced)


def test_passwords_never_reach_logs_or_health():
    assert redact("rtsp://admin:s3cret@10.0.0.5:554/h264") == "rtsp://admin:***@10.0.0.5:554/h264"
    assert redact("rtsp://10.0.0.5/h264") == "rtsp://10.0.0.5/h264"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"url": "ftp://cam/x"}, "unsupported source scheme 'ftp'"),
        ({"url": " "}, "source url is empty"),
        ({"url": "rtsp://cam/x", "loop": True}, "loop applies to files only"),
        ({"url": "a.mp4", "backoff_initial_s": 10, "backoff_max_s": 5}, "backoff_initial_s (10) is larger"),
    ],
)
def test_source_config_mistakes_are_named(source: dict, problem: str):
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        CameraConfig.model_validate({"id": "c", "source": source})


# --- CameraStream on files -------------------------------------------------------------------------


def test_plain_file_streams_to_its_end_then_stops(run_stream, short_clip: Path):
    health, sink = HealthRegistry(), Collector()
    stream = run_stream(camera("f", str(short_clip), fps=10.0, decode="all"), sink, health)
    wait_until(lambda: not stream.is_alive(), 10, "the file to end")
    assert [round(f.media_time, 3) for f in sink.frames] == [i / 10 for i in range(15)]
    assert health.snapshot()["f"].state == StreamState.STOPPED
    colours = [int(f.image[0, 0, 0]) for f in sink.frames]
    assert colours == sorted(colours)  # the frames in order, decoded to BGR


def test_looping_file_keeps_media_time_and_index_running(run_stream, short_clip: Path):
    health, sink = HealthRegistry(), Collector()
    run_stream(camera("f", str(short_clip), fps=10.0, decode="all", loop=True, live=False), sink, health)
    sink.wait_for(50)  # more than three passes
    assert_monotonic(sink.frames)
    assert health.snapshot()["f"].reconnects == 0  # reopening a loop is not a reconnect


def test_paced_loop_is_delivered_in_real_time_order(run_stream, short_clip: Path):
    health, sink = HealthRegistry(), Collector()
    run_stream(camera("f", str(short_clip), fps=5.0, loop=True), sink, health)
    sink.wait_for(10)
    frames = sink.frames[:10]
    assert_monotonic(frames)
    media = frames[-1].media_time - frames[0].media_time
    wall = frames[-1].wall_time - frames[0].wall_time
    assert wall >= media * 0.9  # paced: frames are not delivered faster than they were recorded


def test_failing_consumer_does_not_stop_the_camera(run_stream, short_clip: Path):
    calls = Collector()

    def flaky(frame: Frame) -> None:
        calls(frame)
        if frame.index == 0:
            raise RuntimeError("inference fell over")

    stream = run_stream(camera("f", str(short_clip), fps=10.0, decode="all"), flaky, HealthRegistry())
    wait_until(lambda: not stream.is_alive(), 10, "the file to end")
    assert calls.count() == 15


def test_resolution_change_mid_stream_keeps_streaming(run_stream, tmp_path: Path):
    small = write_clip(tmp_path / "a.ts", [solid((0, 0, 255), 64, 48)] * 10, codec="libx264", gop=5)
    large = write_clip(tmp_path / "b.ts", [solid((255, 0, 0), 96, 64)] * 10, codec="libx264", gop=5)
    spliced = tmp_path / "spliced.ts"  # MPEG-TS concatenates: a camera switching its resolution
    spliced.write_bytes(small.read_bytes() + large.read_bytes())
    frames = list(read_file_frames(spliced, "c", fps=5.0))
    assert [f.image.shape[:2] for f in frames] == [(48, 64)] * 5 + [(64, 96)] * 5
    assert_monotonic(frames)  # the second part's timestamps restart; media time does not
    health, sink = HealthRegistry(), Collector()
    stream = run_stream(camera("c", str(spliced), fps=5.0), sink, health)
    wait_until(lambda: not stream.is_alive(), 10, "the file to end")
    assert {f.image.shape for f in sink.frames} == {(48, 64, 3), (64, 96, 3)}
    assert (health.snapshot()["c"].width, health.snapshot()["c"].height) == (96, 64)


def test_corrupt_packets_are_counted_and_the_camera_keeps_streaming(run_stream, tmp_path: Path):
    rng = np.random.default_rng(3)
    noise = [rng.integers(0, 256, (48, 64, 3), np.uint8) for _ in range(60)]  # 6 s that do not compress away
    data = bytearray(write_clip(tmp_path / "clean.mp4", noise, codec="libx264", gop=5).read_bytes())
    third = len(data) // 3
    data[third : third + third // 2] = rng.integers(0, 256, third // 2, np.uint8).tobytes()  # damage the middle
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    health, sink = HealthRegistry(), Collector()
    stream = run_stream(camera("c", str(damaged), fps=10.0, decode="all"), sink, health)
    wait_until(lambda: not stream.is_alive(), 10, "the file to end")
    snap = health.snapshot()["c"]
    assert snap.corrupt_packets > 0  # the damage was seen and counted ...
    assert (snap.state, snap.reconnects, snap.last_error) == (StreamState.STOPPED, 0, None)  # ... and survived
    assert sink.frames[-1].media_time >= 5.5  # read on to the end, past the damage
    assert_monotonic(sink.frames)


def test_missing_file_backs_off_with_a_clear_error(run_stream, tmp_path: Path):
    health = HealthRegistry()
    run_stream(camera("f", str(tmp_path / "gone.mp4")), Collector(), health)
    wait_until(lambda: health.snapshot()["f"].reconnects >= 1, 10, "a retry")
    assert health.snapshot()["f"].last_error == f"{tmp_path / 'gone.mp4'}: does not exist"


def test_file_without_a_decodable_picture_stops_with_an_error(run_stream, tmp_path: Path):
    data = (REPO / "streams" / "vtest-h264.mp4").read_bytes()  # its index comes first ("faststart")
    header_only = tmp_path / "header-only.mp4"  # the index promises frames, the media data is gone
    header_only.write_bytes(data[: data.index(b"mdat") + 4])
    health = HealthRegistry()
    stream = run_stream(camera("f", str(header_only)), Collector(), health)
    wait_until(lambda: not stream.is_alive(), 10, "the camera to give up")
    snap = health.snapshot()["f"]
    assert snap.state == StreamState.STOPPED and snap.last_error.endswith("ended without a decodable picture")


def test_media_clock_rebases_a_new_session_on_the_wall_clock_gap():
    clock = MediaClock()
    assert [clock(t, 100.0 + t) for t in (0.0, 0.5, 1.0)] == [0.0, 0.5, 1.0]
    clock.new_session()  # reconnected 4 s (wall) after the last frame; the new session starts at 0
    assert clock(0.0, 105.0) == pytest.approx(5.0)
    assert clock(0.5, 105.5) == pytest.approx(5.5)


# --- HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a temporary directory."""
    with http_server(tmp_path) as base:
        yield base, tmp_path


def test_http_stream_end_is_a_disconnect_and_it_reconnects(run_stream, http_dir, short_clip: Path):
    base, root = http_dir
    (root / "cam.mp4").write_bytes(short_clip.read_bytes())
    health, sink = HealthRegistry(), Collector()
    run_stream(camera("h", f"{base}/cam.mp4", fps=10.0), sink, health)
    wait_until(lambda: health.snapshot()["h"].reconnects >= 1, 15, "a reconnect after the end")
    sink.wait_for(20)
    assert health.snapshot()["h"].last_error.endswith("cam.mp4: stream ended")
    assert_monotonic(sink.frames)


def test_http_not_found_is_reported_and_retried(run_stream, http_dir):
    base, _ = http_dir
    health = HealthRegistry()
    run_stream(camera("h", f"{base}/nothing.ts"), Collector(), health)
    wait_until(lambda: health.snapshot()["h"].reconnects >= 1, 10, "a retry")
    assert "404" in health.snapshot()["h"].last_error


def test_no_frame_arrives_after_stop_returns(short_clip: Path):
    health, sink = HealthRegistry(), Collector()
    stream = CameraStream(camera("f", str(short_clip), fps=10.0, loop=True), sink, health)
    stream.start()
    sink.wait_for(2)
    assert stream.stop(timeout=5.0)
    count = sink.count()
    time.sleep(0.2)
    assert sink.count() == count and health.snapshot()["f"].state == StreamState.STOPPED
