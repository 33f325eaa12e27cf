"""The outbox and the sender against a real receiver: durable, ordered, exactly once."""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
from pathlib import Path

import httpx
import pytest
from test_delivery_support import assert_exactly_once_in_order, message, platform, running_receiver, stored, wait_until

from edge.cli import UserError
from edge.cli.outbox import register as register_outbox
from edge.cli.receiver import build_faults
from edge.cli.receiver import register as register_receiver
from edge.config import ConfigError, parse_config
from edge.config.delivery import PlatformConfig
from edge.delivery.http import is_transient, retry_after_s
from edge.delivery.outbox import Outbox, OutboxError
from edge.delivery.sender import Sender
from edge.types import CaseMessage


def test_put_is_durable_and_idempotent(tmp_path):
    path = tmp_path / "outbox.db"
    outbox = Outbox(path)
    msg = message(1, 0, pictures=3)
    assert outbox.put(msg) is True
    assert outbox.put(msg) is False  # the case stage replaying after a restart stores nothing twice
    outbox.close()
    # What put() returned on is on disk: a fresh connection in WAL/FULL sees it all.
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM pictures").fetchone()[0] == 3
    reopened = Outbox(path)
    item = reopened.next_ready(now=math.inf)
    assert item is not None and item.message == msg and item.attempts == 0
    assert reopened.stats().pending == 1


