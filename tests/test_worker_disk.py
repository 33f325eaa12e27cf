"""`edge run` with its storage on a real small file system that fills up: cases pause, deliveries
go on, a SIGKILL while the disk is full, and after space returns every case goes on with the
next seq: no gap, nothing lost, nothing sent twice (counted at a real receiver)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import yaml
from test_delivery_support import (
    fill_up,
    free_port,
    replays,
    running_receiver,
    set_free,
    small_disk,
    stored,
    wait_until,
)

from edge.delivery.disk import RESERVE_FILE

from conftest import EDGE, MODEL, REPO, parked_gate_camera

TOKEN = "disk-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def write_config(folder, storage, receiver_url: str, api_port: int):
    config = {
        "version": 1,
        "worker": {"id": "edge-disk-test"},
        "models": [{"id": "coco", "path": str(MODEL)}],
        "cameras": [parked_gate_camera(re_report_s=2)],  # an update every 2 s: the disk fills with messages
        "platform": {"url": f"{receiver_url}/api/cases", "backoff_initial_s": 0.1, "backoff_max_s": 1},
        "storage": {
            "dir": str(storage),
            "min_free_mb": 12,
            "no_pictures_free_mb": 8,
            "pause_free_mb": 5,
            "reserve_mb": 1,
        },
        "api": {"port": api_port},
    }
    path = folder / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_worker(config, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")} | {"EDGE_API_TOKEN": TOKEN}
    cmd = [*EDGE, "run", "--config", str(config)]
    with log.open("ab") as stderr:  # the worker has its own copy of the file once started
        return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, env=env)


def analysed(api: str) -> float:
    """Frames the worker has analysed so far (its frame-lag histogram's count)."""
    text = httpx.get(f"{api}/metrics", headers=AUTH, timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("edge_frame_lag_seconds_count")
    )


def outbox(api: str) -> dict:
    """The worker's outbox status; empty while its API is not up yet."""
    try:
        return httpx.get(f"{api}/api/outbox", headers=AUTH, timeout=5).json()
    except httpx.TransportError:
        return {}


def assert_seqs_follow_on(messages: list[dict]) -> None:
    """Every case's messages at the platform go 1, 2, 3...: no gap, no repeat."""
    cases: dict[str, list[int]] = {}
    for m in messages:
        cases.setdefault(m["case_id"], []).append(m["seq"])
    for case_id, seqs in cases.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"case {case_id}: seq has a gap or repeat: {seqs}"


def test_full_disk_pauses_cases_survives_sigkill_and_resumes_without_gaps_or_repeats(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    log = tmp_path / "worker.log"
    with small_disk(tmp_path / "disk", 24.0) as disk, running_receiver(tmp_path / "r.db") as srv:
        config = write_config(tmp_path, disk / "var", srv.url, port)
        proc = start_worker(config, log)
        try:
            wait_until(lambda: len(stored(srv.url)) >= 3, timeout_s=120, what="a case and its first updates")
            set_free(disk / "filler", 2.0)  # something else fills the disk: under the pause mark
            wait_until(lambda: outbox(api)["disk_state"] == "paused", what="cases paused")
            assert httpx.get(f"{api}/readyz", headers=AUTH, timeout=5).status_code == 503
            wait_until(lambda: outbox(api)["pending"] == 0, what="deliveries going on while paused")
            at_pause, frames = len(stored(srv.url)), analysed(api)
            # 3 s of video at 2 fps: an update would be due, but the rules stand still while paused.
            wait_until(lambda: analysed(api) >= frames + 6, what="frames analysed while paused")
            assert len(stored(srv.url)) == at_pause
            proc.send_signal(signal.SIGKILL)  # the worst moment: disk full, rule state must not have moved
            proc.wait(30)
            (disk / "filler").unlink()
            proc = start_worker(config, log)
            wait_until(lambda: len(stored(srv.url)) >= at_pause + 2, timeout_s=120, what="updates after space returned")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        messages = stored(srv.url)
        assert replays(srv.url) == 0, "a message was sent again"
    assert sum(m["kind"] == "update" for m in messages) >= 2
    assert_seqs_follow_on(messages)
    assert "-> paused" in log.read_text()  # the transition is logged


def test_disk_full_while_the_platform_is_down_stop_and_restart_send_nothing_twice(tmp_path):
    """Every watermark at 0: only the reserve stands between a full disk and a repeated message.

    The platform is down while the disk fills: the sender's retries fail for space and must not
    spend the reserve, the disk is named `full` (not `ok`) and no case opens. When the platform
    returns, the acknowledgements are written with the reserve, and the space it frees is not taken
    for new cases. A SIGINT on the full disk ends cleanly; after a restart nothing acknowledged is
    sent again and every case goes on with the next seq."""
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    log = tmp_path / "worker.log"
    with small_disk(tmp_path / "disk", 24.0) as disk, running_receiver(tmp_path / "r.db") as srv:
        config = write_config(tmp_path, disk / "var", srv.url, port)
        settings = yaml.safe_load(config.read_text())
        settings["storage"] = {"dir": str(disk / "var"), "min_free_mb": 0, "reserve_mb": 1}
        config.write_text(yaml.safe_dump(settings))
        httpx.put(f"{srv.url}/admin/faults", json={"down": True}).raise_for_status()
        proc = start_worker(config, log)
        try:
            wait_until(lambda: outbox(api).get("pending", 0) >= 2, timeout_s=120, what="cases waiting for the platform")
            fill_up(disk / "filler")
            wait_until(lambda: outbox(api)["disk_state"] == "full", what="the disk named full")
            status = outbox(api)
            assert status["accepting_cases"] is False
            ready = httpx.get(f"{api}/readyz", headers=AUTH, timeout=5)
            assert (ready.status_code, ready.json()["disk_state"]) == (503, "full")
            assert 'edge_disk_pressure{level="full"} 1.0' in httpx.get(f"{api}/metrics", headers=AUTH).text
            waiting = status["pending"]
            frames = analysed(api)
            wait_until(lambda: analysed(api) >= frames + 6, what="frames analysed (and retries failing) on a full disk")
            assert (disk / "var" / RESERVE_FILE).exists()  # retries never spend the reserve
            assert outbox(api)["pending"] == waiting  # no case stored on a full disk
            httpx.put(f"{srv.url}/admin/faults", json={}).raise_for_status()  # the platform returns
            wait_until(lambda: outbox(api)["pending"] == 0, what="acknowledgements recorded with the reserve")
            assert not (disk / "var" / RESERVE_FILE).exists()
            time.sleep(2.0)  # frames go on: the reserve's space must not reopen cases
            status = outbox(api)
            assert (status["disk_state"], status["accepting_cases"], status["pending"]) == ("full", False, 0)
            delivered = len(stored(srv.url))
            proc.send_signal(signal.SIGINT)  # a stop on a full disk
            assert proc.wait(30) == 0
            text = log.read_text()
            assert "worker stopped" in text and "Traceback" not in text
            proc = start_worker(config, log)  # a restart, still on the full disk
            wait_until(lambda: outbox(api).get("disk_state") == "full", what="the restarted worker up")
            (disk / "filler").unlink()
            wait_until(
                lambda: len(stored(srv.url)) >= delivered + 2, timeout_s=120, what="updates after space returned"
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        messages = stored(srv.url)
        assert replays(srv.url) == 0, "an acknowledged message was sent again"
    assert_seqs_follow_on(messages)
