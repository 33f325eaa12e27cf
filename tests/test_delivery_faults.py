"""Delivery through a platform that goes down, fails, rejects, and a sender that is killed.

Real HTTP servers on 127.0.0.1, real SQLite files, and for the crash a real process killed
with SIGKILL. Retries are kept fast through the platform config (small backoff).
"""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest
from test_delivery_support import (
    assert_exactly_once_in_order,
    flush_killed_after,
    free_port,
    message,
    outbox_process,
    pending_ids,
    platform,
    running_receiver,
    stored,
    wait_until,
)

from edge.delivery.outbox import Outbox
from edge.delivery.sender import Sender
from edge.receiver.faults import Faults


def test_receiver_down_for_a_while_then_everything_arrives_in_order(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    outbox = Outbox(tmp_path / "outbox.db")
    sender = Sender(outbox, platform(url))
    sent = [message(case, seq) for seq in range(4) for case in range(3)]
    sender.start()
    try:
        with running_receiver(tmp_path / "r.db", port=port):
            for msg in sent[:3]:
                outbox.put(msg)
            wait_until(lambda: outbox.stats().delivered == 3, what="first cases delivered")
        # The listener is closed: connection refused, like a platform in maintenance.
        for msg in sent[3:]:
            outbox.put(msg)
        wait_until(lambda: sender.health().consecutive_failures >= 3, what="failures while down")
        health = sender.health()
        assert health.state == "retrying" and "ConnectError" in (health.last_error or "")
        assert (health.outbox.delivered, health.outbox.pending) == (3, len(sent) - 3)
        with running_receiver(tmp_path / "r.db", port=port):
            wait_until(lambda: outbox.stats().pending == 0, what="delivery after the platform returned")
            messages = stored(url)
        assert sender.health().state == "ok"
    finally:
        sender.close()
    assert_exactly_once_in_order(messages, sent)


@pytest.mark.parametrize("lose_ack", [False, True], ids=["fail-before-store", "store-then-fail"])
def test_flaky_receiver_30_percent_5xx_stores_every_case_exactly_once(tmp_path, lose_ack):
    outbox = Outbox(tmp_path / "outbox.db")
    sent = [message(case, seq, pictures=1) for seq in range(3) for case in range(10)]
    for msg in sent:
        outbox.put(msg)
    faults = Faults(fail_rate=0.3, fail_statuses=[500, 503], lose_ack=lose_ack)
    with running_receiver(tmp_path / "r.db", faults=faults) as srv:
        with Sender(outbox, platform(srv.url)) as sender:
            delivered = sender.deliver_pending(timeout_s=120)
        messages = stored(srv.url)
    assert delivered == len(sent)
    assert_exactly_once_in_order(messages, sent)
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        attempts = db.execute("SELECT SUM(attempts) FROM messages").fetchone()[0]
    assert attempts > len(sent)  # the failures really happened and were retried


def test_sender_killed_mid_send_and_restarted_stores_every_case_once(tmp_path):
    path = tmp_path / "outbox.db"
    outbox = Outbox(path)
    sent = [message(case, seq) for seq in range(3) for case in range(4)]
    for msg in sent:
        outbox.put(msg)
    outbox.close()
    # The platform stores each message, then takes 0.5 s to answer: the kill lands in that gap.
    with running_receiver(tmp_path / "r.db", faults=Faults(latency_s=0.5)) as srv:
        args = ["--outbox", str(path), "flush", "--url", f"{srv.url}/api/cases"]
        args += ["--backoff-initial", "0.02", "--backoff-max", "0.2", "--timeout", "120"]
        flush_killed_after(args, srv.url, 4, "first sends")
        at_kill = {m["message_id"] for m in stored(srv.url)}
        unconfirmed = at_kill & pending_ids(path)
        assert unconfirmed, "the kill should leave a message stored by the platform but not confirmed"
        httpx.put(f"{srv.url}/admin/faults", json={})
        second = outbox_process(*args)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 0, out
        messages = stored(srv.url)
    assert_exactly_once_in_order(messages, sent)
    assert not pending_ids(path)


def test_rejected_message_is_dead_lettered_and_the_rest_keep_flowing(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    sent = [message(case, seq) for seq in range(2) for case in range(4)]
    for msg in sent:
        outbox.put(msg)
    faults = Faults(reject_case_ids=["cam1-0505-0001"], reject_status=400)
    with running_receiver(tmp_path / "r.db", faults=faults) as srv, Sender(outbox, platform(srv.url)) as sender:
        assert sender.deliver_pending(timeout_s=30) == 6
        stats = outbox.stats()
        assert (stats.delivered, stats.dead, stats.pending, stats.blocked) == (6, 1, 1, 1)
        [letter] = outbox.dead_letters()
        assert (letter.message_id, letter.status) == ("cam1-0505-0001:0", 400)
        assert "rejected" in letter.response
        assert "dead-lettered" in (sender.health().last_error or "")
        assert {m["case_id"] for m in stored(srv.url)} == {"cam1-0505-0000", "cam1-0505-0002", "cam1-0505-0003"}
        # The operator gets the platform fixed and re-sends: the held-back update follows, in order.
        httpx.put(f"{srv.url}/admin/faults", json={})
        assert outbox.resend("cam1-0505-0001:0") == 1
        assert sender.deliver_pending(timeout_s=30) == 2
        messages = stored(srv.url)
    assert_exactly_once_in_order(messages, sent)


def test_discarding_a_dead_letter_releases_the_later_messages_of_its_case(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    for seq in range(3):
        outbox.put(message(7, seq))
    faults = Faults(reject_case_ids=["cam1-0505-0007"])
    with running_receiver(tmp_path / "r.db", faults=faults) as srv, Sender(outbox, platform(srv.url)) as sender:
        assert sender.deliver_pending(timeout_s=30) == 0
        assert outbox.stats().blocked == 2
        httpx.put(f"{srv.url}/admin/faults", json={})
        assert outbox.discard("cam1-0505-0007:0")
        assert sender.deliver_pending(timeout_s=30) == 2
        assert [m["seq"] for m in stored(srv.url)] == [1, 2]
    stats = outbox.stats()
    assert (stats.discarded, stats.delivered, stats.dead) == (1, 2, 0)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_pauses_the_sender(tmp_path, status):
    outbox = Outbox(tmp_path / "outbox.db")
    for case in range(3):
        outbox.put(message(case, 0))
    faults = Faults(fail_rate=1.0, fail_statuses=[status], retry_after_s=30)
    with running_receiver(tmp_path / "r.db", faults=faults) as srv, Sender(outbox, platform(srv.url)) as sender:
        before = time.time()
        assert sender.deliver_pending(timeout_s=1.0) == 0
    # With a 0.02 s backoff it would have tried many times; Retry-After: 30 allows one request.
    assert sender.health().consecutive_failures == 1
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        [(due, error)] = db.execute("SELECT next_attempt_at, last_error FROM messages WHERE attempts > 0").fetchall()
    assert due >= before + 30 and f"HTTP {status}" in error


def test_wrong_credentials_are_a_permanent_rejection_and_right_ones_deliver(tmp_path):
    env = {"EDGE_PLATFORM_TOKEN": "tok", "EDGE_PLATFORM_HMAC_SECRET": "hmac-secret"}
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put(message(1, 0))
    outbox.put(message(2, 0))
    with running_receiver(tmp_path / "r.db", token="tok", hmac_secret=b"hmac-secret") as srv:
        with Sender(outbox, platform(srv.url), env={**env, "EDGE_PLATFORM_HMAC_SECRET": "guess"}) as wrong:
            assert wrong.deliver_pending(timeout_s=30) == 0
            assert [d.status for d in outbox.dead_letters()] == [401, 401]
            assert outbox.resend() == 2
        with Sender(outbox, platform(srv.url), env=env) as sender:
            assert sender.deliver_pending(timeout_s=30) == 2
        assert len(stored(srv.url)) == 2


def test_platform_back_after_an_outage_drains_the_backlog_without_sleeping_out_backoffs(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    outbox = Outbox(tmp_path / "outbox.db")
    # Production-like backoff: a message that failed waits 15-30 s before its own next try.
    sender = Sender(outbox, platform(url, backoff_initial_s=30.0, backoff_max_s=60.0, probe_interval_s=0.2))
    sent = [message(case, seq) for seq in range(5) for case in range(4)]  # 20 messages, 4 cases
    for msg in sent:
        outbox.put(msg)
    sender.start()
    try:
        # Three failures in a row: the platform is down; then it is probed with one message at a time.
        wait_until(lambda: sender.health().consecutive_failures >= 5, what="the outage noticed and probed")
        with sqlite3.connect(tmp_path / "outbox.db") as db:
            (own_backoff_ends,) = db.execute("SELECT MIN(next_attempt_at) FROM messages WHERE attempts > 0").fetchone()
        with running_receiver(tmp_path / "r.db", port=port) as srv:
            wait_until(lambda: outbox.stats().pending == 0, what="the backlog delivered")
            drained_at = time.time()
            messages = stored(url)
            assert httpx.get(f"{srv.url}/healthz").json()["replays"] == 0
    finally:
        sender.close()
    # The first answer woke every waiting message: the backlog was through before the earliest
    # failed message would have been tried again by its own backoff.
    assert drained_at < own_backoff_ends
    assert_exactly_once_in_order(messages, sent)
