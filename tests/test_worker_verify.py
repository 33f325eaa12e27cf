"""Verification on request against `edge run` as a real process: an RTSP camera, the receiver, the API.

A parked vehicle's case is still_present (a picture showing it), gone once its zone is redrawn where it
is not, camera_unavailable within the bound once the camera's server is killed; each answer reaches the
platform once as a message of the case, a retried request included.
"""

from __future__ import annotations

import base64
import signal
import time

import cv2
import httpx
import numpy as np
import yaml
from rtsp_support import RtspServer
from test_worker import API_TOKEN, free_port, received, receiver, start_worker, stop, wait_for_cases, write_config

from conftest import STREAMS

__all__ = ["receiver"]  # the fixture
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
BOUND_S = 4.0
ELSEWHERE = [[0.0, 0.8], [0.2, 0.8], [0.2, 1.0], [0.0, 1.0]]  # bottom-left corner: no vehicle stands there


def verify(api: str, case_id: str, request_id: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = httpx.post(f"{api}/api/cases/{case_id}/verify", json={"request_id": request_id}, headers=AUTH, timeout=60)
    return answer, time.monotonic() - started


def test_verify_over_http_on_a_live_camera(tmp_path, receiver):
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    with RtspServer(STREAMS / "vtest-h264.mp4") as camera:
        path = write_config(tmp_path, receiver.url, port)
        config = yaml.safe_load(path.read_text())
        config["cameras"][0]["source"] = {"url": camera.url, "open_timeout_s": 2, "read_timeout_s": 2}
        config["verification"] = {"timeout_s": BOUND_S, "frames": 3}
        path.write_text(yaml.safe_dump(config))
        log = tmp_path / "worker.log"
        proc = start_worker(path, log)
        try:
            case_id = wait_for_cases(receiver, 1, timeout_s=90)[0]["case_id"]
            assert httpx.post(f"{api}/api/cases/{case_id}/verify", timeout=10).status_code == 401

            answer, present_s = verify(api, case_id, "v1")
            assert answer.status_code == 200, answer.text
            present = answer.json()
            assert present["verdict"] == "still_present" and present["seq"] == 2
            jpeg = base64.b64decode(present["picture"]["jpeg_base64"])
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image.shape[:2] == (576, 768)
            again, _ = verify(api, case_id, "v1")  # a retry: the same answer, no second message
            assert again.json() == present

            zone_url = f"{api}/api/cameras/gate/zones/no-parking"
            zone = httpx.get(zone_url, headers=AUTH, timeout=10).json()["zone"]
            moved = httpx.put(zone_url, json={**zone, "polygon": ELSEWHERE}, headers=AUTH, timeout=10)
            assert moved.status_code == 200, moved.text
            gone, gone_s = verify(api, case_id, "v2")
            assert gone.json()["verdict"] == "gone" and gone.json()["seq"] == 3

            camera.kill()
            unavailable, took = verify(api, case_id, "v3")
            assert unavailable.json()["verdict"] == "camera_unavailable", unavailable.text
            assert unavailable.json()["picture"] is None
            assert took < BOUND_S + 5  # the stated bound, plus the time to answer
            print(f"answers: still_present {present_s:.2f} s, gone {gone_s:.2f} s, camera_unavailable {took:.2f} s")

            unknown, _ = verify(api, "no-such-case", "v4")
            assert unknown.status_code == 404 and unknown.json()["verdict"] == "unknown_case"

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                [case] = [c for c in received(receiver) if c["case_id"] == case_id]
                if case["kinds"].count("verification") >= 3:
                    break
                time.sleep(0.3)
        finally:
            code = stop(proc, signal.SIGTERM)
    assert code == 0, log.read_text()[-3000:]
    detail = httpx.get(f"{receiver.url}/api/cases/{case_id}", timeout=5).json()
    checks = [m for m in detail["messages"] if m["kind"] == "verification"]
    assert [(m["seq"], m["body"]["verification"]["verdict"]) for m in checks] == [
        (2, "still_present"),
        (3, "gone"),
        (4, "camera_unavailable"),
    ]
    assert [p["name"] for p in checks[0]["pictures"]] == ["02-verify.jpg"]
    assert detail["state"] == "new" and detail["verified"]["verdict"] == "camera_unavailable"
    assert "Traceback" not in log.read_text()
