"""Helpers for the ingest tests: generated clips, the real RTSP server process, frame collection and waits."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from edge.config import CameraConfig
from edge.ingest import CameraStream, HealthRegistry
from edge.types import Frame


def write_clip(
    path: Path,
    images: Sequence[np.ndarray],
    pts: Sequence[int] | None = None,
    rate: int = 10,
    codec: str = "mpeg4",
    gop: int = 10,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode BGR images into a real clip; `pts` in 1/rate units lets a test make gaps in time;
    `options`: the encoder's (e.g. x264-params)."""
    pts = list(range(len(images))) if pts is None else list(pts)
    height, width = images[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, rate)
        stream.codec_context.gop_size = gop
        stream.options = options or {}
        for image, t in zip(images, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            frame.pts, frame.time_base = t, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving the files in `root`; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def solid(bgr: tuple[int, int, int], width: int = 64, height: int = 48) -> np.ndarray:
    return np.full((height, width, 3), bgr, np.uint8)


SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # has gi + GstRtspServer; a venv can't import gi


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RtspServer:
    """The real GStreamer RTSP server in its own process group, on a fixed port so it can be restarted.

    Use as a context manager (or call `kill()` in a finally): an orphaned server keeps its port.
    """

    def __init__(self, clip: Path, port: int | None = None, path: str = "/cam", *options: str) -> None:
        """`options`: more command-line options of `rtsp_server.py` (e.g. packet loss)."""
        self.clip = clip
        self.port = port or free_port()
        self.path = path
        self.options = options
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def start(self, ready_timeout: float = 20.0) -> RtspServer:
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), str(self.clip), "--port", str(self.port), "--path", self.path]
        cmd += self.options
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], ready_timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("READY"):
            self.kill()
            raise RuntimeError(f"RTSP server on port {self.port} did not start: {line!r} {self._stderr()}")
        return self

    def _stderr(self) -> str:
        if self.proc is None or self.proc.poll() is None:
            return ""
        return self.proc.stderr.read() if self.proc.stderr else ""

    def pause(self) -> None:
        """SIGSTOP: the server hangs with its sockets open, like a frozen camera."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe:
                pipe.close()
        self.proc = None

    def restart(self) -> RtspServer:
        """Kill and start again on the same port, as a rebooted camera would come back."""
        self.kill()
        deadline = time.monotonic() + 10
        while True:
            try:
                return self.start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


# --- stream test helpers ---

FAST = {"open_timeout_s": 1.0, "read_timeout_s": 1.0, "stall_timeout_s": 1.5}
QUICK_BACKOFF = {"backoff_initial_s": 0.1, "backoff_max_s": 0.5}


def camera(cam_id: str, url: str, fps: float = 5.0, decode: str = "auto", **source: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": cam_id,
            "source": {"url": url, **FAST, **QUICK_BACKOFF, **source},
            "analysis": {"fps": fps, "decode": decode},
        }
    )


class Collector:
    """Thread-safe sink for frames, with waits that poll instead of sleeping a fixed time."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self._lock = threading.Lock()

    def __call__(self, frame: Frame) -> None:
        with self._lock:
            self.frames.append(frame)

    def count(self) -> int:
        with self._lock:
            return len(self.frames)

    def wait_for(self, n: int, timeout: float = 15.0) -> None:
        wait_until(lambda: self.count() >= n, timeout, f"{n} frames (got {self.count()})")


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def assert_monotonic(frames: list[Frame]) -> None:
    times = np.array([f.media_time for f in frames])
    assert np.all(np.diff(times) > 0), "media_time went backwards or stood still"
    assert [f.index for f in frames] == list(range(len(frames)))


class StreamPool:
    """Starts CameraStreams and stops them all at the end of a test, even when it fails."""

    def __init__(self) -> None:
        self.started: list[CameraStream] = []

    def start(self, cam: CameraConfig, sink: Callable[[Frame], None], health: HealthRegistry) -> CameraStream:
        stream = CameraStream(cam, sink, health)
        stream.start()
        self.started.append(stream)
        return stream

    def stop_all(self) -> None:
        for stream in self.started:
            stream.stop()
