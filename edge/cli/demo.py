"""`edge demo`: the bundled clip, config and model against a local stand-in platform.

Starts a receiver on a free 127.0.0.1 port, replays streams/vtest.avi through the whole pipeline
(cases -> durable outbox -> HTTP sender), then reads back what the receiver stored and prints
each case with the paths of its evidence pictures.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

import edge
from edge.cli import UserError
from edge.cli.replay import (
    add_replay_options,
    check_camera,
    plate_cell,
    replay_with_progress,
    start_epoch,
    summary_line,
)
from edge.config import load_config
from edge.delivery.outbox import Outbox
from edge.delivery.sender import Sender
from edge.http_server import ThreadedServer
from edge.receiver.app import create_app
from edge.runtime.replay import JsonLinesSink
from edge.types import CaseMessage

REPO = Path(edge.__file__).resolve().parents[1]
BUNDLED_CONFIG = REPO / "streams" / "demo.yaml"
DELIVERY_TIMEOUT_S = 60.0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the bundled clip end to end into a local stand-in platform")
    parser.add_argument("--config", "-c", type=Path, default=BUNDLED_CONFIG, help="config (default: bundled demo)")
    parser.add_argument("--clip", type=Path, help="clip to replay (default: the camera's source file)")
    add_replay_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_camera(config, args.camera)
    camera = config.camera(args.camera) if args.camera else config.cameras[0]
    clip = args.clip or Path(camera.source.url)
    if "://" in str(clip):
        raise UserError(f"camera {camera.id!r} streams from {clip}; give a recorded file with --clip")
    out = args.out or Path(config.storage.dir)
    shutil.rmtree(out, ignore_errors=True)  # a demo starts fresh: new receiver, outbox and rule state
    out.mkdir(parents=True)
    console = Console(soft_wrap=True)  # paths stay whole, ready to copy
    with ThreadedServer(create_app(out / "receiver.db")) as receiver:
        config.platform.kind = "http"  # the demo's own stand-in platform, whatever the config names
        config.platform.url = f"{receiver.url}/api/cases"
        console.print(f"stand-in platform receiver listening on {receiver.url} (cases at {config.platform.url})")
        outbox = Outbox(out / "outbox.db")
        sender = Sender(outbox, config.platform)
        files = JsonLinesSink(out / "replay")

        def sink(message: CaseMessage) -> None:
            outbox.put(message)  # durable first, then the local copy for the tester
            files(message)

        try:
            result = replay_with_progress(
                config,
                clip,
                out / "replay",
                camera.id,
                start_epoch(config, camera.id, args.start),
                sink,
                console,
                realtime=args.realtime,
            )
            sent = sender.deliver_pending(DELIVERY_TIMEOUT_S)
            stats = outbox.stats()
        finally:
            sender.close()
            outbox.close()
        cases = httpx.get(f"{receiver.url}/api/cases", timeout=10).json()
    console.print(summary_line(result))
    console.print(f"delivered {sent} messages; outbox: {stats.pending} pending, {stats.dead} dead letters")
    console.print(received_table(cases))
    for case in cases:
        console.print(f"[bold]{case['case_id']}[/] evidence pictures:")
        for picture in sorted((files.evidence_dir / case["case_id"]).glob("*.jpg")):
            console.print(f"  {picture}")

    database = out / "receiver.db"
    console.print(f"receiver database: {database} (serve it again with: edge receiver --db {database})")
    console.print(f"case messages as JSON lines: {files.path}")
    return 0 if stats.pending == 0 and stats.dead == 0 else 1


def received_table(cases: list[dict]) -> Table:
    table = Table(title=f"cases stored by the platform receiver ({len(cases)})")
    for column in ("case", "event", "zone", "class", "score", "plate", "first seen (UTC)", "state", "messages"):
        table.add_column(column, overflow="fold")
    for case in cases:
        body = case["latest"]
        detection = body.get("detection", {})
        table.add_row(
            case["case_id"],
            f"{body['event']['code']} {body['event']['name']}",
            body["zone"]["id"],
            str(detection.get("class", "")),
            f"{detection.get('score', 0):.2f}",
            plate_cell(detection),
            body["times"]["first_seen"],
            case["state"],
            str(case["message_count"]),
        )
    return table
