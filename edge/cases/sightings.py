"""First-sighting pictures: proof of how long an object has stood, kept only for objects that stay.

Every new place holds a reference to the frame it was first seen in (no JPEG encode: passers-by
cost nothing). Once the place has stayed a while (`SETTLE_S`, or a quarter of the rule's minimum
duration) its first frame is encoded with the place's box drawn and written to the store, so a
restart between first sighting and confirmation keeps the picture. Between two visits of a patrol
camera the held frames wait as JPEG (`pack`): a minute of a full picture per passer-by would cost a
box with hundreds of cameras gigabytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from edge.cases.evidence import Picture
from edge.cases.messages import Facts, Sighting, scene_picture
from edge.cases.observe import RuleSpec
from edge.cases.privacy import Bystanders, Redactor
from edge.cases.store import CaseStore, HeldPicture
from edge.types import Frame

PACK_QUALITY = 95  # held first frames packed between patrol visits: re-encoded once more when pictured
SETTLE_S = 5.0  # a place that stays this long (or a quarter of min_duration_s) gets its first-seen picture
PICTURE_NAME = "first_seen"


@dataclass(frozen=True, slots=True)
class _Held:
    frame: Frame
    box: np.ndarray
    label: str
    clock: float
    seen: Bystanders | None  # the frame's people and vehicles, blurred in the picture when privacy is on
    packed: bytes | None = None  # the frame's image as JPEG while it waits between patrol visits (image dropped)


def settle_after_s(min_duration_s: float) -> float:
    return min(min_duration_s / 4, SETTLE_S)


class FirstSightings:
    """Frames of unpictured first sightings, and the pictures of those that settled."""

    def __init__(self, store: CaseStore, redactor: Redactor | None = None) -> None:
        self._store = store
        self._redactor = redactor
        self._held: dict[str, _Held] = {}
        self._pictures: dict[str, Picture] = {}
        # packed first frames decoded during this visit, by the JPEG's identity: places first seen in
        # one picture share its JPEG, and several settle on the same visit
        self._unpacked: dict[int, tuple[bytes, np.ndarray]] = {}

    def hold(
        self, key: str, frame: Frame, box: np.ndarray, label: str, clock: float, seen: Bystanders | None = None
    ) -> None:
        self._held[key] = _Held(frame, box, label, clock, seen)

    def settle(self, facts: Facts, spec: RuleSpec, key: str) -> HeldPicture | None:
        """Encode the place's first frame (once); returns what to store, None if nothing was held."""
        held = self._held.pop(key, None)
        if held is None:
            return None
        seen = Sighting(held.box[None, :], [held.label], np.zeros((0, 4)))
        frame = held.frame
        if held.packed is not None:
            frame = dataclasses.replace(frame, image=self._unpack(held.packed))
        if self._redactor is not None:  # blurred before it is encoded: the clear picture is never stored
            frame = self._redactor.frame(frame, held.seen, held.box[None, :])
        pic = scene_picture(facts, spec, frame, held.clock, name="first_seen.jpg", kind=PICTURE_NAME, seen=seen)
        self._pictures[key] = pic
        meta = {"taken_at": pic.taken_at, "media_s": pic.media_s, "width": pic.width, "height": pic.height}
        return HeldPicture(key, PICTURE_NAME, pic.jpeg, meta)

    def _unpack(self, packed: bytes) -> np.ndarray:
        """A packed first frame's pixels, decoded once a visit however many of its places settle
        (read only: the redactor and the annotation draw on copies)."""
        cached = self._unpacked.get(id(packed))
        if cached is None or cached[0] is not packed:
            image = cv2.imdecode(np.frombuffer(packed, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None, "a packed first frame is a JPEG this worker encoded"
            cached = self._unpacked[id(packed)] = (packed, image)
        return cached[1]

    def picture(self, key: str) -> Picture | None:
        """The place's first-seen picture, from memory or (after a restart) from the store."""
        if key in self._pictures:
            return self._pictures[key]
        saved = self._store.picture(key, PICTURE_NAME)
        if saved is None:
            return None
        jpeg, meta = saved
        return Picture(
            "first_seen.jpg", PICTURE_NAME, jpeg, meta["taken_at"], meta["media_s"], meta["width"], meta["height"]
        )

    def pack(self) -> None:
        """Hold the waiting first frames as JPEG (each frame encoded once, whichever places share it)."""
        self._unpacked.clear()  # between visits a patrol camera holds no pixels
        packed: dict[int, tuple[Frame, bytes]] = {}
        for key, held in self._held.items():
            if held.packed is not None:
                continue
            if id(held.frame) not in packed:
                ok, encoded = cv2.imencode(".jpg", held.frame.image, [cv2.IMWRITE_JPEG_QUALITY, PACK_QUALITY])
                if not ok:
                    continue
                empty = np.zeros((held.frame.height, held.frame.width, 0), np.uint8)  # keeps the size, not the pixels
                packed[id(held.frame)] = (dataclasses.replace(held.frame, image=empty), encoded.tobytes())
            frame, jpeg = packed[id(held.frame)]
            self._held[key] = dataclasses.replace(held, frame=frame, packed=jpeg)

    def forget(self, keys: np.ndarray | list[str]) -> None:
        for key in list(keys):
            self._held.pop(key, None)
            self._pictures.pop(key, None)

    def keep_only(self, keys: set[str]) -> None:
        """After a rollback to the stored state: drop what belongs to places that no longer exist."""
        for key in [k for k in self._held if k not in keys]:
            del self._held[key]
        self._pictures.clear()  # reloaded from the store on demand
        self._unpacked.clear()
