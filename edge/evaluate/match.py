"""Match the cases a replay opened to the expected cases of its ground truth (pure functions).

A case *fits the place* of an expected case when camera, event code and zone agree and its box
passes the item's box test (if it has a box); it is *on time* when it opened inside the item's
window. Matching is one-to-one and maximal over (place and on time), earliest cases first, so
an expected case is normally claimed by the first case that opened for it. What is left over:

- a case whose best-fitting item (closest box, then nearest window) is already matched is a
  **duplicate**: the same violation reported twice (an id switch, a re-trigger after a lighting
  change), whenever it opened;
- a case whose best-fitting item is unmatched opened outside that item's window: it is **late**
  (or **early**), a false positive, and the item stays a **miss**;
- any other case is an **unexpected** false positive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.evaluate.truth import ExpectedCase
from edge.types import CaseMessage
from edge.zones.geometry import box_iou

FalseKind = Literal["late", "early", "unexpected"]


@dataclass(frozen=True, slots=True)
class ObservedCase:
    """What evaluation needs from a case's `new` message (the case contract's body)."""

    case_id: str
    camera: str
    event: str
    zone: str
    opened_s: float  # media seconds at confirmation
    box: tuple[float, float, float, float] | None = None  # normalised to the frame

    @classmethod
    def from_message(cls, message: CaseMessage) -> ObservedCase:
        body = message.body
        box = body.get("detection", {}).get("box_norm")
        return cls(
            case_id=message.case_id,
            camera=body["camera"]["id"],
            event=body["event"]["code"],
            zone=body["zone"]["id"],
            opened_s=float(body["times"]["confirmed_media_s"]),
            box=tuple(float(v) for v in box) if box else None,  # type: ignore[arg-type]
        )


def observed_cases(messages: Iterable[CaseMessage]) -> list[ObservedCase]:
    """One entry per case: its `new` message (updates and clearings don't open cases; device
    faults are scored on their own, edge.evaluate.faults)."""
    return [ObservedCase.from_message(m) for m in messages if m.kind == "new" and not m.is_device_fault]


@dataclass(frozen=True, slots=True)
class Match:
    expected: ExpectedCase
    case: ObservedCase

    @property
    def latency_s(self) -> float:
        """Time to case: opening time minus the start of the expected window."""
        return self.case.opened_s - self.expected.window[0]


@dataclass(frozen=True, slots=True)
class Duplicate:
    case: ObservedCase
    of: ExpectedCase


@dataclass(frozen=True, slots=True)
class FalseCase:
    case: ObservedCase
    kind: FalseKind
    near: ExpectedCase | None = None  # the item whose place it fits (late / early)


@dataclass
class Outcome:
    """The result of matching one clip's cases to its expected cases."""

    matches: list[Match] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    false_cases: list[FalseCase] = field(default_factory=list)
    misses: list[ExpectedCase] = field(default_factory=list)


def _boxes(items: Sequence[ExpectedCase | ObservedCase]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) boxes (zeros where absent) and an (N,) mask of which are present."""
    has = np.array([item.box is not None for item in items], bool)
    boxes = np.array([item.box if item.box is not None else (0, 0, 0, 0) for item in items], np.float64)
    return boxes.reshape(-1, 4), has


def place_fit(expected: Sequence[ExpectedCase], cases: Sequence[ObservedCase]) -> tuple[np.ndarray, np.ndarray]:
    """(E, C) bool: case c fits item e's place; and (E, C) box margin (how far inside the tolerance).

    The margin is IoU minus the IoU needed, or the allowed centre distance minus the distance; 0 for
    items without a box. It ranks items when a case fits several.
    """
    same = np.array(
        [[(e.camera, e.event, e.zone) == (c.camera, c.event, c.zone) for c in cases] for e in expected], bool
    ).reshape(len(expected), len(cases))
    truth_boxes, truth_has = _boxes(expected)
    case_boxes, case_has = _boxes(cases)
    iou = box_iou(truth_boxes, case_boxes).astype(np.float64)
    centre_t = (truth_boxes[:, :2] + truth_boxes[:, 2:]) / 2
    centre_c = (case_boxes[:, :2] + case_boxes[:, 2:]) / 2
    distance = np.linalg.norm(centre_t[:, None, :] - centre_c[None, :, :], axis=2)
    need_iou = np.array([e.iou_needed if e.iou_needed is not None else np.nan for e in expected])[:, None]
    max_dist = np.array([e.max_centre_distance or np.nan for e in expected])[:, None]
    margin = np.where(np.isnan(need_iou), max_dist - distance, iou - need_iou)
    margin = np.where(truth_has[:, None], np.where(case_has[None, :], margin, -np.inf), 0.0)
    return same & (margin >= 0), margin


def window_gap(windows: Iterable[tuple[float, float]], opened: Iterable[float]) -> np.ndarray:
    """(E, C) seconds between opening c and window e (0 inside it, both ends included)."""
    spans = np.array(list(windows), np.float64).reshape(-1, 2)
    times = np.array(list(opened), np.float64)[None, :]
    return np.maximum(spans[:, :1] - times, 0) + np.maximum(times - spans[:, 1:], 0)


def maximal_matching(eligible: np.ndarray, order: np.ndarray, preference: np.ndarray) -> dict[int, int]:
    """Maximum one-to-one matching (augmenting paths); cases in `order`, items by `preference`.

    Returns item -> case. Sizes are a few dozen per clip, so the simple algorithm is plenty.
    """
    owner: dict[int, int] = {}

    def claim(c: int, seen: set[int]) -> bool:
        for e in preference[:, c].tolist():
            if not eligible[e, c] or e in seen:
                continue
            seen.add(e)
            if e not in owner or claim(owner[e], seen):
                owner[e] = c
                return True
        return False

    for c in order.tolist():
        claim(c, set())
    return owner


def match_cases(expected: Sequence[ExpectedCase], cases: Sequence[ObservedCase]) -> Outcome:
    """Match one clip's cases to its expected cases and sort the rest (see the module docstring)."""
    place, margin = place_fit(expected, cases)
    gap = window_gap((e.window for e in expected), (c.opened_s for c in cases))
    eligible = place & (gap == 0)
    order = np.lexsort((np.array([c.case_id for c in cases], str), np.array([c.opened_s for c in cases])))
    preference = np.lexsort((gap, -margin), axis=0)  # per case: best box first, then nearest window
    owner = maximal_matching(eligible, order, preference)
    taken = {c: e for e, c in owner.items()}
    outcome = Outcome(
        matches=[Match(expected[e], cases[owner[e]]) for e in sorted(owner, key=lambda e: owner[e])],
        misses=[item for e, item in enumerate(expected) if e not in owner],
    )
    for c in order.tolist():
        if c in taken:
            continue
        case, ranked = cases[c], [e for e in preference[:, c].tolist() if place[e, c]]
        if not ranked:
            outcome.false_cases.append(FalseCase(case, "unexpected"))
        elif ranked[0] in owner:  # its best-fitting item already has a case
            outcome.duplicates.append(Duplicate(case, expected[ranked[0]]))
        else:
            near = expected[ranked[0]]
            kind: FalseKind = "late" if case.opened_s > near.window[1] else "early"
            outcome.false_cases.append(FalseCase(case, kind, near))
    return outcome
