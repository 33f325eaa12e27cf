"""Hot apply on the real running worker: its stream thread reads vtest in real time, the shared
inference loop detects, and a zone added through the API over real HTTP opens cases under the new
zone version while the stream keeps running; the live view shows them."""

from __future__ import annotations

import time

import httpx
import yaml
from test_api_support import AUTH, CAMERA, DEMO, ENV, TOP_RIGHT, zone

from edge.api import create_app
from edge.config import parse_config
from edge.http_server import ThreadedServer
from edge.runtime.worker import Worker
from edge.zones.store import ZoneStore

WAIT_S = 90.0  # an upper bound on a loaded CI box, not a performance claim


def _config(tmp_path):
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["cameras"][0]["source"].update(loop=True, live=True)  # a file paced like a camera
    data["storage"]["dir"] = str(tmp_path / "var")
    data["platform"]["url"] = "http://127.0.0.1:9/unreachable"  # cases wait in the outbox
    broken = tmp_path / "broken-recogniser.onnx"  # no rule reads plates at start: nothing loads it then
    broken.write_bytes(b"not an ONNX file")
    data["plate_reader"] = {"model": str(broken)}
    return parse_config(data, DEMO.parent)


def _wait_for(fetch, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = fetch()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"gave up after {WAIT_S:.0f} s waiting for {what}")


def test_a_zone_added_through_the_api_takes_effect_on_the_running_worker(tmp_path):
    store = ZoneStore(tmp_path / "zones.json")
    config, versions = store.adopt(_config(tmp_path))
    assert versions == {CAMERA: 1}
    worker = Worker(config)
    worker.start()
    try:
        with (
            ThreadedServer(create_app(worker, store, env=ENV)) as server,
            httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as api,
        ):
            _wait_for(lambda: worker.latest_frame(CAMERA) is not None, "the first frame")
            reconnects = worker.camera_health()[CAMERA].health.reconnects
            frame = api.get(f"/api/cameras/{CAMERA}/frame.jpg")
            assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"

            added = api.post(f"/api/cameras/{CAMERA}/zones", json=zone("gate-2", TOP_RIGHT, min_duration_s=1))
            assert added.status_code == 201 and added.json()["version"] == 2

            def new_cases():
                cases = api.get("/api/cases", params={"camera_id": CAMERA}).json()
                return [c for c in cases if c["zone_id"] == "gate-2" and c["kind"] == "new"]

            # an edit that turns plates on with a recogniser that cannot load is refused, and saves nothing
            plates = api.post(f"/api/cameras/{CAMERA}/zones", json=zone("gate-3", TOP_RIGHT, plates=True))
            assert plates.status_code == 422 and "broken-recogniser.onnx" in plates.text
            assert api.get(f"/api/cameras/{CAMERA}/zones").json()["version"] == 2

            cases = _wait_for(new_cases, "a case of the new zone")
            assert {c["zone_version"] for c in cases} == {2}
            assert {c["body"]["detection"]["class"] for c in cases} <= {"car", "truck", "bus"}
            camera = api.get(f"/api/cameras/{CAMERA}").json()
            assert camera["zone_version"] == 2 and camera["health"]["state"] == "streaming"
            assert camera["health"]["reconnects"] == reconnects  # the stream was not restarted
            gate = camera["health"]["change_gate"]  # how often the detector ran and how often it was spared
            assert gate["inferred"] >= 1 and gate["lost"] == 0 and "passed_through" in camera["health"]["inference"]
            assert api.get("/api/outbox").json()["pending"] >= len(cases)
            # what the rules see on the running worker: the new zone's rule with its open cases
            live = api.get(f"/api/cameras/{CAMERA}/live").json()
            assert live["zone_version"] == 2 and not live["paused"]
            [gate] = [z for z in live["zones"] if z["zone_id"] == "gate-2"]
            assert {c["case_id"] for c in gate["rules"][0]["open_cases"]} >= {c["case_id"] for c in cases}
            assert live["frame"]["width"] == 768 and all(d["model"] == "coco" for d in live["detections"])
            metrics = api.get("/metrics").text
            assert f'edge_zone_version{{camera="{CAMERA}"}} 2.0' in metrics
            assert 'edge_inference_frames_total{model="coco"}' in metrics
            assert f'edge_gate_frames_total{{camera="{CAMERA}",decision="reused"}}' in metrics
            # the picture mode (no scene model here: day, never changed), beside the tamper state
            assert camera["health"]["camera_mode"] == {"mode": "day", "changes": 0}
            assert f'edge_camera_mode{{camera="{CAMERA}",mode="day"}} 1.0' in metrics
            assert f'edge_camera_mode_changes_total{{camera="{CAMERA}"}} 0.0' in metrics
    finally:
        worker.stop()
