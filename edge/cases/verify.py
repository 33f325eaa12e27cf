"""Verification on request: the platform asks whether a case's object is still at its place *now*.

After a field worker reports a case handled, the verifier wants a fresh look instead of waiting for a
clearing. The case engine looks at the camera's next analysed frames with the dwell's own test
(`places.continuing`: same spot, box continuity, same appearance) inside the zone as it is now
configured, and answers with a verdict, an annotated picture and the time. The answer is a message
of the case (`kind: verification`, the case's next seq), stored and delivered like the others.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from edge.cases.evidence import Picture
from edge.isotime import iso_utc
from edge.types import CaseMessage, Frame

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
