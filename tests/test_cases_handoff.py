"""Hand-off from the case engine to the outbox: no message lost or doubled by a crash in between.

The crash test runs this file as a child process: a real `CameraPipeline` on scripted detections
whose sink is a real `Outbox`. The child announces the "new" message on stdout at the kill point
(just before or just after `Outbox.put`) and blocks; the test SIGKILLs it there, restarts on the
same state and outbox files and checks that the outbox holds that message exactly once.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from test_cases_support import CAR, EPOCH, NAMES, detections, frame, make_config, rule

from edge.cases import CaseEngine, CaseStore
from edge.cases.store import SCHEMA_VERSION
from edge.delivery.outbox import Outbox
from edge.runtime.pipeline import CameraPipeline
from edge.types import CaseMessage, Detections

CONFIG = make_config([rule()])  # dwell 20 s: the "new" message comes at t = 20
RESTART_EPOCH = EPOCH + 60  # the worker comes back a minute later; its clip time starts again at 0


def digest(message: CaseMessage) -> str:
    """Identity of a message's content: body and every picture."""
    h = hashlib.sha256(json.dumps(message.body, sort_keys=True).encode())
    for name, jpeg in message.pictures.items():
        h.update(name.encode() + jpeg)
    return h.hexdigest()


def analysis(run_dir: Path, sink) -> CameraPipeline:
    return CameraPipeline(CONFIG, "cam1", run_dir / "state.db", {"coco": NAMES}, sink)


def drain(outbox: Outbox) -> list[CaseMessage]:
    """Everything the sender would send, in its order, each marked delivered."""
    out = []
    while (item := outbox.next_ready(float("inf"))) is not None:
        out.append(item.message)
        outbox.mark_delivered(item.pk)
    return out


def play(cam: CameraPipeline, start: float, stop: float, dets: Detections, epoch: float = EPOCH) -> None:
    for t in np.arange(start, stop, 0.5):
        cam.analyse(frame(float(t), epoch), {"coco": dets})


def child(run_dir: Path, kill_point: str) -> None:
    """The worker that gets killed: blocks at `kill_point` once it holds the "new" message."""
    outbox = Outbox(run_dir / "outbox.db")

    def announce(message: CaseMessage) -> None:
        print(message.message_id, digest(message), flush=True)
        threading.Event().wait()  # until SIGKILL

    def sink(message: CaseMessage) -> None:
        if message.kind == "new" and kill_point == "before_put":
            announce(message)
        outbox.put(message)
        if message.kind == "new" and kill_point == "after_put":
            announce(message)

    play(analysis(run_dir, sink), 0, 30, detections([CAR]))


@pytest.mark.parametrize("kill_point", ["before_put", "after_put"])
def test_kill_between_engine_and_outbox_loses_nothing_and_doubles_nothing(tmp_path, kill_point):
    proc = subprocess.Popen(
        [sys.executable, __file__, str(tmp_path), kill_point], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()  # blocks until the child is at the kill point (or has died)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert line, f"the child never reached the kill point: {err}"
    assert proc.returncode == -signal.SIGKILL
    message_id, content = line.split()

    outbox = Outbox(tmp_path / "outbox.db")
    puts: list[tuple[str, bool]] = []
    restarted = analysis(tmp_path, lambda m: puts.append((m.message_id, outbox.put(m))))
    # on start the analysis re-delivered the message; the outbox stored it only if it lacked it
    assert puts == [(message_id, kill_point == "before_put")]
    assert restarted.held_messages() == []

    play(restarted, 0, 10, detections([CAR]), RESTART_EPOCH)  # the case is still open: no second "new"
    play(restarted, 10, 25, Detections.empty(), RESTART_EPOCH)  # the car left: cleared
    sent = drain(outbox)
    assert [(m.kind, m.message_id) for m in sent] == [("new", message_id), ("cleared", message_id[:-1] + "2")]
    assert digest(sent[0]) == content  # the very message the killed worker emitted, pictures included
    pictures = {name: hashlib.sha256(jpeg).hexdigest() for name, jpeg in sent[0].pictures.items()}
    assert pictures and pictures == {e["name"]: e["sha256"] for e in sent[0].body["evidence"]}
    restarted.close()


def test_normal_path_leaves_nothing_pending(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    cam = analysis(tmp_path, outbox.put)
    play(cam, 0, 25, detections([CAR]))
    assert cam.held_messages() == []
    play(cam, 25, 40, Detections.empty())
    assert cam.held_messages() == []
    assert [m.kind for m in drain(outbox)] == ["new", "cleared"]
    cam.close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT count(*) FROM emitted").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM emitted_pictures").fetchone() == (0,)


def test_messages_are_pending_until_handed_off_even_across_a_reopen(tmp_path):
    db = tmp_path / "state.db"
    store = CaseStore(db)
    engine = CaseEngine(CONFIG, "cam1", store, {"coco": NAMES})
    emitted = []
    for t in np.arange(0, 25, 0.5):
        emitted += engine.process(frame(float(t)), {"coco": detections([CAR])})
    assert [m.kind for m in emitted] == ["new"]
    assert engine.pending_messages() == emitted  # body and pictures exactly as returned
    store.close()

    store = CaseStore(db)
    engine = CaseEngine(CONFIG, "cam1", store, {"coco": NAMES})
    assert engine.pending_messages() == emitted
    engine.handed_off([emitted[0].message_id, "unknown:1"])
    assert engine.pending_messages() == []
    store.close()


def test_a_failed_hand_off_is_retried_at_the_next_frame_in_order(tmp_path):
    first = Outbox(tmp_path / "outbox.db")
    first.close()  # a closed outbox refuses every put: the sink raises
    outboxes = [first]
    cam = analysis(tmp_path, lambda m: outboxes[-1].put(m))
    play(cam, 0, 20, detections([CAR]))
    with pytest.raises(sqlite3.ProgrammingError):
        cam.analyse(frame(20.0), {"coco": detections([CAR])})
    (held,) = cam.held_messages()
    assert held.kind == "new"
    outboxes.append(Outbox(tmp_path / "outbox.db"))
    play(cam, 20.5, 21, detections([CAR]))
    assert cam.held_messages() == []
    assert [m.message_id for m in drain(outboxes[-1])] == [held.message_id]
    cam.close()


def test_state_file_of_the_previous_schema_is_upgraded(tmp_path):
    db = tmp_path / "state.db"
    CaseStore(db).close()
    with sqlite3.connect(db) as old:  # as written by a worker before the emitted tables existed
        old.executescript("DROP TABLE emitted; DROP TABLE emitted_pictures; UPDATE meta SET value='1';")
    store = CaseStore(db)
    engine = CaseEngine(CONFIG, "cam1", store, {"coco": NAMES})
    for t in np.arange(0, 21, 0.5):
        engine.process(frame(float(t)), {"coco": detections([CAR])})
    assert [m.kind for m in engine.pending_messages()] == ["new"]
    store.close()
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (str(SCHEMA_VERSION),)
        assert check.execute("SELECT COUNT(*) FROM verdicts").fetchone() == (0,)  # the platform's verdicts (3)


if __name__ == "__main__":
    child(Path(sys.argv[1]), sys.argv[2])
