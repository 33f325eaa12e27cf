"""Counts and rates per event class (and per device-fault kind) from matching outcomes, and the gate.

precision = TP / cases opened (duplicates and late, early or unexpected cases all cost a
dispatcher's time); recall = TP / expected cases; F1 = 2 TP / (cases + expected). A rate with
nothing to divide is None (no cases: nothing to be wrong about; nothing expected: nothing to
miss) and never fails a gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edge.evaluate.faults import FaultOutcome
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

    def found(self, latency_s: float) -> None:
        """One expected item matched, `latency_s` after its window opened."""
        self.expected += 1
        self.true_positives += 1
        self.latencies.append(latency_s)

    def missed(self) -> None:
        self.expected += 1
        self.misses += 1

    def false(self, kind: str) -> None:
        """One false positive; `kind` says whether it came late, early or was otherwise unexpected."""
        self.false_positives += 1
        self.late += kind == "late"
        self.early += kind == "early"

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


@dataclass
class FaultScore(ClassScore):
    """Counts for one device-fault kind (or `all`): found = TP, spurious = FP + duplicates."""

    def to_json(self) -> dict[str, Any]:
        counts = super().to_json()
        return {
            "kind": self.event,
            "expected": self.expected,
            "reported": self.cases,
            "found": self.true_positives,
            "spurious": self.false_positives + self.duplicates,
            "duplicates": self.duplicates,
            "missed": self.misses,
            **{name: counts[name] for name in ("precision", "recall", "f1", "latency_s")},
        }


def _with_total(classes: dict[str, ClassScore], total: ClassScore) -> dict[str, ClassScore]:
    """Rows sorted by name, then `total` summed over them."""
    out = {name: classes[name] for name in sorted(classes)}
    for row in out.values():
        total.add(row)
    out[TOTAL] = total
    return out


def score(outcomes: Iterable[Outcome]) -> dict[str, ClassScore]:
    """Per event code, sorted, plus `all` (micro-averaged: counts summed before dividing)."""
    classes: dict[str, ClassScore] = {}

    def of(event: str) -> ClassScore:
        return classes.setdefault(event, ClassScore(event))

    for outcome in outcomes:
        for match in outcome.matches:
            of(match.expected.event).found(match.latency_s)
        for item in outcome.misses:
            of(item.event).missed()
        for dup in outcome.duplicates:
            of(dup.case.event).duplicates += 1
        for false in outcome.false_cases:
            of(false.case.event).false(false.kind)
    return _with_total(classes, ClassScore(TOTAL))


def score_faults(outcomes: Iterable[FaultOutcome]) -> dict[str, ClassScore]:
    """Per fault kind (the expected kind; a spurious fault's first reported kind), plus `all`."""
    kinds: dict[str, ClassScore] = {}

    def of(kind: str) -> ClassScore:
        return kinds.setdefault(kind, FaultScore(kind))

    for outcome in outcomes:
        for match in outcome.matches:
            of(match.expected.kind).found(match.latency_s)
        for item in outcome.misses:
            of(item.kind).missed()
        for spurious in outcome.spurious:
            if spurious.kind == "duplicate":
                of(spurious.reported).duplicates += 1
            else:
                of(spurious.reported).false(spurious.kind)
    return _with_total(kinds, FaultScore(TOTAL))


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


def _rate_failures(scores: dict[str, ClassScore], thresholds: Thresholds, total: str, each: str) -> list[str]:
    """Precision, recall and F1 of every row against the thresholds; rows labelled `each <name>` / `total`."""
    failures = []
    checks = (
        ("precision", thresholds.min_precision, "--min-precision"),
        ("recall", thresholds.min_recall, "--min-recall"),
        ("f1", thresholds.min_f1, "--min-f1"),
    )
    for name, row in scores.items():
        label = total if name == TOTAL else f"{each} {name}"
        for rate, minimum, flag in checks:
            value = getattr(row, rate)
            if minimum is not None and value is not None and value < minimum:
                failures.append(f"{label}: {rate} {value:.3f} < {flag} {minimum:g}")
    return failures


def gate(scores: dict[str, ClassScore], thresholds: Thresholds) -> list[str]:
    """Failures, one readable line each; empty when every class and the total pass.

    Rates are checked per event class and in total (a good class cannot hide a bad one);
    duplicates are counted over all classes; latency is the slowest true positive.
    """
    failures = _rate_failures(scores, thresholds, "all classes", "event")
    total = scores[TOTAL]
    if thresholds.max_duplicates is not None and total.duplicates > thresholds.max_duplicates:
        failures.append(f"all classes: {total.duplicates} duplicates > --max-duplicates {thresholds.max_duplicates}")
    slowest = total.max_latency_s
    if thresholds.max_latency_s is not None and slowest is not None and slowest > thresholds.max_latency_s:
        failures.append(f"all classes: slowest case took {slowest:.1f} s > --max-latency {thresholds.max_latency_s:g}")
    return failures


def gate_faults(scores: dict[str, ClassScore], thresholds: Thresholds) -> list[str]:
    """Device faults against the same rate thresholds, per kind and in total (duplicates count as
    spurious there; `--max-duplicates` and `--max-latency` are about cases only)."""
    return _rate_failures(scores, thresholds, "device faults", "device fault")
