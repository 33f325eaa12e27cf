"""Bystander privacy: heads and faces of people who are not the subject of a case are blurred in its pictures.

A case needs its violating object, not the faces of passers-by (face data is sensitive personal
information under PIPL). What is blurred, from what the box already has:

- the head of every detected person who is not a subject: the top `head_fraction` of the person's
  box (widened a little, and a little above the box, which often cuts the top of the head);
- faces OpenCV's bundled frontal-face Haar cascade finds (people the detector missed), unless they
  lie inside a subject's box; OpenCV 5 ships no cascades, so with it (as installed here) only the
  detector's heads are blurred (a warning says so at start);
- the plates of detected vehicles that are not the subject (`plates`, on by default): the plate band
  (lower middle of the box) and whatever plate-like boxes the plate stage's localiser finds in it.

A subject is a detected object whose box overlaps one of the case's boxes (IoU >= 0.5), or a
person box lying mostly inside a subject person's (a second detection of them): the person of a
0501 vendor case; for a 0505 vehicle case the vehicle, so every person is a bystander. A
person subject's box is left untouched (what the dispatcher must see). Limits, honestly: a person
the detector misses whose face the cascade also misses (profile views, looking down, heads under
~20 px, strong backlight) stays visible; a head-and-shoulders box cut off by the frame edge gets a
head band that may miss the face; a bystander's head inside the subject's box stays visible;
a plate outside the band that the localiser also misses (an unusual panel, a dirty plate) stays visible.
Blurring happens before a picture is encoded: the unblurred picture is never written anywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.config.evidence import PrivacyConfig
from edge.plates import locate
from edge.types import Detections, Frame
from edge.zones.geometry import box_iou

log = logging.getLogger(__name__)
PERSON = "person"
VEHICLES = frozenset({"car", "truck", "bus", "motorcycle"})
SUBJECT_IOU = 0.5
CASCADE = "haarcascade_frontalface_default.xml"
_NONE = np.zeros((0, 4), np.float32)


@dataclass(frozen=True, slots=True)
class Bystanders:
    """The people and vehicles detected in one frame (any of them may turn out to be a case's subject)."""

    people: np.ndarray  # (N, 4) pixel boxes
    vehicles: np.ndarray  # (V, 4)


def bystanders(detections: Mapping[str, Detections], names: Mapping[str, Sequence[str]]) -> Bystanders:
    """Person and vehicle boxes of every model's detections of one frame."""
    people, vehicles = [_NONE], [_NONE]
    for model_id, dets in detections.items():
        labels = np.asarray([*names.get(model_id, ()), ""], dtype=object)  # "": an id outside the list
        known = (dets.class_id >= 0) & (dets.class_id < len(labels) - 1)
        label = labels[np.where(known, dets.class_id, len(labels) - 1)]
        people.append(dets.xyxy[label == PERSON])
        vehicles.append(dets.xyxy[np.isin(label, list(VEHICLES))])
    return Bystanders(np.concatenate(people), np.concatenate(vehicles))


class Redactor:
    """Blurs bystanders in evidence pictures (evidence.privacy)."""

    def __init__(self, config: PrivacyConfig) -> None:
        self._config = config
        self._faces = face_cascade() if config.face_cascade else None

    def frame(self, frame: Frame, seen: Bystanders | None, subjects: np.ndarray) -> Frame:
        """`frame` with its bystanders blurred (the pictures of a case with boxes `subjects` are made from it)."""
        if seen is None:
            return frame
        return dataclasses.replace(frame, image=self.image(frame.image, seen, subjects))

    def image(self, image: np.ndarray, seen: Bystanders, subjects: np.ndarray) -> np.ndarray:
        """A copy of `image` with the non-subjects' heads, faces (and plates) blurred; subject people untouched."""
        subjects = np.asarray(subjects, np.float32).reshape(-1, 4)
        keep = _matching(seen.people, subjects)
        keep |= _within(seen.people, seen.people[keep], 0.8)  # a second, smaller box of the subject person
        kept = seen.people[keep]
        regions = [heads(seen.people[~keep], self._config.head_fraction)]
        if self._faces is not None:
            faces = self._detect_faces(image)
            regions.append(faces[~_within(faces, kept, 0.5)])
        if self._config.plates:
            others = seen.vehicles[~_matching(seen.vehicles, subjects)]
            regions += [plates(others), found_plates(image, others)]
        out = image.copy()
        h, w = image.shape[:2]
        for x1, y1, x2, y2 in _pixels(np.concatenate(regions), w, h):
            out[y1:y2, x1:x2] = blur(out[y1:y2, x1:x2])
        for x1, y1, x2, y2 in _pixels(kept, w, h):
            out[y1:y2, x1:x2] = image[y1:y2, x1:x2]  # the subject exactly as the camera saw it
        return out

    def _detect_faces(self, image: np.ndarray) -> np.ndarray:
        assert self._faces is not None
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        found = self._faces.detectMultiScale(gray, scaleFactor=1.15, minNeighbors=4, minSize=(20, 20))
        if not len(found):
            return _NONE
        xywh = np.asarray(found, np.float32).reshape(-1, 4)
        return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def face_cascade() -> Any:
    """OpenCV's bundled frontal-face cascade (one per caller: a classifier is not shared between threads).

    A cv2.CascadeClassifier, or None: OpenCV 5 has neither the class nor its type, so none is named here."""
    path = _cascade_path()
    return None if path is None else cv2.CascadeClassifier(str(path))  # type: ignore[attr-defined]


@functools.cache
def _cascade_path() -> Path | None:
    """Where the installed OpenCV keeps the cascade; None (said once) where it has none: 5.x ships none."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = Path(folder) / CASCADE
    if not folder or not hasattr(cv2, "CascadeClassifier") or not path.is_file():
        log.warning("evidence.privacy: OpenCV %s has no %s; blurring detected heads only", cv2.__version__, CASCADE)
        return None
    return path


def heads(people: np.ndarray, fraction: float) -> np.ndarray:
    """(N, 4) head regions: the top `fraction` of each box, 10 % wider each side and 5 % above it."""
    w, h = people[:, 2] - people[:, 0], people[:, 3] - people[:, 1]
    top = people[:, 1] - 0.05 * h
    return np.stack([people[:, 0] - 0.1 * w, top, people[:, 2] + 0.1 * w, people[:, 1] + fraction * h], axis=1)


def plates(vehicles: np.ndarray) -> np.ndarray:
    """(V, 4) plate bands: the middle half of each vehicle box's width, 60-95 % of its height."""
    w, h = vehicles[:, 2] - vehicles[:, 0], vehicles[:, 3] - vehicles[:, 1]
    x1, y1 = vehicles[:, 0], vehicles[:, 1]
    return np.stack([x1 + 0.25 * w, y1 + 0.6 * h, x1 + 0.75 * w, y1 + 0.95 * h], axis=1)


def found_plates(image: np.ndarray, vehicles: np.ndarray) -> np.ndarray:
    """(P, 4) plate-like boxes the plate stage's localiser finds inside each vehicle box (any view)."""
    found = [_NONE]
    for x1, y1, x2, y2 in _pixels(vehicles, image.shape[1], image.shape[0]):
        boxes = [c.box for c in locate(image[y1:y2, x1:x2], max_candidates=2)]
        found.append(np.asarray(boxes, np.float32).reshape(-1, 4) + np.array([x1, y1, x1, y1], np.float32))
    return np.concatenate(found)


def blur(region: np.ndarray) -> np.ndarray:
    """Pixelate to blocks of about an eighth of the region, then soften: no face detail survives."""
    h, w = region.shape[:2]
    small = cv2.resize(region, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = max(3, (min(w, h) // 4) | 1)
    return cv2.GaussianBlur(coarse, (k, k), 0)


def _matching(boxes: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    if not len(boxes) or not len(subjects):
        return np.zeros(len(boxes), bool)
    return box_iou(boxes, subjects).max(axis=1) >= SUBJECT_IOU


def _within(boxes: np.ndarray, areas: np.ndarray, fraction: float) -> np.ndarray:
    """Rows of `boxes` with at least `fraction` of their area inside one of `areas`."""
    if not len(boxes) or not len(areas):
        return np.zeros(len(boxes), bool)
    tl = np.maximum(boxes[:, None, :2], areas[None, :, :2])
    br = np.minimum(boxes[:, None, 2:], areas[None, :, 2:])
    inside = np.prod(np.clip(br - tl, 0, None), axis=2)
    own = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1e-6, None), axis=1)
    return (inside / own[:, None]).max(axis=1) >= fraction


def _pixels(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer boxes clipped to the frame, empty ones left out."""
    px = np.round(boxes).astype(np.int64).reshape(-1, 4)
    px[:, [0, 2]] = np.clip(px[:, [0, 2]], 0, width)
    px[:, [1, 3]] = np.clip(px[:, [1, 3]], 0, height)
    return px[(px[:, 2] > px[:, 0]) & (px[:, 3] > px[:, 1])]
