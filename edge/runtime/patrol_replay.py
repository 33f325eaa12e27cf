"""A clip replayed as a patrol camera sees it: visits sampled at the revisit interval.

`edge replay` and `edge eval` run a camera with `analysis.mode: patrol` through the same
`VisitPlan` arithmetic as the live scheduler, on the clip's own clock: each visit takes the first
`pictures_per_visit` sampled pictures at or after its due time, the pipeline is told where visits
begin and end, and the next visit is planned from what the rules then wait for. A visit's pictures
are those a stream visit of a camera whose key frames come at least as often as `analysis.fps`
would take (a live stream visit takes key frames, docs/patrol.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from edge.config import CameraConfig
from edge.config.patrol import PatrolConfig, revisit_s
from edge.runtime.patrol_plan import VisitPlan
from edge.runtime.pipeline import CameraPipeline
from edge.types import Frame


def patrol_pictures(
    frames: Iterator[Frame],
    camera: CameraConfig,
    patrol: PatrolConfig,
    pipeline: CameraPipeline,
    settle: Callable[[], None],
) -> Iterator[Frame]:
    """The clip's frames a patrol analyses, in order; `settle` waits until every yielded one is analysed."""
    plan = VisitPlan(camera.id, revisit_s(camera), patrol.jitter)
    wanted = camera.analysis.pictures_per_visit
    due: float | None = None
    taken = 0
    for frame in frames:
        if due is None:
            due = plan.first_due(frame.wall_time, spread=False)
        if frame.wall_time < due:
            continue
        if taken == 0:
            plan.started(frame.wall_time)
            pipeline.begin_visit(resumed=plan.visits == 1)
        taken += 1
        yield frame
        if taken == wanted:
            settle()
            pipeline.end_visit()
            due, taken = plan.next_due(pipeline.decision_due()), 0
    if taken:
        settle()
        pipeline.end_visit()
