"""Static new objects: blobs of persistent, motionless change, tracked with stable ids.

A pixel is *static* when it has differed from the background for at least `static_after_s`
media seconds and looks the same as in the previous analysed frame: people and traffic
differ only while they pass, and a crowd that keeps a pixel changed keeps it moving too.
Static pixels form blobs; a blob not explained by a known object, and still in the frame
before as well, becomes a new object, unless it is a *ghost* (something that was in the
background has left: the outline is in the background, not in the frame), which is absorbed
into the background instead. An object lasts while enough of its pixels still differ from the
background, through people walking in front of it, and ends when its area returns to background.

Objects are kept as parallel arrays (ids, first-seen times, (K, H, W) masks at working size).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.scene.background import Background, Change
from edge.scene.photometry import new_structure

_MATCH_OVERLAP = 0.5  # share of the smaller of blob/object that must overlap to be the same thing
_CLASS_SHARE = 0.5  # mean detector coverage over an object for it to take the detector's class
_KERNEL = np.ones((3, 3), np.uint8)


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _gradient(grey: np.ndarray) -> np.ndarray:
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def is_ghost(mask: np.ndarray, frame: np.ndarray, background: np.ndarray) -> bool:
    """True when the blob's outline (H, W) bool is an edge of the background, not of the frame.

    A real new object brings its edges with it; a vanished one leaves its edges in the
    background while the frame shows plain ground there.
    """
    m = mask.astype(np.uint8)
    band = (cv2.dilate(m, _KERNEL) - cv2.erode(m, _KERNEL)).astype(bool)
    return float(_gradient(_grey(background))[band].mean()) > float(_gradient(_grey(frame))[band].mean())


class ClassEvidence:
    """Per-class (H, W) maps of how much of recent media time a detector box covered each pixel."""

    def __init__(self, tau_s: float) -> None:
        self.tau_s = tau_s
        self.maps: dict[int, np.ndarray] = {}

    def update(self, xyxy: np.ndarray, class_id: np.ndarray, shape: tuple[int, int], dt: float) -> None:
        """Fold in one frame's boxes (N, 4) at working scale with classes (N,)."""
        height, width = shape
        alpha = np.float32(1.0 - np.exp(-dt / self.tau_s))
        inside_x = (np.arange(width)[None, :] >= xyxy[:, 0:1]) & (np.arange(width)[None, :] < xyxy[:, 2:3])
        inside_y = (np.arange(height)[None, :] >= xyxy[:, 1:2]) & (np.arange(height)[None, :] < xyxy[:, 3:4])
        inside = inside_y[:, :, None] & inside_x[:, None, :]  # (N, H, W)
        present = {int(c) for c in np.unique(class_id)}
        for c in present | set(self.maps):
            cover = inside[class_id == c].any(axis=0) if c in present else np.zeros(shape, bool)
            current = self.maps.get(c, np.zeros(shape, np.float32))
            current += alpha * (cover - current)
            if c in present or current.max() > 0.02:
                self.maps[c] = current
            else:
                del self.maps[c]

    def vote(self, masks: np.ndarray) -> np.ndarray:
        """(K,) int32 class covering most of each mask (K, H, W) most of the time, else -1."""
        votes = np.full(len(masks), -1, np.int32)
        if not self.maps or not len(masks):
            return votes
        classes = np.array(list(self.maps), np.int32)
        stack = np.stack(list(self.maps.values()))  # (C, H, W)
        area = np.maximum(masks.sum(axis=(1, 2)), 1)
        share = np.einsum("khw,chw->kc", masks.astype(np.float32), stack) / area[:, None]
        best = share.argmax(axis=1)
        confident = share[np.arange(len(masks)), best] >= _CLASS_SHARE
        votes[confident] = classes[best[confident]]
        return votes


