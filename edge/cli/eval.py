"""`edge eval --config CFG TRUTH [TRUTH ...]`: replay clips, score their cases against ground truth, gate.

Exit status: 0 when every threshold given is met, 1 when one is not (a city's CI can gate a rule-set
change on it), 2 for input an operator must fix (config, truth file, model, clip).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from edge.cli import UserError
from edge.cli.replay import DEFAULT_START, start_epoch, video_progress
from edge.config import load_config
from edge.evaluate import Annotation, Thresholds, Truth, TruthError, evaluate, load_truth
from edge.evaluate.report import fault_table, problem_table, score_table
from edge.evaluate.run import Evaluation
from edge.evaluate.verdicts import load_plan
from edge.i18n import cli_language, text, translate
from edge.ingest import probe_file

GATE_FAILED = 1


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..1")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0 seconds")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="replay clips and score their cases against ground truth",
        description="Replay each ground-truth file's clip and compare the cases with the expected ones "
        "(docs/testing.md). Exit 1 when a threshold is not met.",
    )
    parser.add_argument("truth", nargs="+", type=Path, help="ground-truth files; each names its clip")
    parser.add_argument("--config", "-c", type=Path, required=True, help="worker config (YAML) with the rule set")
    parser.add_argument("--out", type=Path, help="folder for the replays and the report (default: <storage.dir>/eval)")
    parser.add_argument("--report", type=Path, help="JSON report file (default: <out>/report.json)")
    parser.add_argument(
        "--start", default=DEFAULT_START, help="wall-clock time of each clip's first frame, camera local time"
    )
    parser.add_argument(
        "--annotate", type=Path, metavar="DIR", help="write an annotated MP4 and an evidence contact sheet per clip"
    )
    parser.add_argument("--codec", choices=["h264", "mpeg4"], default="h264", help="annotated video codec")
    parser.add_argument(
        "--verdicts",
        metavar="FILE|marked",
        help="then have the platform reject cases (false_alarm) and replay again from what that taught the box: "
        "'marked' rejects the cases of truth items marked detector_false_positive; a YAML file lists case ids "
        "(wrong_object) or maps case id -> reason",
    )
    gate = parser.add_argument_group(
        "gate (exit 1 when not met; rates per event class and in total, and per device-fault kind and in total "
        "for truth files that list faults)"
    )
    gate.add_argument("--min-precision", type=_fraction, metavar="P", help="true positives / cases opened")
    gate.add_argument("--min-recall", type=_fraction, metavar="R", help="true positives / expected cases")
    gate.add_argument("--min-f1", type=_fraction, metavar="F", help="harmonic mean of precision and recall")
    gate.add_argument("--max-duplicates", type=_count, metavar="N", help="second cases for one expected case")
    gate.add_argument("--max-latency", type=_seconds, metavar="S", help="slowest time to case, media seconds")
    parser.set_defaults(func=run)


def _load_truths(paths: list[Path]) -> list[Truth]:
    try:
        return [load_truth(path) for path in paths]
    except TruthError as exc:
        raise UserError(str(exc)) from None


def _print(console: Console, evaluation: Evaluation, report: Path, lang: str) -> None:
    _print_scores(console, evaluation, lang)
    if evaluation.after is not None:
        rejected = sum(len(clip.rejected) for clip in evaluation.after.clips)
        console.print(
            text("after the platform's verdicts ({count} cases rejected), replayed again:", lang, count=rejected)
        )
        _print_scores(console, evaluation.after, lang)
    console.print(text("report: {path}", lang, path=report))
    if evaluation.passed:
        console.print("[bold green]PASS[/]" if evaluation.thresholds.to_json() else text("no thresholds given", lang))
    failures = evaluation.failures + (evaluation.after.failures if evaluation.after is not None else [])
    for failure in failures:
        console.print(f"[bold red]FAIL[/] {translate(failure, lang)}")


def _print_scores(console: Console, evaluation: Evaluation, lang: str) -> None:
    console.print(score_table(evaluation, lang))
    faults = fault_table(evaluation, lang)
    if faults is not None:
        console.print(faults)
    problems = problem_table(evaluation, lang)
    if problems is not None:
        console.print(problems)
    for clip in evaluation.clips:
        result = clip.result
        console.print(
            text(
                "{truth}: {clip} as {camera}, {frames} frames in {seconds} s ({speed}x real time); cases: {path}",
                lang,
                truth=clip.truth.path.name,
                clip=result.clip.name,
                camera=clip.camera_id,
                frames=result.frames_analysed,
                seconds=f"{result.wall_seconds:.1f}",
                speed=f"{result.speed:.1f}",
                path=clip.run_dir / "cases.jsonl",
            )
        )
        for warning in clip.warnings:
            console.print(f"  [yellow]{text('warning', lang)}[/] {translate(warning, lang)}")
        if clip.video is not None:
            console.print(
                text("  annotated video: {video}\n  contact sheet: {sheet}", lang, video=clip.video, sheet=clip.sheet)
            )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    truths = _load_truths(args.truth)
    out: Path = args.out or Path(config.storage.dir) / "eval"
    report: Path = args.report or out / "report.json"
    thresholds = Thresholds(args.min_precision, args.min_recall, args.min_f1, args.max_duplicates, args.max_latency)
    annotation = None if args.annotate is None else Annotation(args.annotate, args.codec)
    try:
        plan = None if args.verdicts is None else load_plan(args.verdicts)
    except TruthError as exc:
        raise UserError(str(exc)) from None
    console = Console(soft_wrap=True)  # paths stay whole, ready to copy
    try:
        with video_progress("eval", console) as bar:
            tasks = {id(t): bar.add_task(t.path.name, total=probe_file(t.clip).duration_s or None) for t in truths}
            evaluation = evaluate(
                config,
                truths,
                out,
                lambda camera_id: start_epoch(config, camera_id, args.start),
                thresholds,
                annotation,
                progress=lambda truth, media_s: bar.update(tasks[id(truth)], completed=media_s),
                plan=plan,
            )
    except TruthError as exc:
        raise UserError(str(exc)) from None
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(evaluation.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _print(console, evaluation, report, cli_language())
    return 0 if evaluation.passed else GATE_FAILED
