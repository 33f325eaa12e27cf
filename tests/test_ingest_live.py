"""Live cameras against a real GStreamer RTSP server: kill, hang, late start, a failing neighbour, leaks."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from rtsp_support import Collector, RtspServer, StreamPool, assert_monotonic, camera, free_port, wait_until, write_clip

from edge.ingest import CameraStream, HealthRegistry, StreamState

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "streams" / "vtest-h264.mp4"


@pytest.fixture
def streams() -> Iterator[Callable[..., CameraStream]]:
    pool = StreamPool()
    yield pool.start
    pool.stop_all()


def test_server_killed_and_restarted_streams_again(streams):
    health, sink = HealthRegistry(), Collector()
    with RtspServer(CLIP) as server:
        streams(camera("a", server.url), sink, health)
        sink.wait_for(5)
        server.kill()
        wait_until(lambda: health.state("a") == StreamState.BACKOFF, 10, "backoff after the kill")
        before = sink.count()
        server.restart()
        sink.wait_for(before + 5)
        snap = health.snapshot()["a"]
    frames = sink.frames
    assert_monotonic(frames)
    last, first = frames[before - 1], frames[before]
    # the outage shows as media time passing (rebased on the wall clock), not squeezed out
    assert first.media_time - last.media_time == pytest.approx(first.wall_time - last.wall_time, abs=0.05)
    assert snap.reconnects >= 1 and snap.state == StreamState.STREAMING
    assert "stream ended" in snap.last_error or "refused" in snap.last_error


def test_hung_server_is_detected_then_backoff_then_resumes(streams):
    health, sink = HealthRegistry(), Collector()
    with RtspServer(CLIP) as server:
        streams(camera("a", server.url), sink, health)
        sink.wait_for(3)
        server.pause()
        try:
            wait_until(lambda: health.state("a") == StreamState.BACKOFF, 15, "backoff while the server hangs")
            snap = health.snapshot()["a"]
            assert "stalled: no data within the 1 s read timeout" in snap.last_error
            # the API shows the stall (when and why) after it has moved on to backing off
            assert snap.last_stall == snap.last_error and snap.last_stall_at is not None
            assert snap.retry_at is not None and snap.retry_at >= snap.last_stall_at
        finally:
            server.resume()
        before = sink.count()
        sink.wait_for(before + 5, timeout=20)  # streaming again after SIGCONT
        states = [t.state for t in health.history("a")]
    stalled = states.index(StreamState.STALLED)
    assert states[stalled - 1 : stalled + 2] == [StreamState.STREAMING, StreamState.STALLED, StreamState.BACKOFF]
    assert states[-1] == StreamState.STREAMING
    assert_monotonic(sink.frames)


def test_stall_before_the_first_picture_backs_off_and_retries(streams, tmp_path: Path):
    # Forced key-frame decoding of a stream whose only key frame the camera never gets to decode:
    # packets keep arriving, no picture ever comes. The camera must stall, back off and retry, not die.
    images = [np.full((48, 64, 3), (i * 2, 100, 200), np.uint8) for i in range(100)]
    one_key = write_clip(tmp_path / "one-key.mp4", images, codec="libx264", gop=1000)
    health, sink = HealthRegistry(), Collector()
    with RtspServer(one_key) as server:
        stream = streams(camera("a", server.url, decode="keyframes", stall_timeout_s=1.0), sink, health)
        wait_until(lambda: health.snapshot()["a"].reconnects >= 2, 15, "two retries after stalls")
        assert stream.is_alive()
    history = health.history("a")
    states = [t.state for t in history]
    assert states[:4] == [StreamState.CONNECTING, StreamState.STALLED, StreamState.BACKOFF, StreamState.CONNECTING]
    assert "stalled: no picture decoded for" in history[1].error
    # (a later session may catch the clip's only key frame when the server loops it: not asserted)


def test_offline_camera_streams_once_its_server_appears_while_a_failing_one_never_blocks_it(streams):
    health, late, broken = HealthRegistry(), Collector(), Collector()
    late_server = RtspServer(CLIP)
    hung_server = RtspServer(CLIP)
    try:
        hung_server.start()
        hung_server.pause()  # accepts TCP connections (kernel backlog) but never answers: every open times out
        streams(camera("hung", hung_server.url), broken, health)
        streams(camera("refused", f"rtsp://127.0.0.1:{free_port()}/cam"), broken, health)
        streams(camera("late", late_server.url), late, health)
        wait_until(lambda: health.snapshot()["late"].reconnects >= 2, 10, "the late camera to retry")
        assert late.count() == 0
        late_server.start()
        late.wait_for(15)  # 3 s of frames at 5 fps while both neighbours keep failing
        snap = health.snapshot()
    finally:
        late_server.kill()
        hung_server.kill()
    assert broken.count() == 0
    assert snap["refused"].state in (StreamState.BACKOFF, StreamState.CONNECTING)
    assert snap["refused"].reconnects >= 3 and "refused" in snap["refused"].last_error
    assert "hung" in snap and snap["hung"].last_error is not None
    assert snap["late"].state == StreamState.STREAMING
    gaps = np.diff([f.media_time for f in late.frames])
    assert gaps.max() < 1.0  # analysed frames kept flowing at 5 fps: no stalls caused by the others


def test_udp_transport_and_key_frame_decoding_chosen_from_measured_gop(streams):
    health, sink = HealthRegistry(), Collector()
    with RtspServer(CLIP) as server:
        # one analysed frame per 4 s is coarser than the 2 s GOP: key frames are all it needs
        streams(camera("a", server.url, fps=0.25, transport="udp", stall_timeout_s=10.0), sink, health)
        wait_until(lambda: health.snapshot()["a"].decode == "keyframes", 15, "switch to key frames")
        assert health.snapshot()["a"].input_fps > 0
    last = sink.frames[-1]
    assert last.is_keyframe and last.media_time == pytest.approx(2.0 * round(last.media_time / 2.0), abs=0.15)


def test_end_of_a_live_stream_is_a_disconnect(streams, tmp_path: Path):
    images = [np.full((48, 64, 3), (i * 8, 128, 255 - i * 8), np.uint8) for i in range(15)]
    short = write_clip(tmp_path / "short.mp4", images, codec="libx264", gop=5)
    health, sink = HealthRegistry(), Collector()
    with RtspServer(short) as server:
        streams(camera("a", server.url, fps=10.0), sink, health)
        wait_until(lambda: health.snapshot()["a"].reconnects >= 2, 15, "two reconnects after the stream ends")
        sink.wait_for(20)  # frames from more than one session
    assert "stream ended" in health.snapshot()["a"].last_error
    assert_monotonic(sink.frames)


def _children() -> set[int]:
    me = str(os.getpid())
    out = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                out.add(int(pid))
    return out


def test_twenty_connect_disconnect_cycles_leak_no_threads_processes_or_fds():
    with RtspServer(CLIP) as server:
        cam = camera("a", server.url, fps=10.0)
        health = HealthRegistry()

        def cycle() -> None:
            sink = Collector()
            stream = CameraStream(cam, sink, health)
            stream.start()
            sink.wait_for(1)
            assert stream.stop()

        cycle()  # warm up: first-use allocations of FFmpeg and the logging machinery
        threads = {t.ident for t in threading.enumerate()}
        fds = len(os.listdir("/proc/self/fd"))
        children = _children()
        for _ in range(20):
            cycle()
        assert {t.ident for t in threading.enumerate()} == threads
        assert len(os.listdir("/proc/self/fd")) == fds
        assert _children() == children
        assert health.snapshot()["a"].state == StreamState.STOPPED
