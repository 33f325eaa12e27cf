"""Readable output of an evaluation: score tables per event class and per device-fault kind, and a
table of what went wrong."""

from __future__ import annotations

from rich import box
from rich.table import Table

from edge.evaluate.run import Evaluation
from edge.evaluate.score import TOTAL, ClassScore
from edge.evaluate.truth import ExpectedCase, ExpectedFault
from edge.i18n import ENGLISH, text


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _rates(row: ClassScore) -> tuple[str, str, str, str]:
    """Precision, recall, F1 and mean/max time to case (or to report) of a score row, as table cells."""
    latency = f"{_seconds(row.mean_latency_s)}/{_seconds(row.max_latency_s)}"
    return _rate(row.precision), _rate(row.recall), _rate(row.f1), latency


def score_table(evaluation: Evaluation, lang: str = ENGLISH) -> Table:
    """TP/FP/duplicates/misses, precision/recall/F1 and time to case per event class, total last (in `lang`)."""
    table = Table(
        title=text("evaluation per event class", lang),
        caption=text("exp: expected cases; FP includes late and early cases; latency: mean/max time to case", lang),
        box=box.SIMPLE_HEAD,
    )
    columns = ("event", "exp", "cases", "TP", "FP", "dup", "miss", "P", "R", "F1", "latency s")
    for column in columns:
        table.add_column(text(column, lang), justify="left" if column == "event" else "right")
    for event, row in evaluation.scores.items():
        if event == TOTAL:
            table.add_section()
        table.add_row(
            text("all", lang) if event == TOTAL else event,
            str(row.expected),
            str(row.cases),
            str(row.true_positives),
            str(row.false_positives),
            str(row.duplicates),
            str(row.misses),
            *_rates(row),
        )
    return table


def fault_table(evaluation: Evaluation, lang: str = ENGLISH) -> Table | None:
    """Found/spurious/missed device faults and their rates per kind, total last; None when none is scored."""
    if evaluation.fault_scores is None:
        return None
    table = Table(
        title=text("device faults per kind", lang),
        caption=text(
            "exp: expected faults; spurious: reported where the truth has none (duplicates included); "
            "latency: mean/max time to report",
            lang,
        ),
        box=box.SIMPLE_HEAD,
    )
    for column in ("kind", "exp", "reported", "found", "spurious", "missed", "P", "R", "F1", "latency s"):
        table.add_column(text(column, lang), justify="left" if column == "kind" else "right")
    for kind, row in evaluation.fault_scores.items():
        if kind == TOTAL:
            table.add_section()
        table.add_row(
            text("all", lang) if kind == TOTAL else text(kind, lang),
            str(row.expected),
            str(row.cases),
            str(row.true_positives),
            str(row.false_positives + row.duplicates),
            str(row.misses),
            *_rates(row),
        )
    return table


def problem_table(evaluation: Evaluation, lang: str = ENGLISH) -> Table | None:
    """Each miss, duplicate and false positive with the clip and case it concerns; None when clean."""
    table = Table(title=text("what to look at", lang))
    for column in ("clip", "problem", "expected", "case", "event / fault", "opened s"):
        table.add_column(text(column, lang), overflow="fold")

    def window(item: ExpectedCase | ExpectedFault) -> str:
        return text("window {start}-{end}", lang, start=f"{item.window[0]:g}", end=f"{item.window[1]:g}")

    for clip in evaluation.clips:
        name = clip.truth.path.name
        for item in clip.outcome.misses:
            table.add_row(name, text("miss", lang), item.id, "", item.event, window(item))
        for dup in clip.outcome.duplicates:
            opened = f"{dup.case.opened_s:.1f}"
            table.add_row(name, text("duplicate", lang), dup.of.id, dup.case.case_id, dup.case.event, opened)
        for false in clip.outcome.false_cases:
            near = "" if false.near is None else false.near.id
            row = (
                name,
                text("false ({kind})", lang, kind=text(false.kind, lang)),
                near,
                false.case.case_id,
                false.case.event,
                f"{false.case.opened_s:.1f}",
            )
            table.add_row(*row)
        faults = clip.faults
        for missed in [] if faults is None else faults.misses:
            table.add_row(name, text("fault missed", lang), missed.id, "", text(missed.kind, lang), window(missed))
        for spurious in [] if faults is None else faults.spurious:
            near = "" if spurious.near is None else spurious.near.id
            kinds = "/".join(text(kind, lang) for kind in spurious.fault.kinds)
            opened = f"{spurious.fault.opened_s:.1f}"
            problem = text("fault spurious ({kind})", lang, kind=text(spurious.kind, lang))
            table.add_row(name, problem, near, spurious.fault.case_id, kinds, opened)
    return table if table.row_count else None
