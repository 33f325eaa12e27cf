"""`edge replay CLIP --config CFG`: analyse a recorded clip as fast as possible and list its cases."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge.cli import UserError
from edge.config import EdgeConfig, load_config
from edge.i18n import ENGLISH, cli_language, text
from edge.ingest import probe_file
from edge.runtime.replay import JsonLinesSink, ReplayResult, replay_clip
from edge.types import CaseMessage

DEFAULT_START = "2026-01-05T09:00:00"  # a Monday morning, camera local time: replays are reproducible


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("replay", help="analyse a recorded clip and print its cases")
    parser.add_argument("clip", type=Path, help="video file (any format FFmpeg reads)")
    parser.add_argument("--config", "-c", type=Path, required=True, help="worker config (YAML)")
    add_replay_options(parser)
    parser.set_defaults(func=run)


def add_replay_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera", help="camera id whose zones and rules apply (default: the first)")
    parser.add_argument("--out", type=Path, help="output folder (default: <storage.dir>/replay/<camera>)")
    parser.add_argument(
        "--start", default=DEFAULT_START, help="wall-clock time of the clip's first frame, camera local time"
    )
    parser.add_argument("--realtime", action="store_true", help="pace the replay to the clip's own speed")


def start_epoch(config: EdgeConfig, camera_id: str | None, start: str) -> float:
    camera = config.camera(camera_id) if camera_id else config.cameras[0]
    try:
        moment = dt.datetime.fromisoformat(start)
    except ValueError:
        raise UserError(f"--start {start!r} is not an ISO date-time like {DEFAULT_START}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(camera.timezone))
    return moment.timestamp()


def check_camera(config: EdgeConfig, camera_id: str | None) -> None:
    if not config.cameras:
        raise UserError("the config has no cameras: add one with its zones and rules")
    if camera_id and camera_id not in {c.id for c in config.cameras}:
        raise UserError(f"no camera {camera_id!r} in the config; cameras: {[c.id for c in config.cameras]}")


def video_progress(verb: str, console: Console) -> Progress:
    """A progress bar counting seconds of video analysed, gone when done."""
    return Progress(
        TextColumn(f"[bold]{verb}[/] {{task.description}}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s of video"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def replay_with_progress(
    config: EdgeConfig,
    clip: Path,
    out: Path,
    camera_id: str | None,
    epoch: float,
    sink: Callable[[CaseMessage], None],
    console: Console,
    realtime: bool = False,
) -> ReplayResult:
    with video_progress("replay", console) as bar:
        task = bar.add_task(clip.name, total=probe_file(clip).duration_s or None)
        return replay_clip(
            config,
            clip,
            out,
            camera_id=camera_id,
            epoch=epoch,
            sink=sink,
            progress=lambda media_s: bar.update(task, completed=media_s),
            realtime=realtime,
        )


def case_table(messages: list[CaseMessage], lang: str = ENGLISH) -> Table:
    """The new cases, with headings in `lang` (edge.i18n)."""
    table = Table(title=text("cases", lang), show_lines=False)
    plates = any("plate" in m.body.get("detection", {}) for m in messages)  # rules with plates: true
    columns = ("case", "event", "zone", "first seen (UTC)", "confirmed (UTC)", "class", "score", "plate")
    for column in columns[: 7 + plates]:
        table.add_column(text(column, lang), overflow="fold")
    for message in messages:
        if message.kind != "new":
            continue
        body = message.body
        if message.is_device_fault:  # the camera's view was moved, covered or blurred
            fault = body["fault"]
            event = text("device fault: {kind}", lang, kind=fault["kind"])
            table.add_row(message.case_id, event, text("(all zones paused)", lang), body["time"], "", "", "", "")
            continue
        detection = body.get("detection", {})
        row = [
            message.case_id,
            f"{body['event']['code']} {body['event']['name']}",
            body["zone"]["id"],
            body["times"]["first_seen"],
            body["times"]["confirmed"],
            str(detection.get("class", "")),
            f"{detection.get('score', 0):.2f}",
            plate_cell(detection, lang),
        ]
        table.add_row(*row[: 7 + plates])
    return table


def plate_cell(detection: dict, lang: str = ENGLISH) -> str:
    """`detection.plate` for a table: the plate and its confidence, or why it is unread; empty without one."""
    plate = detection.get("plate")
    if not plate:
        return ""
    if plate["text"]:
        return f"{plate['display']} {plate['confidence']:.2f}"
    return text("unread: {reason}", lang, reason=text(plate["unread"], lang))


def summary_line(result: ReplayResult) -> str:
    cases = [m for m in result.messages if not m.is_device_fault]
    kinds = {k: sum(m.kind == k for m in cases) for k in ("new", "update", "cleared")}
    faults = sum(m.kind == "new" for m in result.faults)
    return (
        f"{result.clip.name}: {result.frames_analysed} frames analysed over {result.media_seconds:.1f} s of video "
        f"in {result.wall_seconds:.1f} s ({result.speed:.1f}x real time); cases: {kinds['new']} new, "
        f"{kinds['update']} updates, {kinds['cleared']} cleared; device faults: {faults}"
    )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_camera(config, args.camera)
    camera_id = args.camera or config.cameras[0].id
    out = args.out or Path(config.storage.dir) / "replay" / camera_id
    for stale in out.glob("state.db*"):
        stale.unlink()  # a replay starts from a clean rule state
    console = Console(soft_wrap=True)  # paths stay whole, ready to copy
    sink = JsonLinesSink(out)
    result = replay_with_progress(
        config,
        args.clip,
        out,
        camera_id,
        start_epoch(config, camera_id, args.start),
        sink,
        console,
        realtime=args.realtime,
    )
    lang = cli_language()
    console.print(case_table(result.messages, lang))
    for message in result.new_cases:
        evidence = sink.evidence_dir / message.case_id
        console.print(text("{case} evidence: {path}", lang, case=message.case_id, path=evidence))
    console.print(summary_line(result))
    console.print(text("case messages: {path}", lang, path=sink.path))
    (out / "summary.json").write_text(
        json.dumps(
            {
                "clip": str(result.clip),
                "camera": camera_id,
                "frames_analysed": result.frames_analysed,
                "frames_reused": result.frames_reused,
                "media_seconds": result.media_seconds,
                "wall_seconds": result.wall_seconds,
                "speed_x_realtime": result.speed,
                "cases": [m.case_id for m in result.new_cases],
                "device_faults": [m.case_id for m in result.faults if m.kind == "new"],
            },
            indent=2,
        )
    )
    return 0
