"""A failing patrol camera's retries: whole revisit intervals, doubling per failure up to the cap, jittered."""

from __future__ import annotations

import pytest

from edge.runtime.patrol_plan import FAILURE_BACKOFF_MAX, VisitPlan

REVISIT_S = 10.0


@pytest.mark.parametrize(("failures", "intervals"), [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (40, 8)])
def test_a_failing_camera_backs_off_in_doubling_revisit_intervals_up_to_the_cap(failures: int, intervals: int):
    assert intervals <= FAILURE_BACKOFF_MAX
    delays = []
    for visits in range(50):
        plan = VisitPlan("cam", REVISIT_S, jitter=0.1, visits=visits)
        delays.append(plan.retry_after(failures))
    full = REVISIT_S * intervals
    assert all(full / 2 <= d <= full for d in delays), "jitter takes at most half of the back-off"
    assert max(delays) - min(delays) > full / 4, "cameras failing together do not retry in lockstep"


def test_retries_are_the_same_on_every_run():
    plan = VisitPlan("cam", REVISIT_S, jitter=0.1, visits=7)
    assert plan.retry_after(3) == VisitPlan("cam", REVISIT_S, jitter=0.1, visits=7).retry_after(3)
    assert plan.retry_after(3) != VisitPlan("other", REVISIT_S, jitter=0.1, visits=7).retry_after(3)
