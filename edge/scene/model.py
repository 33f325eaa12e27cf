"""The scene model of one camera: what the pipeline calls once per analysed frame.

It works on a small copy of the frame (at least `work_width` pixels wide), so it costs a fraction of a
detector inference. Order per frame: learn the background (warm-up), compare the frame with
it, judge tamper, and only when the view can be trusted adopt the frame and advance the static
objects. From the first tampered frame (before it is reported) until the tamper has ended
nothing is learned, so a covered or moved view neither pollutes the background nor ends
objects; they come back as they were once the view returns.

The camera's mode (day, low light, infrared) is read from each frame. A switch between the colour
and the infrared (grey) picture changes how every surface looks, so it re-bases the background: a
new one is learned over `rebase_s` while the static objects are kept as they were (nothing is
reported new or ended meanwhile), and after it they go on against the ground filled in around them.
The tamper check then judges the view against the usual look of that mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.config.scene import SceneConfig
from edge.scene.background import Background
from edge.scene.objects import ClassEvidence, StaticObjects
from edge.scene.photometry import CameraMode, camera_mode, gradient, structure_similarity
from edge.scene.tamper import TamperDetector, TamperStatus
from edge.scene.views import downscale
from edge.types import Detections, Frame


@dataclass(frozen=True, slots=True)
class SceneUpdate:
    """What the scene model says about one analysed frame.

    static_objects: persistent new objects in frame pixels. class_id is the detector class whose
    boxes covered the object most of the time, else -1 (class-agnostic); tracker_id and
    data["object_id"] (int64) are the object's stable id; data["first_seen"] (float64) the
    media time it appeared; data["area_fraction"] (float32) its pixel area over the frame's;
    confidence the fraction of its pixels still differing from the background.
    tamper: whether the view can be trusted. learning: the first background is still being
    learned (nothing is reported yet). mode: the camera's picture now (day, low_light or
    infrared); mode_changes: how many times it changed since the model started.
    """

    static_objects: Detections
    tamper: TamperStatus
    learning: bool = False
    mode: CameraMode = "day"
    mode_changes: int = 0


class SceneModel:
    """Long-term background, static new objects and camera tamper for one camera."""

    def __init__(self, camera_id: str, config: SceneConfig) -> None:
        self.camera_id = camera_id
        self.config = config
        self._size: tuple[int, int] | None = None  # (width, height) of incoming frames
        self._last_time: float | None = None
        self._names: tuple[list[str], np.ndarray] = ([], np.zeros(0, np.int32))
        self._rebase_requested = False
        self.mode: CameraMode = "day"
        self.mode_changes = 0
        self._reset()

    def rebase(self) -> None:
        """Forget the view: learn a new background and reference, drop objects and tamper state.

        For an operator who accepts a re-aimed camera's new view (or today's clutter) as normal.
        Takes effect at the next `update`, so the API may call it from its own thread.
        """
        self._rebase_requested = True

    def _reset(self) -> None:
        self._rebase_requested = False
        c = self.config
        self._background = Background(c.warmup_s, c.background_tau_s, c.diff_threshold)
        self._objects = StaticObjects(c.static_after_s, c.min_area_fraction, c.present_fraction, c.min_new_structure)
        self._classes = ClassEvidence(max(c.static_after_s / 3.0, 1.0))
        self._tamper = TamperDetector(
            c.tamper_confirm_s,
            c.background_tau_s,
            c.move_threshold,
            c.moved_changed_fraction,
            c.cover_contrast,
            c.blur_ratio,
        )
        self._unwatched = False  # frames went by without being adopted (tamper)
        self._picture = "colour"  # the background's picture: "colour" or "infrared"
        self._relearning = False  # a new background for another picture is being learned

    def _relearn(self) -> None:
        """The camera switched between colour and infrared: learn the view again, keep the objects."""
        c = self.config
        self._background = Background(c.rebase_s, c.background_tau_s, c.diff_threshold)
        self._relearning = True
        self._unwatched = True

    def _read_mode(self, small: np.ndarray) -> CameraMode:
        """The mode of this uint8 view; day and low light switch with 20% hysteresis on the level."""
        c = self.config
        level = c.low_light_level * (1.2 if self.mode == "low_light" else 1.0)
        mode = camera_mode(small, c.infrared_chroma, level)
        if mode != self.mode:
            self.mode, self.mode_changes = mode, self.mode_changes + 1
        return mode

    def update(self, frame: Frame, detections: Detections, class_names: list[str]) -> SceneUpdate:
        """Advance with one analysed frame and its detections (classes named by `class_names`)."""
        if self._rebase_requested:
            self._reset()
        self._check(frame)
        t = self._clock(frame.media_time)
        small = downscale(frame.image, self.config.work_width)
        picture = "infrared" if self._read_mode(small) == "infrared" else "colour"
        background = self._background
        if background.learning:
            if not background.learn(small.astype(np.float32), t):
                return self._update(frame, class_names, self._tamper.status, learning=not self._relearning)
            self._picture = picture
            self._tamper.start(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32), t, picture)
            if self._relearning and len(self._objects.ids):
                background.keep_objects(np.any(self._objects.masks, axis=0), t)
            self._relearning = False
            return self._update(frame, class_names, self._tamper.status)
        assert background.image is not None
        change = background.compare(small, self.config.move_threshold * small.shape[1])
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        reference = cv2.cvtColor(background.image, cv2.COLOR_BGR2GRAY)
        aligned = cv2.cvtColor(change.normalised, cv2.COLOR_BGR2GRAY)
        similarity = structure_similarity(gradient(aligned), gradient(reference))
        if picture != self._picture and self._tamper.look(grey, similarity).kind == "none":
            self._relearn()  # colour <-> infrared: not tamper, not new objects, a new reference
            return self._update(frame, class_names, self._tamper.status)
        verdict = self._tamper.measure(grey, change.displacement, change.changed, similarity)
        status = self._tamper.update(verdict, t)
        if verdict.kind != "none" or status.active:
            self._unwatched = True
            return self._update(frame, class_names, status)
        dt = t - (background.last_time if background.last_time is not None else t)
        scale = np.array([small.shape[1] / frame.width, small.shape[0] / frame.height] * 2, np.float32)
        self._classes.update(detections.xyxy * scale, detections.class_id, small.shape[:2], dt)
        background.commit(change, t, resumed=self._unwatched or dt > self.config.static_after_s / 2)
        self._unwatched = False
        self._objects.update(background, change, t)
        return self._update(frame, class_names, status)

    def _update(
        self, frame: Frame, class_names: list[str], tamper: TamperStatus, learning: bool = False
    ) -> SceneUpdate:
        return SceneUpdate(self._report(frame, class_names), tamper, learning, self.mode, self.mode_changes)

    def _check(self, frame: Frame) -> None:
        image = frame.image
        if frame.camera_id != self.camera_id:
            raise ValueError(f"scene model of camera {self.camera_id!r} got a frame of camera {frame.camera_id!r}")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"camera {self.camera_id!r}: the scene model needs (H, W, 3) uint8 BGR frames, "
                f"got shape {image.shape} of {image.dtype}"
            )
        if not np.isfinite(frame.media_time):
            raise ValueError(f"camera {self.camera_id!r}: frame media_time {frame.media_time} is not a number")
        if min(image.shape[:2]) < 16:
            raise ValueError(f"camera {self.camera_id!r}: frame {image.shape[1]}x{image.shape[0]} is too small")
        if self._size != (frame.width, frame.height):
            if self._size is not None:
                self._reset()  # a new resolution is a new view: learn it again
            self._size = (frame.width, frame.height)

    def _clock(self, media_time: float) -> float:
        """Media time, with stored times moved back when the source's clock restarts."""
        if self._last_time is not None and media_time < self._last_time:
            delta = media_time - self._last_time
            self._background.shift_times(delta)
            self._objects.shift_times(delta)
            self._tamper.shift_times(delta)
        self._last_time = media_time
        return media_time

    def _report(self, frame: Frame, class_names: list[str]) -> Detections:
        objects = self._objects
        if not len(objects.ids):  # the same columns as always, so consumers never look for keys
            empty = np.zeros(0)
            columns = {"object_id": empty.astype(np.int64), "first_seen": empty, "area_fraction": empty}
            return Detections(np.zeros((0, 4), np.float32), empty, empty, empty, columns)
        height, width = objects.masks.shape[1:]
        classes = self._classes.vote(objects.masks)
        keep = ~np.isin(classes, self._ignored(class_names))
        scale = np.array([frame.width / width, frame.height / height] * 2, np.float32)
        area = objects.masks.sum(axis=(1, 2)) / float(width * height)
        return Detections(
            objects.boxes()[keep] * scale,
            objects.presence[keep],
            classes[keep],
            objects.ids[keep],
            {
                "object_id": objects.ids[keep].copy(),
                "first_seen": objects.first_seen[keep].copy(),
                "area_fraction": area[keep].astype(np.float32),
            },
        )

    def _ignored(self, class_names: list[str]) -> np.ndarray:
        """(M,) int32 ids of the configured ignore_classes in this detector's class list."""
        if self._names[0] != class_names:
            ignore = set(self.config.ignore_classes)
            ids = [i for i, name in enumerate(class_names) if name in ignore]
            self._names = (list(class_names), np.array(ids, np.int32))
        return self._names[1]
