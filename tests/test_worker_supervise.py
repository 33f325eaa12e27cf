"""Stage supervision in a real worker: the bundled model, the live-paced bundled clip, a real receiver.

Each kind of stage thread is made to die (its next heartbeat raises) or to wedge (its next heartbeat
blocks) through the heartbeat's test seam (edge/heartbeat.py); the supervisor must start a new thread,
count the restart, and the worker must go on analysing frames and delivering cases. A stage that
needs more restarts than its budget allows is left down: /readyz answers 503 naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from edge.api.app import create_app
from edge.config import parse_config
from edge.heartbeat import Fault
from edge.http_server import ThreadedServer
from edge.receiver.app import create_app as create_receiver
from edge.runtime.worker import Worker
from edge.zones.store import ZoneStore

from conftest import DEMO_CONFIG, MODEL, parked_gate_camera

WAIT_S = 60.0  # an upper bound on a loaded CI box, not a performance claim
TOKEN = "supervise-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while not (found := check()):
        assert time.monotonic() < deadline, f"gave up after {WAIT_S:.0f} s waiting for {what}"
        time.sleep(0.1)
    return found


def worker_config(tmp_path, platform_url: str, **supervision: Any):
    camera = parked_gate_camera(fps=2)  # the parked van and car: two cases 3 s after the start
    # short timeouts: a wedged camera is told from a quiet one after a few seconds, not the default 16 s
    camera["source"].update(open_timeout_s=1, read_timeout_s=1, stall_timeout_s=2)
    data = {
        "worker": {"id": "edge-test", "supervision": {"stall_s": 2, **supervision}},
        "models": [{"id": "coco", "path": str(MODEL)}],
        "inference": {"runners": 1},  # a wedged runner stops all inference until it is replaced
        "cameras": [camera],
        "platform": {"url": platform_url, "timeout_s": 1, "backoff_initial_s": 0.1, "backoff_max_s": 1},
        "storage": {"dir": str(tmp_path / "var")},
    }
    return parse_config(data, DEMO_CONFIG.parent)


def restarts(worker: Worker, stage: str) -> float:
    kind = worker.supervisor.thread(stage).kind
    labels = {"stage": stage, "kind": kind}
    return sum(
        worker.metrics.get_sample_value("edge_stage_restarts_total", labels | {"reason": reason}) or 0.0
        for reason in ("died", "ended", "stalled")
    )


def analysed(worker: Worker) -> int:
    return worker.inference.stats().cameras["gate"].analysed


def received(receiver: ThreadedServer) -> set[str]:
    return {c["case_id"] for c in httpx.get(f"{receiver.url}/api/cases", timeout=5).json()}


@pytest.fixture
def receiver(tmp_path):
    with ThreadedServer(create_receiver(tmp_path / "receiver.db")) as server:
        yield server


def test_a_killed_or_wedged_stage_is_restarted_and_cases_still_flow(tmp_path, receiver) -> None:
    worker = Worker(worker_config(tmp_path, f"{receiver.url}/api/cases"))
    supervisor = worker.supervisor
    faults = [
        ("edge-infer-0", Fault.BLOCK),  # a hung detector: no frame is analysed until it is replaced
        ("edge-infer-results", Fault.RAISE),  # the thread that runs the cameras' pipelines
        ("camera-gate", Fault.RAISE),
        ("camera-gate", Fault.BLOCK),
        ("edge-sender", Fault.BLOCK),
    ]
    worker.start()
    try:
        first = wait_for(lambda: len(received(receiver)) >= 2 and received(receiver), "the first two cases")
        for count, (stage, fault) in enumerate(faults, start=1):
            before = restarts(worker, stage)
            supervisor.thread(stage).heartbeat.inject(fault)
            wait_for(lambda: restarts(worker, stage) == before + 1, f"{stage} restarted after {fault}")  # noqa: B023
            frames = analysed(worker)
            wait_for(lambda: analysed(worker) >= frames + 2, f"frames analysed after {stage} came back")  # noqa: B023
            assert supervisor.thread(stage).alive()
            assert sum(s.restarts for s in worker.supervision().stages) == count
        status = worker.supervision()
        assert [s.name for s in status.stages if s.restarts] == [
            "camera-gate",
            "edge-infer-0",
            "edge-infer-results",
            "edge-sender",
        ]
        assert {s.last_reason.split(":")[0] for s in status.stages if s.last_reason} == {"died", "stalled"}
        assert worker.ready and status.failed == []
        box = worker.box_status()["stages"]  # what the MQTT status heartbeat carries
        assert box["restarts"] == {"camera-gate": 2, "edge-infer-0": 1, "edge-infer-results": 1, "edge-sender": 1}

        # after every restart a new zone over the parked vehicles opens new cases, and they reach the platform
        camera = worker.config.cameras[0]
        zone = camera.zones[0].model_copy(update={"id": "after-restarts"})
        worker.apply_camera(camera.model_copy(update={"zones": [camera.zones[0], zone]}), zone_version=2)
        new = wait_for(
            lambda: {m.case_id for m in worker.recent_messages(50) if m.body["zone"]["id"] == "after-restarts"},
            "cases of the new zone",
        )
        wait_for(lambda: new <= received(receiver), "the new zone's cases at the receiver")
        assert not new & first
    finally:
        for stage, _ in faults:
            supervisor.thread(stage).heartbeat.release()  # the replaced threads wake and end by themselves
        worker.stop()


def test_a_stage_past_its_restart_budget_leaves_the_box_not_ready(tmp_path) -> None:
    config = worker_config(tmp_path, "http://127.0.0.1:9/unreachable", max_restarts=2, restart_window_s=600)
    store = ZoneStore(tmp_path / "zones.json")
    config, versions = store.adopt(config)
    worker = Worker(config, versions)
    api = TestClient(create_app(worker, store, env={"EDGE_API_TOKEN": TOKEN}), headers=AUTH)
    worker.start()
    try:
        camera = worker.supervisor.thread("camera-gate")
        for attempt in range(1, 3):  # within the budget: restarted, still ready
            camera.heartbeat.inject(Fault.RAISE)
            wait_for(lambda: restarts(worker, "camera-gate") == attempt, "the camera restarted")  # noqa: B023
            assert api.get("/readyz").status_code == 200
        camera.heartbeat.inject(Fault.RAISE)  # one more within the window: left down
        wait_for(lambda: not camera.alive() and worker.supervision().failed, "the camera given up")
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        stages = ready.json()["stages"]
        assert stages["failed"] == ["camera-gate"] and stages["restarts"] == {"camera-gate": 2}
        [detail] = stages["details"]
        assert detail.startswith("stage camera-gate failed: restarted 2 times within 600 s, last: died: InjectedFault")
        chinese = api.get("/readyz", headers=AUTH | {"Accept-Language": "zh-CN"}).json()["stages"]["details"][0]
        assert chinese.startswith("阶段 camera-gate 已停止：600 秒内已重启 2 次")
        assert worker.box_status()["stages"]["failed"] == ["camera-gate"]  # what MQTT publishes as the box status
        metrics = api.get("/metrics").text
        assert 'edge_stage_failed{kind="camera",stage="camera-gate"} 1.0' in metrics
        assert 'edge_stage_restarts_total{kind="camera",reason="died",stage="camera-gate"} 2.0' in metrics
        assert "edge_worker_ready 0.0" in metrics
        worker.supervisor.check()  # another look tries no further restart
        assert restarts(worker, "camera-gate") == 2 and not camera.alive()
    finally:
        worker.stop()
