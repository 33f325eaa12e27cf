"""Patrol visits against real servers: a GStreamer RTSP server process, HTTP servers on 127.0.0.1,
and sockets that refuse, hang or answer garbage. Each failure is a failed visit naming its reason."""

from __future__ import annotations

import base64
import contextlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from rtsp_support import RtspServer, free_port, write_clip
from test_cases_support import make_config, rule

from edge.config import CameraConfig
from edge.ingest.snapshot import snapshot_auth, snapshot_visit
from edge.ingest.visit import Capture, stream_visit

RATE = 10


def camera(url: str, pictures: int = 2, **source) -> CameraConfig:
    analysis = {"mode": "patrol", "pictures_per_visit": pictures, "visit_timeout_s": 2.0}
    return make_config([rule()], source={"url": url, **source}, analysis=analysis).cameras[0]


def key_frame_clip(path: Path) -> Path:
    """3 s of a moving ramp as H.264, a key frame every half second, no B-frames (as IP cameras send)."""
    ramp = np.arange(96)
    images = [
        np.broadcast_to(((ramp + 5 * i) % 256).astype(np.uint8)[None, :, None], (64, 96, 3)).copy() for i in range(30)
    ]
    x264 = {"preset": "ultrafast", "x264-params": "keyint=5:min-keyint=5:scenecut=0:bframes=0"}
    return write_clip(path, images, rate=RATE, codec="libx264", gop=5, options=x264)


def test_a_stream_visit_takes_the_first_key_frames_and_hangs_up(tmp_path):
    taken: list[Capture] = []
    with RtspServer(key_frame_clip(tmp_path / "cam.mp4")) as server:
        outcome = stream_visit(camera(server.url), taken.append)
    assert outcome.error is None and outcome.pictures == 2 == len(taken)
    assert taken[0].image.shape == (64, 96, 3)
    assert not np.array_equal(taken[0].image, taken[1].image)  # two key frames half a second apart
    assert outcome.duration_s < 2.0


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_camera_that_freezes_mid_visit_ends_the_visit_within_its_read_timeout(tmp_path, transport):
    """A frozen camera (its process stopped, its sockets open) ends the visit within its read timeout,
    keeping the pictures it took: one camera never holds a visit slot longer."""
    taken: list[Capture] = []
    with RtspServer(key_frame_clip(tmp_path / "cam.mp4")) as server:
        cam = camera(server.url, pictures=5, transport=transport, read_timeout_s=1.0)

        def freeze_after_first(capture: Capture) -> None:
            taken.append(capture)
            if len(taken) == 1:
                server.pause()

        try:
            outcome = stream_visit(cam, freeze_after_first)
        finally:
            server.resume()
    assert outcome.error is None and outcome.pictures == len(taken) >= 1
    assert outcome.pictures < 5
    assert outcome.duration_s < 1.0 * 2 + 1.0  # the read timeout (FFmpeg may try once more), not the default


@contextlib.contextmanager
def tcp_server(answer: bytes | None) -> Iterator[int]:
    """A real TCP server: accepts and says nothing (None), or answers `answer` to whatever comes."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        held = []
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)
            if answer is not None:
                with contextlib.suppress(OSError):
                    conn.recv(4096)
                    conn.sendall(answer)
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (None, "no answer within the 2 s open timeout"),
        (b"\x00\x17garbage, not RTSP at all\r\n\r\n" * 40, "invalid data"),
    ],
    ids=["hangs-at-connect", "answers-garbage"],
)
def test_a_camera_that_hangs_or_answers_garbage_is_a_failed_visit_within_its_timeout(answer, reason):
    with tcp_server(answer) as port:
        outcome = stream_visit(camera(f"rtsp://127.0.0.1:{port}/cam"), lambda _c: None)
    assert outcome.failed and reason in outcome.error
    assert outcome.duration_s < 2 * 2.0 + 1.0  # bounded by the visit timeout, not by FFmpeg's defaults


def test_a_refused_camera_is_a_failed_visit_at_once():
    outcome = stream_visit(camera(f"rtsp://127.0.0.1:{free_port()}/cam"), lambda _c: None)
    assert outcome.failed and "refused" in outcome.error.lower()
    assert outcome.duration_s < 1.0


class SnapshotHandler(http.server.BaseHTTPRequestHandler):
    """A camera's picture URL behind basic authentication, and the wrong answers cameras give."""

    jpeg = b""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(b"ops:s3cret").decode()
        if self.headers.get("Authorization") != expected:
            return self._send(401, b"login required", "text/plain", {"WWW-Authenticate": 'Basic realm="cam"'})
        if self.path == "/snap.jpg":
            return self._send(200, self.jpeg, "image/jpeg")
        if self.path == "/portal":
            return self._send(200, b"<html><body>Please log in</body></html>", "text/html")
        return self._send(200, self.jpeg[: len(self.jpeg) // 2], "image/jpeg")  # /cut.jpg: cut short

    def _send(self, code: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def snapshot_server() -> Iterator[str]:
    image = np.zeros((120, 160, 3), np.uint8)
    image[30:90, 40:120] = (40, 160, 220)
    SnapshotHandler.jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SnapshotHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def snapshot_camera(url: str, password_env: str = "SNAP_PW") -> CameraConfig:
    return camera(url, kind="snapshot", auth="basic", username="ops", password_env=password_env)


def test_a_snapshot_visit_takes_its_pictures_with_the_password_from_the_environment(snapshot_server, monkeypatch):
    monkeypatch.setenv("SNAP_PW", "s3cret")
    cam = snapshot_camera(f"{snapshot_server}/snap.jpg")
    taken: list[Capture] = []
    with httpx.Client() as client:
        outcome = snapshot_visit(cam, client, snapshot_auth(cam), taken.append)
    assert outcome.error is None and outcome.pictures == 2
    assert taken[0].image.shape == (120, 160, 3) and tuple(taken[0].image[60, 80]) == pytest.approx(
        (40, 160, 220), abs=8
    )


@pytest.mark.parametrize(
    ("path", "password", "reason"),
    [
        ("/snap.jpg", "wrong", "answered HTTP 401 Unauthorized"),
        ("/portal", "s3cret", "answered text/html"),
        ("/cut.jpg", "s3cret", "truncated JPEG"),
    ],
)
def test_a_snapshot_url_answering_no_picture_is_a_failed_visit(snapshot_server, monkeypatch, path, password, reason):
    monkeypatch.setenv("SNAP_PW", password)
    cam = snapshot_camera(f"{snapshot_server}{path}")
    with httpx.Client() as client:
        outcome = snapshot_visit(cam, client, snapshot_auth(cam), lambda _c: None)
    assert outcome.failed and reason in outcome.error
    assert "s3cret" not in outcome.error
