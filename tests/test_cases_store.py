"""The SQLite case store and evidence limits: history, no leaked pictures, bounded JPEGs, bad files."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest
from test_cases_support import CAR, EPOCH, Run, detections, frame, make_config, rule

from edge.cases import CaseStore, StoreError
from edge.cases.evidence import crop, encode_bounded
from edge.cases.verify import Verification, VerifyRequest
from edge.types import Frame


def noisy(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("max_kb", [20, 60, 300])
def test_jpeg_fits_the_size_limit(max_kb):
    jpeg, width, height = encode_bounded(noisy(1280, 720), max_kb)
    assert len(jpeg) <= max_kb * 1024
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (height, width) and width <= 1280


def test_engine_evidence_respects_storage_limit(tmp_path):
    config = make_config([rule(min_duration_s=2)], top={"storage": {"evidence_max_kb": 20}})
    run = Run(config, tmp_path / "state.db")
    image = noisy(320, 240)  # noise compresses badly: the pictures must shrink to fit
    for t in np.arange(0, 5, 0.5):
        run.messages += run.engine.process(Frame("cam1", image, float(t), EPOCH + t), {"coco": detections([CAR])})
    sizes = [len(j) for m in run.messages for j in m.pictures.values()]
    assert len(sizes) == 3 and max(sizes) <= 20 * 1024


def test_crop_keeps_a_margin_and_stays_inside_the_frame():
    image = noisy(320, 240)
    assert crop(image, np.array([100, 100, 140, 140])).shape[:2] == (64, 64)  # 40 px + 30 % margin each side
    assert crop(image, np.array([300, 200, 320, 240])).shape[:2] == (52, 42)  # clipped at the corner
    with pytest.raises(ValueError, match="outside"):
        crop(image, np.array([400, 300, 450, 350]))


def test_case_history_and_pictures_are_cleaned_up(tmp_path):
    db = tmp_path / "state.db"
    run = Run(make_config([rule()]), db)
    run.play(0, 8, [(170, 60, 200, 100, "car", 0.6)])  # a candidate that leaves: its picture is dropped
    run.play(8, 40, [CAR])
    run.play(40, 55, [])
    cases = run.store.cases("cam1")
    assert [(c.phase, c.seq) for c in cases] == [("cleared", 2)]
    assert run.store.cases("cam1", open_only=True) == []
    stored = run.store.case(cases[0].case_id)
    assert stored is not None and stored.camera_id == "cam1" and stored.body["kind"] == "cleared"
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT count(*) FROM pictures").fetchone()[0] == 0


def test_open_case_is_listed_while_open(tmp_path):
    run = Run(make_config([rule()]), tmp_path / "state.db")
    run.play(0, 25, [CAR])
    (case,) = run.store.cases("cam1", open_only=True)
    assert case.phase == "confirmed" and case.rule_id == "r1"
    # the clock is stored with each write: the confirming frame's, until the next checkpoint
    assert run.store.clock("cam1") == EPOCH + 20 and run.store.clock("other") is None
    run.engine.checkpoint()
    assert run.store.clock("cam1") == EPOCH + 24.5


def _stored_place(run: Run) -> tuple[str, float, float]:
    """(key, first_seen, last_seen) of the one place the stored rule state holds."""
    (saved,) = run.store.rule_states("cam1").values()
    places = saved["state"]["places"]
    (key,), (first,), (last,) = places["key"], places["first_seen"], places["last_seen"]
    return key, first, last


def test_timers_alone_are_written_at_checkpoints_and_a_case_at_once(tmp_path):
    run = Run(make_config([rule()], top={"storage": {"state_checkpoint_s": 5}}), tmp_path / "state.db")
    run.play(0, 5, [CAR])
    key, first, last = _stored_place(run)
    assert (first, last) == (EPOCH, EPOCH)  # frames 0.5 .. 4.5 s moved timers only: not written yet
    run.step(5, [CAR])
    assert _stored_place(run) == (key, EPOCH, EPOCH + 5)  # a checkpoint: 5 s after the last write
    run.play(5.5, 20.5, [CAR])
    assert [m.kind for m in run.messages] == ["new"]
    (case,) = run.store.cases("cam1", open_only=True)  # the confirming frame is written at once, state and all
    assert case.case_id == run.messages[0].case_id and _stored_place(run)[2] == EPOCH + 20
    run.close()


def test_a_crash_between_checkpoints_resumes_the_same_candidate_into_the_same_case(tmp_path):
    db, config = tmp_path / "state.db", make_config([rule()], top={"storage": {"state_checkpoint_s": 5}})
    crashed = Run(config, db)
    crashed.play(0, 12, [CAR])
    crashed.close()  # no checkpoint: what the frames after 10 s moved is lost, the place is not
    again = Run(config, db)
    again.play(12, 25, [CAR])
    unbroken = Run(config, tmp_path / "unbroken.db")
    unbroken.play(0, 25, [CAR])
    assert [(m.kind, m.case_id) for m in again.messages] == [(m.kind, m.case_id) for m in unbroken.messages]
    assert again.messages[0].body["times"] == unbroken.messages[0].body["times"]
    again.close()
    unbroken.close()


def test_every_frame_is_written_with_checkpoints_off(tmp_path):
    run = Run(make_config([rule()], top={"storage": {"state_checkpoint_s": 0}}), tmp_path / "state.db")
    run.play(0, 3, [CAR])
    assert _stored_place(run)[1:] == (EPOCH, EPOCH + 2.5)
    run.close()


def test_unusable_state_files_are_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"garbage\.db cannot be used"):
        CaseStore(garbage)
    newer = tmp_path / "newer.db"
    CaseStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    with pytest.raises(StoreError, match="schema 99"):
        CaseStore(newer)


def test_a_frame_the_full_state_file_refuses_changes_nothing(tmp_path):
    """SQLite's own "database or disk is full" (a page limit): the engine goes back to the stored state,
    so the case's first message keeps seq 1 and arrives, whole, once the store has room again."""
    run = Run(make_config([rule()]), tmp_path / "state.db")
    run.play(0, 19.5, [CAR])  # a candidate of 19 s, stored
    db = run.store._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    for t in (20.0, 20.5):  # the "new" message (pictures and all) does not fit
        with pytest.raises(StoreError, match="full"):
            run.step(t, [CAR])
        assert run.engine.snapshot().zones[0].rules[0].open_cases == ()
        assert run.engine.pending_messages() == []
    db.execute("PRAGMA max_page_count = 1073741823")
    out = run.step(21.0, [CAR])
    assert [(m.kind, m.seq) for m in out] == [("new", 1)]
    assert out[0].body["times"]["first_seen_media_s"] == 0.0  # the dwell kept its start
    assert [m.message_id for m in run.engine.pending_messages()] == [out[0].message_id]


def test_a_verification_the_full_state_file_refuses_gives_the_seq_back(tmp_path):
    """An answer takes the open case's next seq at once; refused by the store, the case gets it back, so
    the stored answer and the case's next message follow on without a gap."""
    run = Run(make_config([rule(re_report_s=5)]), tmp_path / "state.db")
    run.play(0, 21, [CAR])
    (new,) = run.messages
    answer = Verification(VerifyRequest(new.case_id, "v1", EPOCH + 20), "still_present", EPOCH + 21, "seen")
    db = run.store._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(StoreError, match="full"):
        run.engine.verified(answer, frame(21.0), np.zeros((0, 4)))
    db.execute("PRAGMA max_page_count = 1073741823")
    assert run.engine.snapshot().zones[0].rules[0].open_cases[0].seq == 1
    assert run.engine.verified(answer, frame(21.0), np.zeros((0, 4))).seq == 2
    run.play(21.5, 26, [CAR])  # the re-report, 5 s after the new case
    assert [(m.kind, m.seq) for m in run.messages[1:]] == [("update", 3)]
    stored = run.store.case(new.case_id)
    assert stored is not None and (stored.phase, stored.seq) == ("updated", 3)
