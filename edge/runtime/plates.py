"""Plates on case messages: the vehicle's plate read off the inference loop, added before the message leaves.

Rules with `plates: true` get `detection.plate` and a `plate` picture on their "new" and "update"
messages: a few readings per case (one per message), never one per frame. The vehicle is cut from
the message's frame at the camera's full resolution and read on one `PlateService` thread with a
bounded queue, so the inference loop never waits for it; the message waits instead, like a clip
(edge/runtime/clips.py): a live camera's at most `plate_reader.wait_s`, a replay's until the reading
is done (so a replay is deterministic). A crop that finds the queue full is not read (`unread:
busy`). A message stored without its plate (a crash, a stop while a full disk refused it) is read
on its own crop picture when it is handed off again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from edge.cases import CaseEngine, Comeback
from edge.cases.evidence import Picture, crop_bounds, encode_bounded
from edge.cases.snapshot import PlaceView
from edge.config import CameraConfig, EdgeConfig
from edge.plates import DEFAULT_MODEL, PlateRead, PlateReader, display
from edge.types import CaseMessage, Frame

log = logging.getLogger(__name__)
K = TypeVar("K")  # what a reading is kept under
VEHICLE_MARGIN = 0.08  # the vehicle's box grown by this share per side: detector boxes cut plates short
PLATE_PICTURE_HEIGHT = 120  # the plate picture: the plate enlarged to this height
AWAY_S = 1.0  # a case's vehicle unseen this long and then back is read again: it may be another one
BUSY = "busy"  # the unread reason of a crop the full queue did not take
RETURN_READS = 3  # readings of what stands at a case's place (a candidate at a cleared one's) while none reads a plate


def plates_wanted(config: EdgeConfig) -> bool:
    return any(placed.rule.plates for camera in config.cameras for placed in camera.rules())


class PlateService:
    """One plate reader on its own thread, fed through a bounded queue by every camera's attacher.

    `start`: load the reader now (a bad model is a ModelError before anything is written); a worker
    whose config reads no plates starts it when an edit adds the first plate rule (`start()`)."""

    def __init__(self, config: EdgeConfig, start: bool = True) -> None:
        self._settings = config.plate_reader
        self._jobs: queue.Queue[tuple[np.ndarray, Future[PlateRead]] | None] = queue.Queue(self._settings.queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if start:
            self.start()

    def start(self) -> None:
        """Load the reader and start its thread, once; raises ModelError for a model that cannot be loaded."""
        with self._lock:
            if self._thread is not None:
                return
            settings = self._settings
            model = settings.model or DEFAULT_MODEL
            reader = PlateReader(model, min_char_px=settings.min_char_px, min_confidence=settings.min_confidence)
            self._thread = threading.Thread(target=self._run, args=(reader,), name="plate-reader", daemon=True)
            self._thread.start()

    def submit(self, crop: np.ndarray) -> Future[PlateRead] | None:
        """The reading of `crop` to come, or None when the queue is full (the crop is not read)."""
        future: Future[PlateRead] = Future()
        try:
            self._jobs.put_nowait((crop, future))
        except queue.Full:
            return None
        return future

    def _run(self, reader: PlateReader) -> None:
        while (job := self._jobs.get()) is not None:
            crop, future = job
            try:
                future.set_result(reader.read(crop))
            except Exception as exc:  # a reading that fails must not end the thread: the message goes unread
                log.exception("plate reading failed")
                future.set_exception(exc)

    def close(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            self._jobs.put(None)
            thread.join()


@dataclass(frozen=True, slots=True)
class _Held:
    future: Future[PlateRead] | None
    crop: np.ndarray
    origin: tuple[int, int]  # the crop's top-left corner in the frame
    deadline: float | None


class PlateAttacher:
    """Holds one camera's plate-rule messages until their vehicle's plate is read, then adds it."""

    def __init__(self, service: PlateService, config: EdgeConfig, camera: CameraConfig, wall_bound: bool) -> None:
        self._service = service
        self._wait_s = config.plate_reader.wait_s
        self.wall_bound = wall_bound
        self._rules: set[tuple[str, str]] = set()
        self.reload(camera)
        self._held: dict[str, _Held] = {}
        # identity: a case is its vehicle's plate; another plate at its place is another case
        # case id -> the plate its messages reported; the case engine stores it with the case
        # (`identify`), so after a restart it is taken back from the engine's cases
        self._case_plates: dict[str, str] = {}
        self._learned: list[tuple[str, str]] = []  # plates read for the first time, for the engine to store
        # open cases whose place must be read against their plate (their vehicle is back after an absence,
        # or its plate was read before a restart) -> readings left while none reads a plate
        self._to_check: dict[str, int] = {}
        self._repeats: dict[str, int] = {}  # case id -> its repeat count when last looked at
        self._checks: dict[str, Future[PlateRead]] = {}  # case id -> a reading of what stands at its place now
        self._away: set[str] = set()  # cases whose vehicle was not seen for AWAY_S or more
        self._changed: list[str] = []  # cases whose place shows another plate: they end
        # a cleared case's vehicle back: (case id, candidate place key) -> a reading of the candidate,
        # and the readings left while none reads a plate
        self._returns: dict[tuple[str, str], Future[PlateRead]] = {}
        self._return_reads: dict[tuple[str, str], int] = {}

    def reload(self, camera: CameraConfig) -> None:
        """The camera's rules changed (the operator API): read plates for the rules that ask now (the
        reader starts with the first of them; ModelError when it cannot be loaded)."""
        rules = {(placed.zone.id, placed.rule.id) for placed in camera.rules() if placed.rule.plates}
        if rules:
            self._service.start()
        self._rules = rules

    @property
    def reads_plates(self) -> bool:
        """Whether any of the camera's rules reads plates (else `watch` has nothing to look at)."""
        return bool(self._rules)

    @property
    def wait_s(self) -> float:
        return self._wait_s

    def hold(self, message: CaseMessage, frame: Frame) -> bool:
        """Start reading the plate of a plate rule's "new" or "update" message; False for any other."""
        body = message.body
        if message.is_device_fault or (body["zone"]["id"], body["rule"]["id"]) not in self._rules:
            return False
        if message.kind not in ("new", "update"):
            if message.kind != "cleared" or body["reason"] is not None:  # a vehicle that left may come back
                self._case_plates.pop(message.case_id, None)
            for known in (self._repeats, self._checks, self._to_check):
                known.pop(message.case_id, None)
            self._away.discard(message.case_id)
            return False
        self._read(message, *vehicle_crop(frame, body["detection"]["box"]))
        return True

    def _read(self, message: CaseMessage, crop: np.ndarray, origin: tuple[int, int]) -> _Held:
        """Start reading the plate of `message`'s vehicle in `crop` (its top-left corner at `origin`)."""
        deadline = time.monotonic() + self._wait_s if self.wall_bound else None
        held = self._held[message.message_id] = _Held(self._service.submit(crop), crop, origin, deadline)
        return held

    def _read_stored(self, message: CaseMessage) -> _Held | None:
        """A plate rule's message stored before its plate was added (a crash, or a stop while the outbox
        refused it: a full disk) is read on its own crop picture: the frame is gone, the picture is not."""
        body = message.body
        if (
            message.is_device_fault
            or message.kind not in ("new", "update")
            or "plate" in body["detection"]
            or (body["zone"]["id"], body["rule"]["id"]) not in self._rules
        ):
            return None
        entry = next((e for e in body["evidence"] if e["kind"] == "crop" and e["name"] in message.pictures), None)
        if entry is None:
            return None
        picture = cv2.imdecode(np.frombuffer(message.pictures[entry["name"]], np.uint8), cv2.IMREAD_COLOR)
        frame_size = body["detection"]["frame"]
        left, top, right, bottom = crop_bounds(frame_size["width"], frame_size["height"], body["detection"]["box"])
        if picture is None:
            return None
        if picture.shape[:2] != (bottom - top, right - left):  # a picture made smaller to fit evidence_max_kb
            picture = cv2.resize(picture, (right - left, bottom - top), interpolation=cv2.INTER_CUBIC)
        held = self._read(message, picture, (left, top))
        if held.future is not None and self.wall_bound:
            # waited for here, once per such message (mostly at the start, before the camera's first frame):
            # no later frame may come to release it (a camera that stays down)
            wait([held.future], timeout=self._wait_s)
        return held

    def watch(self, frame: Frame, cases: CaseEngine) -> None:
        """Tell the case engine what the plates at its places say: an open case whose place now shows
        another plate than the one reported ends (the vehicle there is timed as a new case); a candidate
        carrying the plate of a case cleared within its rule's `re_report_s` reopens that case when it
        confirms. A vehicle seen again after an absence (its case's repeat count grew) is read once
        more; the same plate keeps its case."""
        watched = set()
        for zone in cases.snapshot().zones:
            for rule in zone.rules:
                if (zone.zone_id, rule.rule_id) in self._rules:
                    for case in rule.open_cases:
                        watched.add(case.case_id)
                        if case.plate is not None and case.case_id not in self._case_plates:
                            # read before a restart: the vehicle there now may have changed meanwhile
                            self._case_plates[case.case_id] = case.plate
                            self._to_check[case.case_id] = RETURN_READS
                        self._look_again(frame, case.case_id, case.repeat_count, rule.places)
        for back in cases.comebacks():
            watched.add(back.case_id)
            if back.plate is not None:
                self._case_plates.setdefault(back.case_id, back.plate)
            self._read_return(frame, back)
        self._case_plates = {k: v for k, v in self._case_plates.items() if k in watched}
        self._to_check = {k: v for k, v in self._to_check.items() if k in watched}
        self._return_reads = {k: v for k, v in self._return_reads.items() if k[0] in watched}
        for case_id, read in self._done(self._checks):
            self._compare(case_id, read)
        for (case_id, place_key), read in self._done(self._returns):
            if read is not None and read.text is not None:
                self._return_reads[case_id, place_key] = 0  # a plate read: no need to read it again
            if read is not None and read.text is not None and read.text == self._case_plates.get(case_id):
                log.info("plate %s back at the place of case %s", read.text, case_id)
                cases.rejoin(case_id, place_key)
        for case_id in self._changed:
            cases.end_case(case_id, "plate_changed")
        self._changed = []
        for case_id, plate in self._learned:
            cases.identify(case_id, plate)
        self._learned = []

    def _done(self, readings: dict[K, Future[PlateRead]]) -> list[tuple[K, PlateRead | None]]:
        """The readings that are done (a replay waits for each: deterministic), taken out of `readings`."""
        out = []
        for key, future in list(readings.items()):
            if not self.wall_bound:
                future.exception()
            if future.done():
                del readings[key]
                out.append((key, future.result() if future.exception() is None else None))
        return out

    def _read_return(self, frame: Frame, back: Comeback) -> None:
        """Read the candidates at a cleared case's place (each at most RETURN_READS times while unread)."""
        if back.case_id not in self._case_plates:
            return  # its plate was never read: identity rests on the look, a return is a new case
        for place_key, box in back.candidates.items():
            key = (back.case_id, place_key)
            self._return_reads.setdefault(key, RETURN_READS)
            self._try_read(frame, box, key, self._returns, self._return_reads)

    def _look_again(self, frame: Frame, case_id: str, repeats: int, places: tuple[PlaceView, ...]) -> None:
        """Read what stands at a case's place when its vehicle is back after an absence, or first seen by
        this run (its plate was read before a restart): up to RETURN_READS readings, one at a time,
        while none reads a plate (a single picture may not show it readably)."""
        before = self._repeats.get(case_id, repeats)
        self._repeats[case_id] = repeats
        place = next((p for p in places if p.case_id == case_id), None)
        if place is None or place.absent_s >= AWAY_S:
            self._away.add(case_id)
            return
        if place.absent_s > 0:
            return
        if case_id in self._away or repeats > before:  # back: it may be another vehicle
            self._away.discard(case_id)
            self._to_check[case_id] = RETURN_READS
        if case_id in self._case_plates:
            self._try_read(frame, place.box, case_id, self._checks, self._to_check)

    def _try_read(
        self, frame: Frame, box: Sequence[float], key: K, pending: dict[K, Future[PlateRead]], left: dict[K, int]
    ) -> None:
        """Read the vehicle in `box` under `key`, unless a reading is under way or none is `left` for it."""
        if key in pending or left.get(key, 0) <= 0:
            return
        future = self._service.submit(vehicle_crop(frame, box)[0])
        if future is not None:
            pending[key] = future
            left[key] -= 1

    def _compare(self, case_id: str, read: PlateRead | None) -> None:
        """Remember a case's plate; a confident reading of another plate at its place ends the case."""
        if read is None or read.text is None:
            return
        self._to_check.pop(case_id, None)
        known = self._case_plates.setdefault(case_id, read.text)
        if known == read.text:
            self._learned.append((case_id, known))
        else:
            log.info("another plate at the place of case %s: %s, not %s", case_id, read.text, known)
            self._changed.append(case_id)
            del self._case_plates[case_id]

    def waiting(self, message: CaseMessage, force: bool) -> bool:
        """Whether `message` must still wait for its plate (a replay waits here until it is read)."""
        held = self._held.get(message.message_id) or (None if force else self._read_stored(message))
        if held is None or held.future is None or held.future.done() or force:
            return False
        if not self.wall_bound:
            held.future.exception()  # blocks until the reading is done
            return False
        return time.monotonic() < (held.deadline or 0.0)

    def release(self, message: CaseMessage) -> CaseMessage:
        """The message with `detection.plate` and, when a plate was found, the enlarged plate picture.

        Its reading is kept until the sink has taken the message (`sent`): a message the sink refused
        (a full disk) goes again, later, with the same plate."""
        held = self._held.get(message.message_id)
        if held is None:
            return message
        future = held.future
        read = future.result() if future is not None and future.done() and future.exception() is None else None
        self._compare(message.case_id, read)
        full = next((e for e in message.body["evidence"] if e["kind"] == "full"), None)
        plate = plate_entry(read, held.origin, full["name"] if full else None, busy=future is None)
        pictures = dict(message.pictures)
        evidence = list(message.body["evidence"])
        if read is not None and read.box is not None and full is not None:
            picture = plate_picture(held.crop, read.box, f"{message.seq:02d}-plate.jpg", full)
            pictures[picture.name] = picture.jpeg
            evidence.append(picture.entry())
        detection = {**message.body["detection"], "plate": plate}
        body = {**message.body, "detection": detection, "evidence": evidence}
        return CaseMessage(message.case_id, message.seq, message.kind, body, pictures)

    def sent(self, message: CaseMessage) -> None:
        """The sink holds `message` now: its reading is no longer needed."""
        self._held.pop(message.message_id, None)


