"""`edge run` with patrol cameras, as a real process: a real RTSP server process showing the parked van
and car, a snapshot URL on a real HTTP server, a camera that refuses; cases at a real receiver."""

from __future__ import annotations

import signal

import cv2
import httpx
import numpy as np
import pytest
import yaml
from rtsp_support import RtspServer, free_port, http_server
from scene_clips import vtest_frame_at
from test_worker import API_TOKEN, start_worker, stop, wait_for_cases

from edge.http_server import ThreadedServer
from edge.ingest import StreamState
from edge.receiver.app import create_app

from conftest import MODEL, parked_gate_camera

PATROL = {"mode": "patrol", "revisit_s": 2, "pictures_per_visit": 2, "visit_timeout_s": 3}
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def receiver(tmp_path):
    with ThreadedServer(create_app(tmp_path / "receiver.db")) as server:
        yield server


def patrol_camera(camera_id: str, url: str, **source) -> dict:
    camera = parked_gate_camera(min_duration_s=6, gap_allowance_s=2, clear_after_s=600)
    return camera | {"id": camera_id, "source": {"url": url, **source}, "analysis": PATROL}


def test_a_patrol_box_visits_its_cameras_in_turn_and_opens_the_parked_cases(tmp_path, receiver):
    (tmp_path / "snap").mkdir()
    cv2.imwrite(str(tmp_path / "snap" / "gate.jpg"), vtest_frame_at(10.0))
    api_port = free_port()
    with RtspServer(MODEL.parents[1] / "streams" / "vtest-h264.mp4") as rtsp, http_server(tmp_path / "snap") as web:
        cameras = [
            patrol_camera("gate-rtsp", rtsp.url),
            patrol_camera("gate-snap", f"{web}/gate.jpg", kind="snapshot"),
            patrol_camera("refusing", f"rtsp://127.0.0.1:{free_port()}/cam"),
        ]
        config = {
            "version": 1,
            "worker": {"id": "edge-test"},
            "models": [{"id": "coco", "path": str(MODEL)}],
            "cameras": cameras,
            "patrol": {"max_concurrent_visits": 2},
            "platform": {"url": f"{receiver.url}/api/cases", "backoff_initial_s": 0.1, "backoff_max_s": 1},
            "storage": {"dir": str(tmp_path / "var")},
            "api": {"port": api_port},
        }
        path = tmp_path / "edge.yaml"
        path.write_text(yaml.safe_dump(config))
        proc = start_worker(path, tmp_path / "worker.log")
        try:
            cases = wait_for_cases(receiver, 4, timeout_s=90)  # van and car, on both working cameras
            api = f"http://127.0.0.1:{api_port}"
            listed = {c["id"]: c["health"] for c in httpx.get(f"{api}/api/cameras", headers=AUTH, timeout=5).json()}
            ready = httpx.get(f"{api}/readyz", headers=AUTH, timeout=5).json()
            metrics = httpx.get(f"{api}/metrics", headers=AUTH, timeout=5).text
            # the latest visit's picture, held as JPEG between visits (docs/patrol.md, "Memory between visits")
            picture = httpx.get(f"{api}/api/cameras/gate-snap/frame.jpg", headers=AUTH, timeout=5)
        finally:
            assert stop(proc, signal.SIGTERM) == 0
    assert sorted(c["latest"]["camera"]["id"] for c in cases) == ["gate-rtsp", "gate-rtsp", "gate-snap", "gate-snap"]
    assert all(c["kinds"] == ["new"] for c in cases)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    shown = cv2.imdecode(np.frombuffer(picture.content, np.uint8), cv2.IMREAD_COLOR)
    assert shown.shape == vtest_frame_at(10.0).shape
    for camera_id in ("gate-rtsp", "gate-snap"):
        patrol = listed[camera_id]["patrol"]
        assert patrol["visits"] >= 3 and patrol["failed_visits"] == 0 and patrol["last_pictures"] == 2
        assert patrol["last_error"] is None
    refusing = listed["refusing"]
    assert refusing["state"] == StreamState.BACKOFF
    assert refusing["patrol"]["failed_visits"] >= 1 and "connection refused" in refusing["patrol"]["last_error"]
    assert refusing["patrol"]["next_due_at"] is not None
    assert ready["patrol"].startswith("patrol ")
    assert 'edge_patrol_camera_visits_total{camera="refusing",outcome="failed"}' in metrics
    # the patrol dispatcher is a supervised stage (docs/api.md, "Supervision"); a failing camera is not a failing stage
    assert 'edge_stage_failed{kind="patrol",stage="edge-patrol"} 0.0' in metrics and ready["stages"]["failed"] == []
