"""A covered camera inside the worker: zones pause, a device fault opens and clears, street cases wait."""

from __future__ import annotations

import numpy as np
import yaml
from fastapi.testclient import TestClient
from scene_clips import covered, during, frames, shifted

from edge.api.app import create_app
from edge.config import parse_config
from edge.runtime.worker import Worker
from edge.types import Detections
from edge.zones.store import ZoneStore

from conftest import DEMO_CONFIG

COVER_FROM, COVER_TO = 12.0, 40.0
CAR_BOX = np.array([[731, 48, 767, 94]], np.float32)  # the parked car at the top right of vtest


def worker_config(tmp_path):
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    camera = data["cameras"][0]
    camera["zones"] = camera["zones"][:1]
    camera["zones"][0]["rules"][0].update(min_duration_s=20, gap_allowance_s=5)
    data["scene"] = {"enabled": True}
    data["storage"]["dir"] = str(tmp_path / "var")
    data["api"] = {"enabled": False}
    return parse_config(data, DEMO_CONFIG.parent)


def test_cover_pauses_zones_and_reports_a_device_fault(tmp_path):
    config = worker_config(tmp_path)
    worker = Worker(config)
    car = worker.detectors["coco"].class_names.index("car")
    try:
        cover = during(COVER_FROM, COVER_TO, covered)
        for frame in frames(cover, fps=2.0, end=75.0, camera="campus-north"):
            # the detector would still "see" the car through the cover: only the pause stops a case
            detections = {"coco": Detections(CAR_BOX, [0.6], [car])}
            worker.analyse(frame, detections)
            if COVER_FROM + 6 < frame.media_time < COVER_TO:
                assert worker.camera_health()["campus-north"].tamper.kind == "covered"
        messages = worker.recent_messages(50)[::-1]
    finally:
        worker.stop()
    faults = [m for m in messages if m.body.get("type") == "device_fault"]
    street = [m for m in messages if m.body.get("type") != "device_fault"]
    assert [m.kind for m in faults] == ["new", "cleared"]
    assert faults[0].body["fault"]["kind"] == "covered"
    assert COVER_FROM <= faults[0].body["time_media_s"] < COVER_FROM + 6
    assert faults[1].body["time_media_s"] >= COVER_TO
    assert faults[0].case_id == faults[1].case_id and "view.jpg" in faults[0].pictures
    # the car stands in the zone from the start and would reach 20 s during the cover, yet no case opens while the view
    # could not be trusted; it is confirmed only once the view is back and the car is seen again
    assert [m.kind for m in street] == ["new"]
    assert street[0].body["times"]["confirmed_media_s"] >= faults[1].body["time_media_s"]


def test_a_re_aimed_camera_stays_paused_until_an_operator_rebases_it_through_the_api(tmp_path):
    config = worker_config(tmp_path)
    store = ZoneStore(tmp_path / "zones.json")
    config, versions = store.adopt(config)
    worker = Worker(config, versions)
    token = "rebase-test-token-0123456789"
    api = TestClient(create_app(worker, store, env={"EDGE_API_TOKEN": token}))
    auth = {"Authorization": f"Bearer {token}"}
    re_aimed = during(20.0, 1e9, lambda image: shifted(image, 60, 25))
    try:
        clip = frames(re_aimed, fps=2.0, end=70.0, camera="campus-north")
        for frame in clip:
            worker.analyse(frame, {})
            if frame.media_time >= 40.0:
                break
        assert worker.camera_health()["campus-north"].tamper.kind == "moved"
        assert api.post("/api/cameras/campus-north/scene/rebase").status_code == 401
        answer = api.post("/api/cameras/campus-north/scene/rebase", headers=auth)
        assert answer.status_code == 202
        for frame in clip:
            worker.analyse(frame, {})
        assert worker.camera_health()["campus-north"].tamper.kind == "none"
        faults = [m for m in worker.recent_messages(50)[::-1] if m.body.get("type") == "device_fault"]
    finally:
        worker.stop()
    assert [(m.kind, m.body["fault"]["kind"]) for m in faults] == [("new", "moved"), ("cleared", "moved")]
    assert faults[1].body["time_media_s"] > 40.0  # it ended only after the rebase
