"""Verification on request: the platform asks whether a case's object is still at its place *now*.

After a field worker reports a case handled, the verifier wants a fresh look instead of waiting for a
clearing. The case engine looks at the camera's next analysed frames with the dwell's own test
(`places.continuing`: same spot, box continuity, same appearance) inside the zone as it is now
configured, and answers with a verdict, an annotated picture and the time. The answer is a message
of the case (`kind: verification`, the case's next seq), stored and delivered like the others.

That seq is taken outside the frame walk: an open case takes it at once (its saved state must carry
it) and gets it back when the answer cannot be stored (`next_seq`), so no case's seq ever runs ahead
of the messages the store holds.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from edge.cases.appearance import SIZE, FrameLooks
from edge.cases.evidence import Picture
from edge.cases.messages import Composer, Facts, Sighting, scene_picture
from edge.cases.observe import observe
from edge.cases.places import continuing, looks_of
from edge.cases.privacy import Bystanders
from edge.cases.rules import CompiledRule
from edge.cases.state import Case, Places
from edge.cases.store import CaseRecord
from edge.isotime import iso_utc
from edge.types import CaseMessage, Detections, Frame

Verdict = Literal["still_present", "gone", "camera_unavailable", "view_changed", "unknown_case"]
VERDICTS: tuple[Verdict, ...] = ("still_present", "gone", "camera_unavailable", "view_changed", "unknown_case")


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """One request: which case, the caller's id for it (a retry with the same id gets the same answer)."""

    case_id: str
    request_id: str
    requested_at: float  # wall-clock seconds


@dataclass(frozen=True, slots=True)
class Verification:
    """The box's answer; `message` is the case message carrying it (None for an unknown case)."""

    request: VerifyRequest
    verdict: Verdict
    answered_at: float
    detail: str
    message: CaseMessage | None = None

    def to_json(self) -> dict[str, Any]:
        """The answer as the API and the MQTT reply give it: the picture inline (base64 JPEG)."""
        pictures = self.message.pictures if self.message is not None else {}
        name, jpeg = next(iter(pictures.items()), (None, b""))
        return {
            "case_id": self.request.case_id,
            "request_id": self.request.request_id,
            "verdict": self.verdict,
            "detail": self.detail,
            "requested_at": iso_utc(self.request.requested_at),
            "answered_at": iso_utc(self.answered_at),
            "message_id": None if self.message is None else self.message.message_id,
            "seq": None if self.message is None else self.message.seq,
            "picture": None
            if name is None
            else {
                "name": name,
                "sha256": hashlib.sha256(jpeg).hexdigest(),
                "jpeg_base64": base64.b64encode(jpeg).decode(),
            },
        }


def verification_body(
    last: dict[str, Any],
    seq: int,
    answer: Verification,
    frame: Frame | None,
    evidence: list[Picture],
) -> dict[str, Any]:
    """The case's last body, as a `verification` message: its next seq, the verdict and the fresh picture."""
    case_id = last["case_id"]
    return {
        **last,
        "message_id": f"{case_id}:{seq}",
        "seq": seq,
        "kind": "verification",
        "times": {**last["times"], "message_media_s": None if frame is None else round(frame.media_time, 3)},
        "evidence": [p.entry() for p in evidence],
        "verification": {
            "verdict": answer.verdict,
            "detail": answer.detail,
            "request_id": answer.request.request_id,
            "requested_at": iso_utc(answer.request.requested_at),
            "answered_at": iso_utc(answer.answered_at),
        },
    }


def sees(r: CompiledRule, stored: CaseRecord, frame: Frame, dets: Detections) -> np.ndarray:
    """Boxes of this frame showing the case's object still at its place, by the rule `r` as configured now.

    An open case is matched against its places' boxes and looks, a cleared one against its last box
    (no look kept). A zone-level case holds while its rule's condition holds. Empty: not seen."""
    obs = observe(r.spec, dets, frame.width, frame.height, frame.media_time)
    if not len(obs) or obs.zone_level:
        return obs.parts.xyxy if len(obs) else np.zeros((0, 4))
    mine = r.state.places.case == stored.case_id
    if mine.any():
        places = r.state.places.subset(mine)
    else:
        box = stored.box[None, :]
        places = Places(ref=box, box=box.copy(), look=np.full((1, SIZE), np.nan, np.float32))
    _, cols, _ = continuing(places, obs, looks_of(FrameLooks(frame.image), obs, r.spec.rule.kind), r.spec.rule)
    return obs.xyxy[cols]


@contextmanager
def next_seq(case: Case | None, stored: CaseRecord) -> Iterator[int]:
    """The seq of a message stored outside the frame walk: the case's next one.

    An open case (`case`) takes it at once and gets its seq back when the block fails (the message
    was not stored); a case no rule holds open only has the store's row, which the message moves on."""
    before = case.seq if case is not None else stored.seq
    if case is not None:
        case.seq = before + 1
    try:
        yield before + 1
    except BaseException:
        if case is not None:
            case.seq = before
        raise


def answer_picture(
    composer: Composer,
    facts: Facts,
    r: CompiledRule,
    frame: Frame,
    *,
    answer: Verification,
    stored: CaseRecord,
    seen: np.ndarray,
    seq: int,
    people: Bystanders | None,
) -> Picture:
    """The frame that answered, with the object's boxes (`seen`, or its last box when not seen) drawn."""
    present = answer.verdict == "still_present"
    boxes = seen if present and len(seen) else stored.box[None, :]
    label = "still present" if present else answer.verdict.replace("_", " ")
    sighting = Sighting(boxes, [label] * len(boxes), np.zeros((0, 4)))
    shown = composer.shown(frame, boxes, people)
    name = f"{seq:02d}-verify.jpg"
    return scene_picture(
        facts, r.spec, shown, frame.wall_time, name=name, kind="verification", seen=sighting, cleared=not present
    )
