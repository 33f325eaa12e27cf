"""`edge outbox`: look into the delivery outbox, re-queue dead letters, or flush it now."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from pydantic import ValidationError

from edge.cli import UserError
from edge.config import load_config
from edge.config.delivery import PlatformConfig
from edge.config.load import format_validation_error
from edge.delivery.outbox import Outbox, OutboxError, outbox_path
from edge.delivery.sender import Sender
from edge.i18n import cli_language, text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("outbox", help="inspect the delivery outbox, re-send dead letters, flush")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", "-c", type=Path, help="worker config (YAML): outbox and platform from it")
    where.add_argument("--outbox", type=Path, help="outbox file (default: var/outbox.db)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="pending / delivered / dead counts, disk and health")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    actions.add_parser("dead", help="list dead letters with the platform's response")
    resend = actions.add_parser("resend", help="re-queue a dead letter (the sender picks it up)")
    target = resend.add_mutually_exclusive_group(required=True)
    target.add_argument("message_id", nargs="?", help="message id '<case_id>:<seq>'")
    target.add_argument("--all", action="store_true", help="re-queue every dead letter")
    discard = actions.add_parser("discard", help="give up on a dead letter, releasing its case's later messages")
    discard.add_argument("message_id")
    flush = actions.add_parser("flush", help="deliver what is pending now, then exit")
    flush.add_argument("--url", help="platform endpoint (default: from the config)")
    flush.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    flush.add_argument("--backoff-initial", type=float, help="first retry delay in seconds")
    flush.add_argument("--backoff-max", type=float, help="longest retry delay in seconds")
    parser.set_defaults(func=run)


def _open(args: argparse.Namespace) -> tuple[Outbox, PlatformConfig]:
    if args.config is not None:
        config = load_config(args.config)
        path, storage, platform = outbox_path(config.storage), config.storage, config.platform
    else:
        path, storage, platform = args.outbox or Path("var/outbox.db"), None, PlatformConfig()
    if args.action != "flush" and not path.exists():
        raise UserError(f"no outbox at {path} (nothing was ever queued there)")
    recover = args.action == "flush"  # only a sending process may replace an unreadable file
    if storage is not None:
        return Outbox.from_config(storage, recover=recover), platform
    return Outbox(path, recover=recover), platform


def run(args: argparse.Namespace) -> int:
    try:
        outbox, platform = _open(args)
    except OutboxError as exc:
        raise UserError(str(exc)) from None
    try:
        return ACTIONS[args.action](args, outbox, platform)
    finally:
        outbox.close()


def _status(args: argparse.Namespace, outbox: Outbox, _platform: PlatformConfig) -> int:
    stats = outbox.stats()
    if args.json:
        print(json.dumps(dataclasses.asdict(stats), indent=2))
        return 0
    lang = cli_language()
    age = "-" if stats.oldest_pending_age_s is None else f"{stats.oldest_pending_age_s:.0f} s"
    dead = text("  -> edge outbox dead", lang) if stats.dead else ""
    paused = text(" (no new cases until space returns)", lang) if not stats.accepting_cases else ""
    lines = [
        text("outbox      {path}", lang, path=outbox.path),
        text(
            "pending     {n} (blocked behind a dead letter: {blocked}; oldest {age})",
            lang,
            n=stats.pending,
            blocked=stats.blocked,
            age=age,
        ),
        text("delivered   {n}", lang, n=stats.delivered),
        text("dead        {n}", lang, n=stats.dead) + dead,
        text("discarded   {n}", lang, n=stats.discarded),
        text("stored      {mb} MB of {max} MB", lang, mb=f"{stats.stored_mb:.1f}", max=f"{stats.max_mb:.0f}"),
        text(
            "disk        {state}{paused}, {free} MB free; thinned: {thinned}",
            lang,
            state=stats.disk_state,
            paused=paused,
            free=f"{stats.disk_free_mb:.0f}",
            thinned=stats.thinned_messages,
        ),
    ]
    if stats.last_error:
        lines.append(text("waiting on  {problem}", lang, problem=stats.last_error))
    if stats.problem:
        lines.append(text("problem     {problem}", lang, problem=stats.problem))
    print("\n".join(lines))
    return 0


def _dead(_args: argparse.Namespace, outbox: Outbox, _platform: PlatformConfig) -> int:
    letters = outbox.dead_letters()
    if not letters:
        print(text("no dead letters", cli_language()))
    for letter in letters:
        print(f"{letter.message_id}  kind={letter.kind}  HTTP {letter.status}  attempts={letter.attempts}")
        print(f"    {letter.response[:500]}")
    return 0


def _resend(args: argparse.Namespace, outbox: Outbox, _platform: PlatformConfig) -> int:
    count = outbox.resend(None if args.all else args.message_id)
    if not count and not args.all:
        raise UserError(f"{args.message_id} is not a dead letter (see: edge outbox dead)")
    print(f"re-queued {count} message(s)")
    return 0


def _discard(args: argparse.Namespace, outbox: Outbox, _platform: PlatformConfig) -> int:
    if not outbox.discard(args.message_id):
        raise UserError(f"{args.message_id} is not a dead letter (see: edge outbox dead)")
    print(f"discarded {args.message_id}")
    return 0


def _flush(args: argparse.Namespace, outbox: Outbox, platform: PlatformConfig) -> int:
    if platform.kind != "http":
        raise UserError(f"flush posts over HTTP; a {platform.kind} worker delivers its own outbox while it runs")
    changes = {
        key: value
        for key, value in (
            ("url", args.url),
            ("backoff_initial_s", args.backoff_initial),
            ("backoff_max_s", args.backoff_max),
        )
        if value is not None
    }
    try:
        platform = PlatformConfig.model_validate({**platform.model_dump(), **changes})
    except ValidationError as exc:
        raise UserError(f"flush options are invalid:\n{format_validation_error(exc)}") from None
    sender = Sender(outbox, platform)
    try:
        delivered = sender.deliver_pending(args.timeout)
    finally:
        sender.close()
    stats = outbox.stats()
    print(f"delivered {delivered}; pending {stats.pending}; dead {stats.dead}", flush=True)
    return 0 if stats.pending == 0 else 1


ACTIONS = {"status": _status, "dead": _dead, "resend": _resend, "discard": _discard, "flush": _flush}
