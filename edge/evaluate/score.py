"""Counts and rates per event class from matching outcomes, and the gate a city's CI applies.

precision = TP / cases opened (duplicates and late, early or unexpected cases all cost a
dispatcher's time); recall = TP / expected cases; F1 = 2 TP / (cases + expected). A rate with
nothing to divide is None (no cases: nothing to be wrong about; nothing expected: nothing to
miss) and never fails a gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edge.evaluate.match import Outcome

TOTAL = "all"


@dataclass
class ClassScore:
    """Counts for one event class (or `all`)."""

    event: str
    expected: int = 0
    true_positives: int = 0
    false_positives: int = 0  # late + early + unexpected
    late: int = 0
    early: int = 0
    duplicates: int = 0
    misses: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return self.true_positives + self.false_positives + self.duplicates

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.cases if self.cases else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.expected if self.expected else None

    @property
    def f1(self) -> float | None:
        total = self.cases + self.expected
        return 2 * self.true_positives / total if total else None

    @property
    def mean_latency_s(self) -> float | None:
        return sum(self.latencies) / len(self.latencies) if self.latencies else None

    @property
    def max_latency_s(self) -> float | None:
        return max(self.latencies) if self.latencies else None

    def add(self, other: ClassScore) -> None:
        for name in ("expected", "true_positives", "false_positives", "late", "early", "duplicates", "misses"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies.extend(other.latencies)

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "event": self.event,
            "expected": self.expected,
            "cases": self.cases,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "late": self.late,
            "early": self.early,
            "duplicates": self.duplicates,
            "misses": self.misses,
            "precision": rounded(self.precision),
            "recall": rounded(self.recall),
            "f1": rounded(self.f1),
            "latency_s": {
                "mean": rounded(self.mean_latency_s),
                "max": rounded(self.max_latency_s),
                "all": [round(v, 3) for v in self.latencies],
            },
        }


def score(outcomes: Iterable[Outcome]) -> dict[str, ClassScore]:
    """Per event code, sorted, plus `all` (micro-averaged: counts summed before dividing)."""
    classes: dict[str, ClassScore] = {}

    def of(event: str) -> ClassScore:
        return classes.setdefault(event, ClassScore(event))

    for outcome in outcomes:
        for match in outcome.matches:
            row = of(match.expected.event)
            row.expected += 1
            row.true_positives += 1
            row.latencies.append(match.latency_s)
        for item in outcome.misses:
            of(item.event).expected += 1
            of(item.event).misses += 1
        for dup in outcome.duplicates:
            of(dup.case.event).duplicates += 1
        for false in outcome.false_cases:
            row = of(false.case.event)
            row.false_positives += 1
            row.late += false.kind == "late"
            row.early += false.kind == "early"
    out = {event: classes[event] for event in sorted(classes)}
    total = ClassScore(TOTAL)
    for row in out.values():
        total.add(row)
    out[TOTAL] = total
    return out


@dataclass(frozen=True)
class Thresholds:
    """Gate for a rule-set change: None means not checked."""

    min_precision: float | None = None
    min_recall: float | None = None
    min_f1: float | None = None
    max_duplicates: int | None = None
    max_latency_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def gate(scores: dict[str, ClassScore], thresholds: Thresholds) -> list[str]:
    """Failures, one readable line each; empty when every class and the total pass.

    Rates are checked per event class and in total (a good class cannot hide a bad one);
    duplicates are counted over all classes; latency is the slowest true positive.
    """
    failures = []
    checks = (
        ("precision", thresholds.min_precision, "--min-precision"),
        ("recall", thresholds.min_recall, "--min-recall"),
        ("f1", thresholds.min_f1, "--min-f1"),
    )
    for event, row in scores.items():
        label = "all classes" if event == TOTAL else f"event {event}"
        for name, minimum, flag in checks:
            value = getattr(row, name)
            if minimum is not None and value is not None and value < minimum:
                failures.append(f"{label}: {name} {value:.3f} < {flag} {minimum:g}")
    total = scores[TOTAL]
    if thresholds.max_duplicates is not None and total.duplicates > thresholds.max_duplicates:
        failures.append(f"all classes: {total.duplicates} duplicates > --max-duplicates {thresholds.max_duplicates}")
    slowest = total.max_latency_s
    if thresholds.max_latency_s is not None and slowest is not None and slowest > thresholds.max_latency_s:
        failures.append(f"all classes: slowest case took {slowest:.1f} s > --max-latency {thresholds.max_latency_s:g}")
    return failures
