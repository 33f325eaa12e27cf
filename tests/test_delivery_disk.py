"""Disk pressure on a real small file system (a tmpfs mounted by the test): levels, a full disk,
acknowledgements that must still be recorded, a sender killed while the disk is full.

Each test counts at a real receiver: every message stored once, in order, and none sent again.
"""

from __future__ import annotations

import logging
import sqlite3

import httpx
import pytest
from test_api_support import AUTH, PipelineWorker, client_for
from test_delivery_support import (
    assert_exactly_once_in_order,
    fill_up,
    flush_killed_after,
    free_port,
    message,
    noisy_jpeg,
    outbox_process,
    pending_ids,
    platform,
    replays,
    running_receiver,
    set_free,
    small_disk,
    stored,
    wait_until,
)

from edge.delivery.disk import RESERVE_FILE, DiskLevel, Watermarks
from edge.delivery.outbox import Outbox, OutboxError
from edge.delivery.sender import Sender
from edge.receiver.faults import Faults
from edge.types import CaseMessage

MARKS = Watermarks(thin_mb=3.0, no_pictures_mb=2.0, pause_mb=1.0, reserve_mb=0.5)


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", 8.0) as mount:
        yield mount


def evidence(case: int, seq: int = 0) -> CaseMessage:
    """Three incompressible pictures (about 10 KB each)."""
    pics = {name: noisy_jpeg(case * 10 + seq * 3 + i) for i, name in enumerate(["full.jpg", "crop.jpg", "extra.jpg"])}
    case_id = f"cam1-0505-{case:04d}"
    return CaseMessage(case_id, seq, "new" if seq == 0 else "update", {"case_id": case_id, "seq": seq}, pics)


def picture_counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT m.message_id, COUNT(p.idx) FROM messages m LEFT JOIN pictures p ON p.message = m.id GROUP BY m.id"
        ).fetchall()
    return dict(rows)


def test_falling_free_space_thins_then_drops_pictures_then_pauses_cases_and_recovers(disk, caplog):
    caplog.set_level(logging.INFO, logger="edge.delivery.disk")
    outbox = Outbox(disk / "outbox.db", watermarks=MARKS)
    assert (disk / RESERVE_FILE).stat().st_size == 0.5 * 2**20  # held while the disk is healthy
    filler = disk / "filler"
    steps = [
        (3.6, DiskLevel.OK, 3),
        (2.6, DiskLevel.THIN, 1),
        (1.6, DiskLevel.NO_PICTURES, 0),
        (0.6, DiskLevel.PAUSED, 0),
    ]
    for case, (free_mb, level, pictures) in enumerate(steps):
        set_free(filler, free_mb)
        assert outbox.disk.may_open_cases() is (level != DiskLevel.PAUSED)
        assert outbox.put(evidence(case)) is True  # a message is always stored, with what it may keep
        stats = outbox.stats()
        assert (stats.disk_state, stats.accepting_cases) == (level, level != DiskLevel.PAUSED)
        assert picture_counts(disk / "outbox.db")[f"cam1-0505-{case:04d}:0"] == pictures
    assert stats.disk_state_since is not None
    # Just above the pause mark is not enough to resume (hysteresis): no flapping at the watermark.
    set_free(filler, 1.05)
    assert outbox.stats().disk_state == DiskLevel.PAUSED
    filler.unlink()  # space returns
    stats = outbox.stats()
    assert (stats.disk_state, stats.accepting_cases, stats.disk_reserve_mb) == (DiskLevel.OK, True, 0.5)
    transitions = [r.getMessage().split(":")[0] for r in caplog.records if r.name == "edge.delivery.disk"]
    assert transitions == [
        "disk pressure ok -> thin",
        "disk pressure thin -> no_pictures",
        "disk pressure no_pictures -> paused",
        "disk pressure paused -> ok",
    ]
    outbox.put(evidence(9))
    assert picture_counts(disk / "outbox.db")["cam1-0505-0009:0"] == 3


def test_full_disk_acknowledgements_use_the_reserve_and_nothing_is_sent_twice(disk):
    outbox = Outbox(disk / "outbox.db", watermarks=MARKS)
    sent = [evidence(case, seq) for seq in range(3) for case in range(4)]
    for msg in sent:
        outbox.put(msg)
    fill_up(disk / "filler")  # the platform is down and something else took the rest of the disk
    with pytest.raises(OutboxError, match="full"):
        outbox.put(evidence(7))  # not even its record fits: the case stage keeps it and retries
    assert outbox.stats().accepting_cases is False
    with running_receiver(disk.parent / "r.db") as srv:
        with Sender(outbox, platform(srv.url)) as sender:
            assert sender.deliver_pending(timeout_s=60) == len(sent)
        assert_exactly_once_in_order(stored(srv.url), sent)
        assert replays(srv.url) == 0
    assert not pending_ids(disk / "outbox.db")  # every acknowledgement is on disk
    assert not (disk / RESERVE_FILE).exists()  # given up for them
    (disk / "filler").unlink()
    stats = outbox.stats()
    assert (stats.disk_state, stats.disk_reserve_mb) == (DiskLevel.OK, 0.5)  # held again