class StaticObjects:
    """The static objects of one view, as parallel arrays, with stable ids."""

    def __init__(
        self, static_after_s: float, min_area_fraction: float, present_fraction: float, min_new_structure: float
    ) -> None:
        self.static_after_s = static_after_s
        self.min_new_structure = min_new_structure
        self.min_area_fraction = min_area_fraction
        self.present_fraction = present_fraction
        self.next_id = 1
        self.ids = np.zeros(0, np.int64)
        self.first_seen = np.zeros(0, np.float64)
        self.presence = np.zeros(0, np.float32)
        self.masks = np.zeros((0, 0, 0), bool)
        self._still_before: np.ndarray | None = None  # (H, W) bool, changed and still in the last frame

    def _keep(self, keep: np.ndarray) -> None:
        self.ids, self.first_seen = self.ids[keep], self.first_seen[keep]
        self.presence, self.masks = self.presence[keep], self.masks[keep]

    def update(self, background: Background, change: Change, t: float) -> None:
        """Advance with a committed frame: end returned objects, grow known ones, start new ones."""
        assert background.image is not None and background.changed_since is not None  # a learned background
        changed = change.changed
        if len(self.ids):
            area = self.masks.sum(axis=(1, 2))
            self.presence = ((self.masks & changed).sum(axis=(1, 2)) / np.maximum(area, 1)).astype(np.float32)
            present = self.presence >= self.present_fraction
            background.restart(np.any(self.masks[~present], axis=0), t)
            self._keep(present)
        still = changed & change.still
        still_before, self._still_before = self._still_before, still
        static = still & (background.age(t) >= self.static_after_s)
        static = cv2.morphologyEx(static.astype(np.uint8), cv2.MORPH_OPEN, _KERNEL)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(static, connectivity=8)
        blob_area = stats[:, cv2.CC_STAT_AREA]
        big = blob_area >= max(4.0, self.min_area_fraction * changed.size)
        big[0] = False  # label 0 is the unchanged rest of the view
        if not big.any():
            return
        claimed = self._match(labels, count, blob_area, big, changed)
        for label in np.flatnonzero(big & ~claimed):
            blob = labels == label
            # Still in two analysed frames in a row, so one still moment in passing traffic isn't enough.
            if still_before is None or (blob & still_before).sum() < _MATCH_OVERLAP * blob_area[label]:
                continue
            if is_ghost(blob, change.normalised, background.image) or not self._is_object(blob, change, background):
                background.absorb(blob, change)
            else:
                self._add(blob, float(np.nanmedian(background.changed_since[blob])))

    def _is_object(self, blob: np.ndarray, change: Change, background: Background) -> bool:
        """New edges that stay (in the view of the last seconds, without rain streaks or grain): not a
        region whose light or wetness changed while its texture stayed."""
        assert background.image is not None
        recent, image = background.recent(), background.image
        # Per channel: a bag of another colour than the ground may have the ground's grey level.
        found = max(new_structure(blob, recent[..., c], image[..., c]) for c in range(3))
        return found >= self.min_new_structure

    def _match(
        self, labels: np.ndarray, count: int, blob_area: np.ndarray, big: np.ndarray, changed: np.ndarray
    ) -> np.ndarray:
        """Give each blob to the oldest object it overlaps (people in front split an object into
        several blobs); an object lying mostly in blobs of an older one is merged into it."""
        owner = np.full(count, -1)
        if not len(self.ids):
            return owner >= 0
        k = len(self.ids)
        flat = (np.arange(k)[:, None, None] * count + labels[None]).reshape(-1)
        overlap = np.bincount(flat[self.masks.reshape(-1)], minlength=k * count).reshape(k, count)
        area = self.masks.sum(axis=(1, 2))
        match = overlap >= _MATCH_OVERLAP * np.minimum(area[:, None], blob_area[None, :])
        match[:, ~big] = False
        keep = np.ones(k, bool)
        for i in np.argsort(self.first_seen, kind="stable"):  # oldest first: it keeps its id
            if overlap[i, match[i] & (owner >= 0)].sum() >= _MATCH_OVERLAP * area[i]:
                keep[i] = False  # it grew together with an older object: the older one goes on
                continue
            mine = match[i] & (owner < 0)
            if mine.any():
                owner[mine] = i
                self.masks[i] = mine[labels] | (self.masks[i] & changed)
        self._keep(keep)
        return owner >= 0

    def _add(self, blob: np.ndarray, first_seen: float) -> None:
        self.masks = blob[None] if not len(self.ids) else np.concatenate([self.masks, blob[None]])
        self.ids = np.append(self.ids, self.next_id)
        self.first_seen = np.append(self.first_seen, first_seen)
        self.presence = np.append(self.presence, np.float32(1.0))
        self.next_id += 1

    def boxes(self) -> np.ndarray:
        """(K, 4) float32 xyxy of the objects' masks, in working-size pixels."""
        rows, cols = np.any(self.masks, axis=2), np.any(self.masks, axis=1)
        height, width = self.masks.shape[1:]
        y1, y2 = rows.argmax(axis=1), height - rows[:, ::-1].argmax(axis=1)
        x1, x2 = cols.argmax(axis=1), width - cols[:, ::-1].argmax(axis=1)
        return np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)

    def shift_times(self, delta: float) -> None:
        self.first_seen = self.first_seen + delta