def test_put_refuses_what_could_never_be_delivered(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    with pytest.raises(OutboxError, match="picture name"):
        outbox.put(CaseMessage("c", 0, "new", {}, {"../evil.jpg": b"\xff\xd8\xff"}))
    with pytest.raises(OutboxError, match="not JSON"):
        outbox.put(CaseMessage("c", 0, "new", {"t": object()}))
    with pytest.raises(OutboxError, match="kind"):
        outbox.put(CaseMessage("c", 0, "opened", {}))  # type: ignore[arg-type]
    assert outbox.stats().pending == 0


def test_sender_delivers_every_message_once_in_order_per_case(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    sent = [message(case, seq) for seq in range(3) for case in range(4)]
    for msg in sent:
        outbox.put(msg)
    with running_receiver(tmp_path / "r.db") as srv, Sender(outbox, platform(srv.url)) as sender:
        assert sender.deliver_pending(timeout_s=30) == len(sent)
        assert sender.deliver_pending(timeout_s=30) == 0
        messages = stored(srv.url)
        picture = httpx.get(f"{srv.url}/api/cases/cam1-0505-0002/pictures/crop.jpg").content
    assert_exactly_once_in_order(messages, sent)
    assert picture == message(2, 2).pictures["crop.jpg"]
    assert {m["message_id"]: m["body"] for m in messages}["cam1-0505-0003:1"] == message(3, 1).body
    stats = outbox.stats()
    assert (stats.pending, stats.delivered, stats.dead) == (0, len(sent), 0)


def test_background_sender_picks_up_new_messages(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    with running_receiver(tmp_path / "r.db") as srv, Sender(outbox, platform(srv.url)) as sender:
        sender.start()
        try:
            for case in range(5):
                outbox.put(message(case, 0, pictures=1))
            wait_until(lambda: outbox.stats().delivered == 5, what="5 deliveries")
            health = sender.health()
        finally:
            sender.stop()
        assert health.state == "ok" and health.delivered_since_start == 5
        assert health.outbox.pending == 0 and health.last_success_at is not None
        assert sender.health().state == "stopped"
        assert len(stored(srv.url)) == 5


@pytest.mark.parametrize(
    ("header", "expected"),
    [("5", 5.0), ("0", 0.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("99999", 3600.0)],
)
def test_retry_after_header_parsing(header, expected):
    assert retry_after_s(header, now=1e10) == expected


@pytest.mark.parametrize(
    ("status", "transient"),
    [*((s, True) for s in (500, 502, 503, 408, 409, 425, 429)), *((s, False) for s in (400, 401, 403, 404, 422, 301))],
)
def test_failure_classes(status, transient):
    assert is_transient(status) is transient


def _cli(register, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="edge")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_outbox_cli_reports_and_requeues(tmp_path, capsys):
    path = tmp_path / "outbox.db"
    outbox = Outbox(path)
    outbox.put(message(1, 0))
    outbox.put(message(1, 1))
    item = outbox.next_ready(now=math.inf)
    outbox.mark_dead(item.pk, "http", 400, '{"detail": "bad event code"}')
    outbox.close()

    args = _cli(register_outbox, ["outbox", "--outbox", str(path), "status"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "pending     1 (blocked behind a dead letter: 1" in out and "dead        1" in out

    args = _cli(register_outbox, ["outbox", "--outbox", str(path), "dead"])
    args.func(args)
    out = capsys.readouterr().out
    assert "cam1-0505-0001:0" in out and "HTTP 400" in out and "bad event code" in out

    args = _cli(register_outbox, ["outbox", "--outbox", str(path), "resend", "cam1-0505-0001:0"])
    assert args.func(args) == 0
    assert Outbox(path).stats().dead == 0
    args = _cli(register_outbox, ["outbox", "--outbox", str(path), "resend", "cam1-0505-0001:0"])
    with pytest.raises(UserError, match="not a dead letter"):
        args.func(args)
    args = _cli(register_outbox, ["outbox", "--outbox", str(tmp_path / "none.db"), "status"])
    with pytest.raises(UserError, match="no outbox"):
        args.func(args)
    args = _cli(register_outbox, ["outbox", "--outbox", str(path), "flush", "--url", "htp:/platform"])
    with pytest.raises(UserError, match=r"url: platform url must be http\(s\)://"):
        args.func(args)


def test_receiver_cli_parses_switches_and_rejects_bad_ones():
    args = _cli(register_receiver, ["receiver", "--fail-rate", "0.3", "--latency-ms", "20", "--reject-case", "x"])
    faults = build_faults(args)
    assert (faults.fail_rate, faults.latency_s, faults.reject_case_ids) == (0.3, 0.02, ["x"])
    assert args.port == 8787 and args.host == "127.0.0.1"
    with pytest.raises(UserError, match="fail_rate"):
        build_faults(_cli(register_receiver, ["receiver", "--fail-rate", "1.5"]))


def test_outbox_cli_reads_the_config_and_never_moves_a_bad_file(tmp_path, capsys):
    config = tmp_path / "edge.yaml"
    config.write_text("models: [{id: m, path: model.onnx}]\nstorage: {dir: state, max_outbox_mb: 64}\n")
    outbox = Outbox(tmp_path / "state" / "outbox.db")
    outbox.put(message(1, 0))
    outbox.close()
    args = _cli(register_outbox, ["outbox", "--config", str(config), "status", "--json"])
    assert args.func(args) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["pending"], status["max_mb"], status["problem"]) == (1, 64.0, None)

    bad = tmp_path / "state" / "outbox.db"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(UserError, match="unreadable"):
        args.func(args)
    assert bad.read_bytes() == b"garbage" * 1000  # left for the worker to recover, not pulled away


def test_edge_cli_runs_outbox_and_receiver_commands(tmp_path, capsys):
    from edge.cli import main

    path = tmp_path / "outbox.db"
    Outbox(path).put(message(1, 0))
    assert main(["outbox", "--outbox", str(path), "status"]) == 0
    assert "pending     1" in capsys.readouterr().out
    assert main(["outbox", "--outbox", str(tmp_path / "missing.db"), "dead"]) == 2
    assert "no outbox at" in capsys.readouterr().err
    assert main(["receiver", "--db", str(tmp_path / "r.db"), "--reject-status", "503"]) == 2
    assert "reject_status" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["htp://platform/api/cases", "platform.example/api/cases", "http:///api/cases", ""])
def test_a_platform_url_typo_is_a_config_error_not_endless_retries(url):
    with pytest.raises(ConfigError, match=r"(?s)platform\.url.*platform url must be http\(s\)://host"):
        parse_config({"version": 1, "platform": {"url": url}}, Path("."))
    assert PlatformConfig(url=" https://city.example:8443/api/cases ").url == "https://city.example:8443/api/cases"
