"""`edge run` as a real process: live-paced camera -> cases at a real receiver; SIGTERM, SIGKILL, restart."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from edge.delivery.outbox import Outbox
from edge.http_server import ThreadedServer
from edge.receiver.app import create_app
from edge.receiver.faults import Faults

from conftest import EDGE, MODEL, REPO, parked_gate_camera


@pytest.fixture
def receiver(tmp_path):
    with ThreadedServer(create_app(tmp_path / "receiver.db")) as server:
        yield server


API_TOKEN = "worker-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(tmp_path: Path, receiver_url: str, api_port: int) -> Path:
    config = {
        "version": 1,
        "worker": {"id": "edge-test"},
        "models": [{"id": "coco", "path": str(MODEL)}],
        "cameras": [parked_gate_camera()],
        "platform": {"url": f"{receiver_url}/api/cases", "backoff_initial_s": 0.1, "backoff_max_s": 1},
        "storage": {"dir": str(tmp_path / "var")},
        "api": {"port": api_port},
    }
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_worker(config: Path, log: Path, token: str | None = API_TOKEN) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    if token:
        env["EDGE_API_TOKEN"] = token
    with log.open("ab") as stderr:  # the worker has its own copy of the file once started
        return subprocess.Popen(
            [*EDGE, "run", "--config", str(config)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, env=env
        )


def received(receiver: ThreadedServer) -> list[dict]:
    return httpx.get(f"{receiver.url}/api/cases", timeout=5).json()


def wait_for_cases(receiver: ThreadedServer, n: int, timeout_s: float) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        cases = received(receiver)
        if len(cases) >= n:
            return cases
        time.sleep(0.3)
    raise AssertionError(f"expected {n} cases at the receiver within {timeout_s} s, got {received(receiver)}")


def cases_seen_now(port: int) -> set[str]:
    """Cases whose objects the running worker's rules matched on its latest analysed frame."""
    try:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        answer = httpx.get(f"http://127.0.0.1:{port}/api/cameras/gate/live", headers=auth, timeout=5)
    except httpx.TransportError:
        return set()
    if answer.status_code != 200:
        return set()
    rules = [rule for zone in answer.json()["zones"] for rule in zone["rules"]]
    return {place["case_id"] for rule in rules for place in rule["places"] if place["case_id"]}


def wait_until_resumed(port: int, case_ids: set[str], timeout_s: float = 90) -> None:
    """The (re)started worker analyses frames and attaches the parked vehicles to the stored cases."""
    deadline = time.monotonic() + timeout_s
    while (seen := cases_seen_now(port)) != case_ids:
        if time.monotonic() > deadline:
            raise AssertionError(f"the restarted worker never continued {sorted(case_ids)}; it sees {sorted(seen)}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen, sig: signal.Signals) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_worker_delivers_cases_and_restarts_without_duplicates(tmp_path, receiver):
    port = free_port()
    config = write_config(tmp_path, receiver.url, port)
    log = tmp_path / "worker.log"
    proc = start_worker(config, log)
    try:
        first = wait_for_cases(receiver, 2, timeout_s=90)
        # the operator API is served by the same process, behind its token
        api = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{api}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{api}/api/cameras", timeout=5).status_code == 401
        cameras = httpx.get(f"{api}/api/cameras", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=5)
        assert [c["id"] for c in cameras.json()] == ["gate"]
        assert cameras.json()[0]["health"]["state"] == "streaming"
    finally:
        code = stop(proc, signal.SIGTERM)
    assert code == 0, log.read_text()[-3000:]
    assert '"worker stopped"' in log.read_text()
    assert {c["latest"]["event"]["code"] for c in first} == {"0505"}
    ids = sorted(c["case_id"] for c in first)

    # Killed without warning, then restarted while both vehicles are still parked: the same two cases
    # are resumed from the SQLite state, none is opened again. Each run must have analysed frames in
    # which the parked vehicles continue those cases (an idle worker would open nothing either).
    proc = start_worker(config, log)
    try:
        wait_until_resumed(port, set(ids))
        assert stop(proc, signal.SIGKILL) == -signal.SIGKILL
        proc = start_worker(config, log)
        wait_until_resumed(port, set(ids))
    finally:
        code = stop(proc, signal.SIGTERM)
    assert code == 0
    after = received(receiver)
    assert sorted(c["case_id"] for c in after) == ids
    assert all(c["kinds"].count("new") == 1 for c in after)
    assert "Traceback" not in log.read_text()


def test_worker_refuses_to_run_an_open_api(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", free_port())
    proc = subprocess.run(
        [*EDGE, "run", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("EDGE_")},
    )
    assert proc.returncode == 2
    assert "EDGE_API_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_worker_killed_while_the_platform_holds_an_unacknowledged_case_delivers_it_once(tmp_path):
    """The platform stored the case but its answer never reached the worker (SIGKILL while waiting):
    after a restart the outbox sends it again under the same idempotency key and nothing is doubled."""
    faults = Faults(latency_s=30)  # store first, then answer late: the kill lands in that gap
    with ThreadedServer(create_app(tmp_path / "receiver.db", faults=faults)) as slow:
        config = write_config(tmp_path, slow.url, free_port())
        log = tmp_path / "worker.log"
        proc = start_worker(config, log)
        try:
            stored = wait_for_cases(slow, 1, timeout_s=90)
        finally:
            code = stop(proc, signal.SIGKILL)
        assert code == -signal.SIGKILL
        outbox = Outbox(tmp_path / "var" / "outbox.db")
        assert outbox.stats().pending >= 1  # the worker never learnt that the platform has it
        outbox.close()

        assert httpx.put(f"{slow.url}/admin/faults", json={}, timeout=5).status_code == 200
        proc = start_worker(config, log)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(received(slow)) < 2:
                time.sleep(0.3)
            time.sleep(3)  # let the re-sent message's answer arrive
        finally:
            assert stop(proc, signal.SIGTERM) == 0
    outbox = Outbox(tmp_path / "var" / "outbox.db")
    stats = outbox.stats()
    outbox.close()
    assert (stats.pending, stats.dead) == (0, 0)
    with sqlite3.connect(tmp_path / "receiver.db") as db:
        rows = db.execute("SELECT case_id, kind FROM messages ORDER BY arrival").fetchall()
    # the kept-back case was acknowledged only through its re-post (pending 0 above); the restarted
    # worker resumed both parked vehicles' cases and opened none anew
    assert rows[0] == (stored[0]["case_id"], "new")
    assert len(rows) == 2 and len({case_id for case_id, _ in rows}) == 2
