"""Device faults take the case messages' route to the sink: a refused fault is held, never lost or raised.

Real vtest frames at 1 fps through a real `CameraPipeline` with the scene model on; the lens is
covered from 20 s to 30 s, so the "covered" fault opens at 23 s (`tamper_confirm_s` 3 s) and
clears at 33 s. The sink refuses every message until 25 s, as a full outbox does.
"""

from __future__ import annotations

from pathlib import Path

from scene_clips import covered, during, frames
from test_cases_support import NAMES, make_config, rule

from edge.delivery.records import OutboxError
from edge.runtime.pipeline import CameraPipeline
from edge.types import CaseMessage, Detections

COVER, CONFIRM_S, REFUSED_UNTIL = (20.0, 30.0), 3.0, 25.0


def test_a_refused_device_fault_is_held_and_goes_first_on_the_next_frame(tmp_path: Path) -> None:
    config = make_config([rule()], top={"scene": {"enabled": True, "tamper_confirm_s": CONFIRM_S}})
    clock = {"t": 0.0}
    taken: list[tuple[float, CaseMessage]] = []

    def sink(message: CaseMessage) -> None:
        if clock["t"] < REFUSED_UNTIL:
            raise OutboxError("the outbox is full", out_of_space=True)
        taken.append((clock["t"], message))

    no_space: list[str] = []
    pipeline = CameraPipeline(config, "cam1", tmp_path / "state.db", {"coco": NAMES}, sink, no_space=no_space.append)
    made: list[tuple[float, CaseMessage]] = []
    for frame in frames(during(*COVER, covered), end=COVER[1] + 2 * CONFIRM_S, camera="cam1"):
        clock["t"] = frame.media_time
        step = pipeline.analyse(frame, {"coco": Detections.empty()})
        made += [(frame.media_time, m) for m in step.messages if m.is_device_fault]
    pipeline.close()

    assert [(round(t), m.kind) for t, m in made] == [(23, "new"), (33, "cleared")]
    assert all(m.body["fault"]["kind"] == "covered" for _, m in made)
    # held while refused, then handed off in order on the first frame the sink takes it, each once
    assert [(round(t), m.message_id) for t, m in taken] == [(25, made[0][1].message_id), (33, made[1][1].message_id)]
    assert no_space, "a refusal for disk space is reported, as for a case message"