def vehicle_crop(frame: Frame, box: Sequence[float]) -> tuple[np.ndarray, tuple[int, int]]:
    """The vehicle's box, grown by a margin, cut from the full-resolution frame; and its top-left corner."""
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * VEHICLE_MARGIN, (y1 - y0) * VEHICLE_MARGIN
    left, top = max(0, int(x0 - mx)), max(0, int(y0 - my))
    right, bottom = min(frame.width, int(x1 + mx) + 1), min(frame.height, int(y1 + my) + 1)
    return frame.image[top:bottom, left:right].copy(), (left, top)


def plate_entry(read: PlateRead | None, origin: tuple[int, int], picture: str | None, busy: bool) -> dict[str, Any]:
    """`detection.plate` (docs/case-contract.md): the plate, or why there is none; boxes in frame pixels."""
    if read is None:
        reason = BUSY if busy else "timeout"
        return {"text": None, "display": None, "confidence": 0.0, "box": None, "char_px": None,
                "picture": picture, "unread": reason}  # fmt: skip
    box = None
    if read.box is not None:
        x0, y0, x1, y1 = read.box
        box = [float(x0 + origin[0]), float(y0 + origin[1]), float(x1 + origin[0]), float(y1 + origin[1])]
    return {
        "text": read.text,
        "display": display(read.text) if read.text else None,
        "confidence": round(read.confidence, 4),
        "box": box,
        "char_px": round(read.char_px, 1),
        "picture": picture,
        "unread": None if read.unread is None else str(read.unread),
    }


def plate_picture(crop: np.ndarray, box: tuple[int, int, int, int], name: str, full: dict[str, Any]) -> Picture:
    """The plate region, with a margin, enlarged so a dispatcher reads it at a glance."""
    x0, y0, x1, y1 = box
    pad = max(2, (y1 - y0) // 3)
    region = crop[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
    scale = PLATE_PICTURE_HEIGHT / max(1, region.shape[0])
    enlarged = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    jpeg, width, height = encode_bounded(enlarged, 64)
    return Picture(name, "plate", jpeg, full["taken_at"], full["media_s"], width, height)
