"""Batch formation for the shared inference loop, as pure functions over the waiting requests.

Policies, by name:
- **Per-model batches across cameras.** A batch holds frames of any cameras that need the same
  model; a model never runs on a frame whose camera did not ask for it.
- **Close when full or overdue.** A model's batch closes when `limit` frames wait for it (the
  smaller of the configured max batch and the model's own) or when its oldest frame has waited
  `max_wait_s`; while stopping with drain, it closes at once.
- **Priority, then round-robin, then age.** Frames of prioritised cameras (a candidate violation
  in progress) or submitted with `priority=True` come first; then each camera's first waiting
  frame before any camera's second, so one busy camera cannot fill every batch; then the oldest.
  The ready model whose best frame ranks first runs next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from edge.types import Detections, Frame, Region

ResultCallback = Callable[[Frame, dict[str, Detections]], None]


@dataclass(eq=False, slots=True)
class Request:
    """One frame waiting for its models; `pending` shrinks as batches claim it."""

    frame: Frame
    pending: set[str]
    on_result: ResultCallback
    priority: bool
    submitted: float  # time.monotonic() at submit, for max_wait
    results: dict[str, Detections] = field(default_factory=dict)
    running: int = 0  # batches in flight that hold this request
    region: Region | None = None  # where the camera needs objects (its zones); None: the whole frame

    @property
    def complete(self) -> bool:
        return not self.pending and not self.running


RankKey = tuple[bool, int, float]


def ranked(queues: dict[str, deque[Request]], model_id: str, prioritised: set[str]) -> list[tuple[RankKey, Request]]:
    """Requests waiting for `model_id`, best first: priority, position in their camera's queue, age."""
    out = []
    for camera_id, queue in queues.items():
        position = 0
        for request in queue:
            if model_id in request.pending:
                urgent = request.priority or camera_id in prioritised
                out.append(((not urgent, position, request.submitted), request))
                position += 1
    out.sort(key=lambda item: item[0])
    return out


def plan_batch(
    queues: dict[str, deque[Request]],
    limits: dict[str, int],
    prioritised: set[str],
    max_wait_s: float,
    now: float,
    drain: bool = False,
) -> tuple[str, list[Request]] | float | None:
    """The next (model, requests) batch to run, else seconds until one is due (None: nothing waits)."""
    best: tuple[RankKey, str, list[Request]] | None = None
    due_in: float | None = None
    for model_id, limit in limits.items():
        waiting = ranked(queues, model_id, prioritised)
        if not waiting:
            continue
        oldest = min(request.submitted for _, request in waiting)
        left = oldest + max_wait_s - now
        if len(waiting) >= limit or left <= 0 or drain:
            if best is None or waiting[0][0] < best[0]:
                best = (waiting[0][0], model_id, [request for _, request in waiting[:limit]])
        else:
            due_in = left if due_in is None else min(due_in, left)
    if best is not None:
        return best[1], best[2]
    return due_in


def waiting(queue: Iterable[Request]) -> list[Request]:
    """Requests of one camera still waiting for a batch (not held by a running one), oldest first."""
    return [r for r in queue if r.pending and not r.running]
