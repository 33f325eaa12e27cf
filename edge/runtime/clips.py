"""Evidence clips on "new" messages: the message waits at most `after_s` for the seconds after its confirmation.

Why wait instead of sending the clip later: the dispatcher decides on the "new" message, and a later
message could come minutes on (re-report) or never (the case clears), while the packet ring forgets
in seconds. The wait is short (a few seconds, against a dwell of tens of seconds or minutes) and
bounded twice: by media time (the first analysed frame `after_s` past the confirmation releases it)
and, on a live camera, by the wall clock (a camera that drops meanwhile does not hold the case:
`release_overdue` sends it with whatever the ring covers). The case is never lost: until it is
handed off the message stays in the case store, and after a crash it is sent as stored, without a
clip (the ring lived in memory). A clip that cannot be made (the ring does not reach back to the
confirmation, or even its shortest form breaks `max_kb`) leaves the message as it was.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from edge.config.evidence import ClipConfig
from edge.ingest import Clip, PacketRing
from edge.isotime import iso_utc
from edge.types import CaseMessage

log = logging.getLogger(__name__)
WALL_GRACE_S = 2.0  # a live camera's message waits at most after_s + this, even with no frame coming


@dataclass(frozen=True, slots=True)
class _Held:
    confirmed_media: float
    wall_offset: float  # wall time - media time of the confirming frame
    deadline: float | None  # time.monotonic() after which it goes regardless


def clip_entry(clip: Clip, name: str, taken_at: str) -> dict[str, Any]:
    """The message's `evidence` item for a clip (docs/case-contract.md)."""
    return {
        "name": name,
        "kind": "clip",
        "sha256": hashlib.sha256(clip.data).hexdigest(),
        "bytes": len(clip.data),
        "taken_at": taken_at,
        "media_s": round(clip.start_s, 3),
        "width": clip.width,
        "height": clip.height,
        "duration_s": round(clip.duration_s, 3),
        "end_media_s": round(clip.end_s, 3),
        "codec": clip.codec,
        "frames": clip.frames,
    }


def clip_ring(config: ClipConfig) -> PacketRing:
    """The bounded packet ring of one camera with clips on."""
    return PacketRing(config.buffer_s, int(config.buffer_mb * 2**20))


class ClipAttacher:
    """Holds a camera's "new" case messages until their clip can be cut, then adds it."""

    def __init__(self, ring: PacketRing, config: ClipConfig, wall_bound: bool) -> None:
        """`wall_bound`: live cameras; a replay goes by media time only (so it is deterministic)."""
        self.ring = ring
        self._config = config
        self.wall_bound = wall_bound
        self._held: dict[str, _Held] = {}
        self._released: dict[str, CaseMessage] = {}  # cut, not yet taken by the outbox: the ring moves on

    @property
    def wait_s(self) -> float:
        return self._config.after_s + WALL_GRACE_S

    def hold(self, message: CaseMessage, media_time: float, wall_time: float) -> bool:
        """Keep a just-confirmed case's "new" message back; False for any other message."""
        if message.kind != "new" or message.is_device_fault:
            return False
        deadline = time.monotonic() + self.wait_s if self.wall_bound else None
        self._held[message.message_id] = _Held(media_time, wall_time - media_time, deadline)
        return True

    def waiting(self, message: CaseMessage, media_time: float | None, force: bool) -> bool:
        """Whether `message` must still wait (it is held and neither due nor forced)."""
        held = self._held.get(message.message_id)
        if held is None or force:
            return False
        due = media_time is not None and media_time >= held.confirmed_media + self._config.after_s
        overdue = held.deadline is not None and time.monotonic() >= held.deadline
        return not (due or overdue)

    def release(self, message: CaseMessage) -> CaseMessage:
        """The message with its clip (or as it was when none can be made); it is no longer held.

        The clip is cut once and kept until `sent`: an outbox that refuses the message (a full disk)
        gets the same clip on the next try, after the ring has moved past it."""
        released = self._released.get(message.message_id)
        if released is not None:
            return released
        held = self._held.pop(message.message_id, None)
        if held is None:
            return message
        released = self._cut(message, held)
        self._released[message.message_id] = released
        return released

    def sent(self, message: CaseMessage) -> None:
        """The outbox has `message`: its clip is no longer kept here."""
        self._released.pop(message.message_id, None)

    def _cut(self, message: CaseMessage, held: _Held) -> CaseMessage:
        c, cfg = held.confirmed_media, self._config
        clip = self.ring.cut(c - cfg.before_s, c + cfg.after_s, c, cfg.max_kb * 1024)
        if clip is None:
            log.warning("no evidence clip for %s: the packet ring does not cover it", message.message_id)
            return message
        name = f"{message.seq:02d}-clip{clip.extension}"
        entry = clip_entry(clip, name, iso_utc(held.wall_offset + clip.start_s))
        body = {**message.body, "evidence": [*message.body.get("evidence", []), entry]}
        return CaseMessage(message.case_id, message.seq, message.kind, body, {**message.pictures, name: clip.data})
