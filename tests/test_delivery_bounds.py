"""Outbox bounds (size, free disk) and recovery from a corrupted outbox file."""

from __future__ import annotations

import sqlite3

import httpx
from test_delivery_support import message, noisy_jpeg, platform, running_receiver, stored

from edge.delivery.disk import Watermarks
from edge.delivery.outbox import Outbox
from edge.delivery.sender import Sender
from edge.types import CaseMessage

PICTURE = len(noisy_jpeg(0))


def evidence(case: int, pictures: int = 3) -> CaseMessage:
    """A case message with incompressible pictures, so sizes are predictable."""
    names = ["full.jpg", "crop.jpg", "extra.jpg"][:pictures]
    pics = {name: noisy_jpeg(case * 10 + i) for i, name in enumerate(names)}
    return CaseMessage(f"case-{case:03d}", 0, "new", {"case": case}, pics)


def states(path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT case_id, state FROM messages ORDER BY id").fetchall())


def whole(path) -> list[str]:
    """Cases whose message still has its body and pictures (not pruned to a tombstone)."""
    with sqlite3.connect(path) as db:
        return [case for (case,) in db.execute("SELECT case_id FROM messages WHERE bytes > 0 ORDER BY id")]


def test_delivered_items_are_pruned_oldest_first_beyond_the_size_bound(tmp_path):
    budget_mb = 5 * 3 * PICTURE / 2**20  # room for about five messages
    outbox = Outbox(tmp_path / "outbox.db", max_mb=budget_mb, min_free_mb=0)
    with running_receiver(tmp_path / "r.db") as srv, Sender(outbox, platform(srv.url)) as sender:
        for case in range(12):
            outbox.put(evidence(case))
            assert sender.deliver_pending(timeout_s=30) == 1
        assert len(stored(srv.url)) == 12
    assert set(states(tmp_path / "outbox.db").values()) == {"delivered"}
    kept = whole(tmp_path / "outbox.db")
    assert 3 <= len(kept) <= 5
    assert kept == [f"case-{c:03d}" for c in range(12 - len(kept), 12)]  # the newest survive
    assert outbox.stats().stored_mb <= budget_mb
    # A pruned message is a tombstone: handed over again (a crashed case stage), it is not re-sent.
    assert outbox.put(evidence(0)) is False and outbox.stats().pending == 0


def test_pending_over_the_bound_keeps_every_case_and_thins_oldest_pictures(tmp_path):
    budget_mb = 11 * PICTURE / 2**20  # room for 11 pictures; 6 messages bring 18
    outbox = Outbox(tmp_path / "outbox.db", max_mb=budget_mb, min_free_mb=0)
    for case in range(6):
        outbox.put(evidence(case))
    stats = outbox.stats()
    assert stats.pending == 6 and stats.thinned_messages > 0
    assert stats.stored_mb <= budget_mb
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        counts = [
            n
            for (n,) in db.execute(
                "SELECT COUNT(p.idx) FROM messages m LEFT JOIN pictures p ON p.message = m.id"
                " GROUP BY m.id ORDER BY m.id"
            )
        ]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] == 3  # oldest thinned first, first picture kept
    with running_receiver(tmp_path / "r.db") as srv:
        with Sender(outbox, platform(srv.url)) as sender:
            assert sender.deliver_pending(timeout_s=30) == 6
        first = httpx.get(f"{srv.url}/api/cases/case-000").json()["messages"][0]
        assert first["thinned"] == ["crop.jpg", "extra.jpg"]
        assert [p["name"] for p in first["pictures"]] == ["full.jpg"]
        assert httpx.get(f"{srv.url}{first['pictures'][0]['url']}").content == evidence(0).pictures["full.jpg"]


def test_low_disk_keeps_case_records_drops_delivered_and_says_so(tmp_path):
    path = tmp_path / "outbox.db"
    with running_receiver(tmp_path / "r.db") as srv:
        roomy = Outbox(path, min_free_mb=0)
        roomy.put(evidence(0))
        with Sender(roomy, platform(srv.url)) as sender:
            assert sender.deliver_pending(timeout_s=30) == 1
        roomy.put(evidence(1))
        roomy.close()
        # Same file, but the worker now wants more free disk than this machine has.
        tight = Outbox(path, watermarks=Watermarks(thin_mb=1e9, no_pictures_mb=0, pause_mb=0))
        with Sender(tight, platform(srv.url)) as sender:
            assert tight.put(evidence(2)) is True
            health = sender.health()
            assert health.outbox.disk_state == "thin" and health.outbox.thinned_messages == 2
            assert whole(path) == ["case-001", "case-002"]  # the delivered one pruned to a tombstone
            assert sender.deliver_pending(timeout_s=30) == 2
            cases = {c["case_id"]: c for c in httpx.get(f"{srv.url}/api/cases").json()}
    assert len(cases) == 3
    assert [url.rsplit("/", 1)[1] for url in cases["case-002"]["pictures"]] == ["full.jpg"]


def test_garbage_outbox_file_is_moved_aside_and_new_cases_still_flow(tmp_path):
    path = tmp_path / "outbox.db"
    garbage = b"this was never an sqlite database " * 200
    path.write_bytes(garbage)
    outbox = Outbox(path)
    stats = outbox.stats()
    assert stats.problem is not None and "unreadable" in stats.problem
    [aside] = tmp_path.glob("outbox.db.corrupt-*")
    assert aside.read_bytes() == garbage and aside.name in stats.problem
    outbox.put(message(1, 0))
    with running_receiver(tmp_path / "r.db") as srv, Sender(outbox, platform(srv.url)) as sender:
        assert sender.deliver_pending(timeout_s=30) == 1
        assert sender.health().outbox.problem == stats.problem
        assert len(stored(srv.url)) == 1


def test_outbox_with_damaged_pages_is_replaced_not_fatal(tmp_path):
    path = tmp_path / "outbox.db"
    outbox = Outbox(path)
    for case in range(20):
        outbox.put(evidence(case, pictures=1))
    outbox.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 3 * page):
        data[start : start + page] = b"\x5a" * page  # scribble over b-tree pages
    path.write_bytes(bytes(data))
    recovered = Outbox(path)
    assert recovered.stats().problem is not None
    assert list(tmp_path.glob("outbox.db.corrupt-*"))
    assert recovered.put(message(3, 0)) is True
    assert recovered.stats().pending == 1
