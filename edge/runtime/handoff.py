"""The one route from a camera's messages to the sink: case messages and device faults alike.

Each source keeps its messages until the sink has taken them (the case engine in its state file,
the fault reporter in memory), so a sink that fails (a full disk) leaves them where they were and
the next hand-off sends them first, in order. On the way, a case's "new" message may wait for its
evidence clip (edge/runtime/clips.py) or its vehicle's plate (edge/runtime/plates.py); it holds
back the later messages of its case only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from edge.cases import StoreError
from edge.delivery.records import OutboxError
from edge.runtime.clips import ClipAttacher
from edge.runtime.plates import PlateAttacher
from edge.types import CaseMessage, Frame

log = logging.getLogger(__name__)

MessageSink = Callable[[CaseMessage], None]  # stores a message durably (Outbox.put) or raises OutboxError
StorageFailed = Callable[[StoreError | OutboxError], None]  # the state file or the sink could not store
NoSpace = Callable[[str], None]  # a write failed for disk space (`DiskGuard.note_no_space`): the disk is full


class StorageAlarm:
    """A camera's failed writes (its state file, the sink): logged once per distinct problem, not per
    frame, and a write that failed for disk space reported to `no_space`."""

    def __init__(self, camera_id: str, no_space: NoSpace | None = None) -> None:
        self._camera_id = camera_id
        self._no_space = no_space or (lambda _what: None)
        self._problem: str | None = None

    def __call__(self, exc: StoreError | OutboxError) -> None:
        if exc.out_of_space:
            self._no_space(f"camera {self._camera_id}: {exc}")
        if str(exc) != self._problem:
            log.error("cannot store: %s", exc, extra={"camera": self._camera_id})
        self._problem = str(exc)


class MessageSource(Protocol):
    """Keeps its messages until they are handed off (`CaseEngine`, `FaultReporter`)."""

    def pending_messages(self) -> list[CaseMessage]: ...

    def handed_off(self, message_ids: Sequence[str]) -> None: ...


@dataclass
class HandOff:
    """Sends a camera's held messages to the sink, in order, with their clip and plate when they wait for one.

    `failed`: told when a source's store or the sink failed (the hand-off stops there)."""

    sink: MessageSink
    failed: StorageFailed
    clips: ClipAttacher | None = None
    plates: PlateAttacher | None = None  # reads the vehicle's plate for plate rules' messages

    def hold(self, emitted: Sequence[CaseMessage], frame: Frame, wake: Callable[[], None]) -> None:
        """Keep new messages back for their clip or plate; on a live camera `wake` runs once their wait is over
        (a camera that drops sends no frame to release them)."""
        waits = []
        if self.clips is not None:
            held = [m for m in emitted if self.clips.hold(m, frame.media_time, frame.wall_time)]
            if held and self.clips.wall_bound:
                waits.append(self.clips.wait_s)
        if self.plates is not None:
            held = [m for m in emitted if self.plates.hold(m, frame)]
            if held and self.plates.wall_bound:
                waits.append(self.plates.wait_s)
        for wait_s in waits:
            timer = threading.Timer(wait_s, wake)
            timer.daemon = True
            timer.start()

    def __call__(self, sources: Sequence[MessageSource], media_time: float | None = None, force: bool = False) -> None:
        """Sink every message the sources still hold, source by source, then let each forget those taken.

        Includes any that a failing sink left behind on an earlier frame, so order is kept. `force`:
        nothing waits any longer (the end of the source)."""
        for source in sources:
            if not self._send(source, media_time, force):
                return

    def _send(self, source: MessageSource, media_time: float | None, force: bool) -> bool:
        done, waiting, sent = [], set(), True
        for message in source.pending_messages():
            if message.case_id in waiting:
                continue
            if self.clips is not None:
                if self.clips.waiting(message, media_time, force):
                    waiting.add(message.case_id)
                    continue
                message = self.clips.release(message)
            if self.plates is not None:
                if self.plates.waiting(message, force):
                    waiting.add(message.case_id)
                    continue
                message = self.plates.release(message)
            try:
                self.sink(message)
            except OutboxError as exc:  # kept by its source: handed off again on a later frame or start
                self.failed(exc)
                sent = False
                break
            done.append(message.message_id)
            if self.clips is not None:
                self.clips.sent(message)
            if self.plates is not None:
                self.plates.sent(message)
        try:
            source.handed_off(done)
        except StoreError as exc:  # they stay held too: the outbox recognises them when handed off again
            self.failed(exc)
        return sent
