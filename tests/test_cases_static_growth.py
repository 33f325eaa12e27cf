"""Static-object cases follow the scene model's object id: a pile whose box grows or shrinks stays one
case with updates, and its case clears only when the object is gone (no longer reported)."""

from __future__ import annotations

import numpy as np
from test_cases_support import Run, make_config, rule

from edge.types import Detections


def pile(x2: float, y1: float = 60.0, object_id: int = 3) -> Detections:
    data = {"object_id": np.array([object_id]), "first_seen": np.array([0.0])}
    return Detections(np.array([[150.0, y1, x2, 100.0]]), [0.9], [-1], [object_id], data)


def test_a_pile_that_grows_and_shrinks_is_one_case_cleared_only_when_gone(tmp_path):
    piles = rule(id="piles", kind="static_object", event_code="0507", classes=[], min_duration_s=10)
    run = Run(make_config([piles]), tmp_path / "state.db")
    for t in np.arange(0.0, 120.0, 1.0):
        if t < 30:
            objects = pile(190.0)  # a bag
        elif t < 60:
            objects = pile(190.0 + 4.0 * (t - 30), y1=60.0 - (t - 30))  # material piles up beside it, 4x wider
        elif t < 90:
            objects = pile(230.0, y1=45.0)  # some taken away: smaller again
        else:
            objects = Detections.empty()  # gone
        run.step(float(t), static=objects)
    kinds = [m.kind for m in run.messages]
    assert kinds[0] == "new" and kinds[-1] == "cleared" and set(kinds[1:-1]) <= {"update"}
    assert len({m.case_id for m in run.messages}) == 1, "one pile, one case"
    (cleared,) = [m for m in run.messages if m.kind == "cleared"]
    assert cleared.body["times"]["message_media_s"] >= 90.0, "cleared only after the object is gone"
    run.close()