def test_acknowledgements_that_cannot_be_written_are_kept_in_memory_not_resent(disk):
    outbox = Outbox(disk / "outbox.db", watermarks=Watermarks(3.0, 2.0, 1.0, reserve_mb=0))
    sent = [message(case, seq, pictures=1) for seq in range(2) for case in range(3)]
    for msg in sent:
        outbox.put(msg)
    fill_up(disk / "filler")  # no reserve to give up: acknowledgements cannot be written
    with running_receiver(disk.parent / "r.db") as srv:
        sender = Sender(outbox, platform(srv.url))
        sender.start()
        try:
            wait_until(lambda: sender.health().unsaved_acks == len(sent), what="all acknowledged in memory")
            assert len(pending_ids(disk / "outbox.db")) == len(sent)  # nothing could be written
            assert "acknowledged, kept in memory" in (sender.health().last_error or "")
            assert replays(srv.url) == 0  # they count as delivered: not sent again meanwhile
            (disk / "filler").unlink()
            # the sender records them, then forgets its in-memory copy: wait for both (one CI run saw the
            # first without the second yet)
            recorded = lambda: not pending_ids(disk / "outbox.db") and sender.health().unsaved_acks == 0  # noqa: E731
            wait_until(recorded, what="acknowledgements recorded and no longer held in memory")
        finally:
            sender.close()
        assert_exactly_once_in_order(stored(srv.url), sent)
        assert replays(srv.url) == 0


def test_sender_killed_while_the_disk_is_full_resends_nothing_acknowledged(disk):
    path = disk / "outbox.db"
    outbox = Outbox(path, watermarks=MARKS)
    sent = [message(case, seq) for seq in range(3) for case in range(4)]
    for msg in sent:
        outbox.put(msg)
    outbox.close()
    fill_up(disk / "filler")
    port = free_port()
    args = ["--outbox", str(path), "flush", "--url", f"http://127.0.0.1:{port}/api/cases"]
    args += ["--backoff-initial", "0.02", "--backoff-max", "0.2", "--timeout", "120"]
    # Stores, then takes 0.3 s to answer: the kill lands after some acknowledgements were recorded.
    with running_receiver(disk.parent / "r.db", faults=Faults(latency_s=0.3), port=port) as srv:
        flush_killed_after(args, srv.url, 4, "sends on a full disk")
        httpx.put(f"{srv.url}/admin/faults", json={})
        second = outbox_process(*args)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 0, out
        assert_exactly_once_in_order(stored(srv.url), sent)
        assert replays(srv.url) <= 1  # at most the one in flight at the kill (stored, unanswered)
    (disk / "filler").unlink()  # (a reader of the WAL file needs a little space too)
    assert not pending_ids(path)


def test_disk_pressure_shows_in_the_outbox_status_readiness_and_metrics(disk, tmp_path):
    worker = PipelineWorker(tmp_path / "worker").start()
    worker.outbox.close()
    worker.outbox = Outbox(disk / "outbox.db", watermarks=MARKS)
    try:
        with client_for(worker) as client:
            assert client.get("/readyz").status_code == 200
            set_free(disk / "filler", 0.6)
            status = client.get("/api/outbox", headers=AUTH).json()
            assert (status["disk_state"], status["accepting_cases"]) == ("paused", False)
            assert status["disk_free_mb"] < MARKS.pause_mb and status["disk_state_since"] is not None
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert (ready.json()["disk_state"], ready.json()["accepting_cases"]) == ("paused", False)
            text = client.get("/metrics", headers=AUTH).text
            assert 'edge_disk_pressure{level="paused"} 1.0' in text and "edge_accepting_cases 0.0" in text
            (disk / "filler").unlink()
            assert client.get("/readyz").json()["accepting_cases"] is True
    finally:
        worker.close()


def test_retries_on_a_full_disk_never_spend_the_reserve_and_its_space_reopens_nothing(disk):
    """The platform is down while the disk fills: the sender's retries fail for space and must leave
    the reserve for the acknowledgements; once those have used it, its freed space does not lift the
    disk back to taking new cases."""
    marks = Watermarks(thin_mb=0.0, no_pictures_mb=0.0, pause_mb=0.0, reserve_mb=0.5)  # only the reserve
    outbox = Outbox(disk / "outbox.db", watermarks=marks)
    sent = [message(case, seq, pictures=1) for seq in range(2) for case in range(3)]
    for msg in sent:
        outbox.put(msg)
    assert outbox.stats().disk_state == DiskLevel.OK
    fill_up(disk / "filler")
    with running_receiver(disk.parent / "r.db", faults=Faults(down=True)) as srv:
        sender = Sender(outbox, platform(srv.url, backoff_initial_s=0.01, backoff_max_s=0.05))
        for _ in range(5):
            sender.deliver_pending(timeout_s=0.2)  # every answer is a 503: retries to record
        assert (disk / RESERVE_FILE).exists()  # not spent on a retry
        stats = outbox.stats()
        assert (stats.disk_state, stats.accepting_cases) == (DiskLevel.FULL, False)  # whatever the watermarks
        httpx.put(f"{srv.url}/admin/faults", json={}).raise_for_status()
        assert sender.deliver_pending(timeout_s=30) == len(sent)
        sender.close()
        assert not pending_ids(disk / "outbox.db")  # the acknowledgements were written with the reserve
        assert not (disk / RESERVE_FILE).exists()
        stats = outbox.stats()
        assert stats.disk_free_mb >= 0.4  # the reserve's space is back on the file system ...
        assert (stats.disk_state, stats.accepting_cases) == (DiskLevel.FULL, False)  # ... but not for cases
        assert_exactly_once_in_order(stored(srv.url), sent)
        assert replays(srv.url) == 0
    (disk / "filler").unlink()
    stats = outbox.stats()
    assert (stats.disk_state, stats.accepting_cases, stats.disk_reserve_mb) == (DiskLevel.OK, True, 0.5)
