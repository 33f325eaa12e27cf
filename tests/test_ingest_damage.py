"""Damaged pictures over real RTSP are never analysed; a returning camera is back before its backoff ends.

The GStreamer RTSP server either loses RTP packets for the first seconds of a stream (a lossy
network: slices go missing) or serves key frames encoded as two slices, which FFmpeg's RTP
depacketiser splits so that half of every picture is lost (green). Pictures are compared with
the clean clip decoded from the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from rtsp_support import Collector, RtspServer, StreamPool, camera, wait_until

from edge.ingest import CameraStream, HealthRegistry, StreamState

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "streams" / "vtest-h264.mp4"  # 10 fps, a key frame every 2 s


@pytest.fixture
def streams() -> Iterator[Callable[..., CameraStream]]:
    pool = StreamPool()
    yield pool.start
    pool.stop_all()


def small_grey(image: np.ndarray) -> np.ndarray:
    return image[::4, ::4].mean(axis=2)


@pytest.fixture(scope="module")
def reference() -> dict[float, np.ndarray]:
    """The clip's first 10 s, decoded from the file: media time -> small grey picture."""
    with av.open(str(CLIP)) as container:
        stream = container.streams.video[0]
        out = {}
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if t > 10:
                break
            out[round(t, 2)] = small_grey(frame.to_ndarray(format="bgr24"))
    return out


def psnr_to_clip(image: np.ndarray, reference: dict[float, np.ndarray]) -> float:
    """PSNR of a received picture against the clip picture it is closest to."""
    grey = small_grey(image)
    mse = min(float(np.mean((grey - ref) ** 2)) for ref in reference.values())
    return 10 * np.log10(255.0**2 / max(mse, 1e-6))


def test_pictures_damaged_by_lost_rtp_packets_are_skipped_and_clean_ones_after_are_analysed(streams, reference):
    health, sink = HealthRegistry(), Collector()
    # Every 9th RTP packet of the first 3 s is lost; the key frame at 4 s is the first clean one.
    with RtspServer(CLIP, None, "/cam", "--loss", "9", "--loss-until", "3") as server:
        # (a stall timeout longer than the damage lasts: the camera waits for the clean key frame)
        streams(camera("a", server.url, fps=5.0, decode="all", stall_timeout_s=8.0), sink, health)
        wait_until(lambda: sink.count() >= 10, 30, "clean frames after the losses")
        snap = health.snapshot()["a"]
    assert snap.damaged_pictures > 0  # the decoder's signals were seen and counted ...
    assert snap.state == StreamState.STREAMING and snap.reconnects == 0  # ... without dropping the camera
    frames = sink.frames
    assert frames[0].media_time >= 3.0  # nothing from the lossy stretch reached analysis
    assert min(psnr_to_clip(f.image, reference) for f in frames) > 30.0  # every analysed picture is intact


def sliced_clip(path: Path, seconds: float = 6.0) -> Path:
    """The clip re-encoded with two slices per picture (as some cameras' encoders do)."""
    with av.open(str(CLIP)) as source, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"x264-params": "slices=2:keyint=10:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for n, frame in enumerate(source.decode(video=0)):
            if n >= seconds * 10:
                break
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="bgr24"), format="bgr24")
            picture = picture.reformat(format="yuv420p")
            picture.pts, picture.time_base = n, Fraction(1, 10)
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_key_frames_split_into_slices_are_never_analysed_and_a_clean_camera_is(streams, tmp_path, reference):
    health, sink = HealthRegistry(), Collector()
    sliced = sliced_clip(tmp_path / "sliced.mp4")
    with RtspServer(sliced) as server:
        streams(camera("a", server.url, fps=5.0, decode="all", stall_timeout_s=2.0), sink, health)
        # Every picture of this stream has half of it missing: none may be analysed; the camera
        # stalls for want of an undamaged picture, and says why.
        wait_until(lambda: health.snapshot()["a"].last_stall is not None, 30, "a stall for damaged pictures")
        snap = health.snapshot()["a"]
        assert sink.count() == 0 and snap.damaged_pictures > 10
        assert "no undamaged picture decoded" in snap.last_stall and "damaged" in snap.last_stall
        assert snap.last_stall_at is not None
        # The camera is fixed (single-slice encoding): its pictures are analysed as usual.
        server.clip = CLIP
        server.restart()
        wait_until(lambda: sink.count() >= 5, 30, "frames from the fixed camera")
    assert min(psnr_to_clip(f.image, reference) for f in sink.frames) > 30.0


def test_camera_that_comes_back_reconnects_before_its_backoff_ends(streams):
    health, sink = HealthRegistry(), Collector()
    # A backoff grown long (30-60 s), as after a long outage: far beyond what even a loaded box needs
    # to notice the return, so the test measures the probe, not the machine's speed.
    slow = {"backoff_initial_s": 60.0, "backoff_max_s": 240.0}
    with RtspServer(CLIP) as server:
        streams(camera("a", server.url, **slow), sink, health)
        sink.wait_for(3)
        server.kill()
        wait_until(lambda: health.state("a") == StreamState.BACKOFF, 15, "backoff after the camera went away")
        retry_at = health.snapshot()["a"].retry_at
        assert retry_at is not None
        time.sleep(3.0)  # the camera stays off a few seconds (a return within a probe interval may go unseen)
        before = sink.count()
        server.restart()
        sink.wait_for(before + 1, timeout=25)  # well before the earliest retry (30 s)
        back_at = sink.frames[before].wall_time
    # The reachability probe (one TCP connect a second) noticed the return: no waiting out the backoff.
    assert back_at < retry_at
