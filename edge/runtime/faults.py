"""Device-fault events: a moved, covered or blurred camera is reported to the platform, not as a street case.

Each fault is a message stream of its own (case id `<worker>-<camera>-fault-<start>`): "new" when
the view goes bad, "update" when the kind of fault changes, "cleared" when the view returns, so the
platform's device desk opens and closes a ticket the same way it does for street cases. A message
is held here until it is handed off (edge/runtime/handoff.py), the same route case messages take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import cv2
import numpy as np

from edge import __version__
from edge.cases import Bystanders, Redactor
from edge.config import CameraConfig, EdgeConfig
from edge.isotime import compact_utc, iso_utc
from edge.scene import TamperStatus
from edge.types import DEVICE_FAULT, CaseMessage, Frame, MessageKind


class FaultReporter:
    """Turns one camera's tamper-state changes into device-fault messages."""

    def __init__(self, config: EdgeConfig, camera: CameraConfig) -> None:
        self.config = config
        privacy = config.evidence.privacy
        self._redactor = Redactor(privacy) if privacy.enabled else None  # the view shows nobody's face
        self.camera = camera
        self.status = TamperStatus()
        self._case_id: str | None = None
        self._seq = 0
        self._pending: list[CaseMessage] = []  # not taken by the sink yet

    def observe(self, frame: Frame, status: TamperStatus, seen: Bystanders | None = None) -> CaseMessage | None:
        """A message when the tamper state changed since the last frame (held until handed off), else None.

        `seen`: the frame's people and vehicles, blurred in the view picture when privacy is on."""
        if status.kind == self.status.kind:
            return None
        previous, self.status = self.status, status
        if status.active and self._case_id is None:
            stamp = compact_utc(frame.wall_time)
            self._case_id, self._seq = f"{self.config.worker.id}-{self.camera.id}-fault-{stamp}", 0
        if self._case_id is None:
            return None
        self._seq += 1
        kind: MessageKind = "cleared" if not status.active else ("new" if self._seq == 1 else "update")
        if self._redactor is not None and seen is not None:
            frame = self._redactor.frame(frame, seen, np.zeros((0, 4)))
        message = self._message(frame, kind, status if status.active else previous, ended=not status.active)
        if not status.active:
            self._case_id = None
        self._pending.append(message)
        return message

    def pending_messages(self) -> list[CaseMessage]:
        """Messages `observe()` made that are not yet `handed_off()`, in order."""
        return list(self._pending)

    def handed_off(self, message_ids: Sequence[str]) -> None:
        """The sink holds these messages: stop keeping them here."""
        taken = set(message_ids)
        self._pending = [m for m in self._pending if m.message_id not in taken]

    def _message(self, frame: Frame, kind: MessageKind, fault: TamperStatus, ended: bool) -> CaseMessage:
        assert self._case_id is not None
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        picture = bytes(jpeg) if ok else b""
        body = {
            "type": DEVICE_FAULT,
            "case_id": self._case_id,
            "seq": self._seq,
            "kind": kind,
            "severity": "normal",  # a blind camera is a maintenance ticket, not a hazard on the street
            "camera": {"id": self.camera.id, "name": self.camera.name},
            "fault": {"kind": fault.kind, "detail": fault.detail, "state": "ended" if ended else "active"},
            "time": iso_utc(frame.wall_time),
            "time_media_s": round(frame.media_time, 3),
            "location": self.camera.location.model_dump(),
            "worker": {"id": self.config.worker.id, "version": __version__},
            "evidence": [{"name": "view.jpg", "kind": "view", "sha256": hashlib.sha256(picture).hexdigest()}],
        }
        return CaseMessage(self._case_id, self._seq, kind, body, {"view.jpg": picture} if picture else {})
