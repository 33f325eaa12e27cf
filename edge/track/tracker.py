"""IoU tracker: gives each detection a `tracker_id` that stays the same across analysed frames.

Association is greedy on a score matrix (IoU against each track's motion-predicted box), class by
class, so a car track never takes a person box. At 1-2 analysed frames per second a walking person
can move more than a box width between frames, so a second pass accepts pairs whose centres are
within `max_distance` box sizes. Tracks that miss frames survive `max_gap_s` of media time, which
bridges short occlusions and missed detections. Rules never depend on these ids alone: the case
stage keys dwell to places, so an id switch cannot split a violation.
"""

from __future__ import annotations

import numpy as np

from edge.config.tracking import TrackerConfig
from edge.types import Detections
from edge.zones.geometry import box_iou, greedy_match, unmatched


class Tracker:
    """Fills `Detections.tracker_id` for one camera; feed it frames in media-time order."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        config = config or TrackerConfig()
        self.iou_threshold = config.iou_threshold
        self.max_distance = config.max_distance
        self.max_gap_s = config.max_gap_s
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (media time went backwards: a reconnect or a new clip); ids keep rising."""
        self._boxes = np.zeros((0, 4), np.float32)
        self._velocity = np.zeros((0, 4), np.float32)  # pixels per second, per box edge
        self._class = np.zeros(0, np.int32)
        self._ids = np.zeros(0, np.int64)
        self._last = np.zeros(0, np.float64)
        self._time: float | None = None

    def update(self, dets: Detections, t: float) -> Detections:
        """Assign ids to `dets` seen at media time `t` (seconds); returns a copy with `tracker_id`."""
        if self._time is not None and t < self._time:
            self.reset()
        self._time = t
        alive = (t - self._last) <= self.max_gap_s
        self._keep(alive)
        rows, cols = self._associate(dets, t)
        ids = np.full(len(dets), -1, np.int64)
        ids[cols] = self._ids[rows]
        if len(rows):
            dt = np.maximum(t - self._last[rows], 1e-3)[:, None]
            measured = (dets.xyxy[cols] - self._boxes[rows]) / dt
            self._velocity[rows] = 0.5 * self._velocity[rows] + 0.5 * measured
            self._boxes[rows] = dets.xyxy[cols]
            self._last[rows] = t
        fresh = np.flatnonzero(unmatched(len(dets), cols))
        new_ids = np.arange(self._next_id, self._next_id + len(fresh), dtype=np.int64)
        self._next_id += len(fresh)
        ids[fresh] = new_ids
        self._boxes = np.concatenate([self._boxes, dets.xyxy[fresh]])
        self._velocity = np.concatenate([self._velocity, np.zeros((len(fresh), 4), np.float32)])
        self._class = np.concatenate([self._class, dets.class_id[fresh]])
        self._ids = np.concatenate([self._ids, new_ids])
        self._last = np.concatenate([self._last, np.full(len(fresh), t)])
        return dets.with_tracker_id(ids)

    def _keep(self, mask: np.ndarray) -> None:
        self._boxes, self._velocity = self._boxes[mask], self._velocity[mask]
        self._class, self._ids, self._last = self._class[mask], self._ids[mask], self._last[mask]

    def _associate(self, dets: Detections, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Greedy IoU pass, then a centre-distance pass for what is left; returns (track rows, det rows)."""
        if not len(dets) or not len(self._ids):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        predicted = self._boxes + self._velocity * (t - self._last)[:, None].astype(np.float32)
        same_class = self._class[:, None] == dets.class_id[None, :]
        iou = np.where(same_class, box_iou(predicted, dets.xyxy), 0.0)
        rows, cols = greedy_match(iou, self.iou_threshold)
        left_t = np.flatnonzero(unmatched(len(self._ids), rows))
        left_d = np.flatnonzero(unmatched(len(dets), cols))
        if self.max_distance > 0 and len(left_t) and len(left_d):
            p, d = predicted[left_t], dets.xyxy[left_d]
            centre_p = (p[:, :2] + p[:, 2:]) / 2
            centre_d = (d[:, :2] + d[:, 2:]) / 2
            size = np.sqrt(np.prod(np.clip(p[:, 2:] - p[:, :2], 1.0, None), axis=1))
            dist = np.linalg.norm(centre_p[:, None, :] - centre_d[None, :, :], axis=2) / size[:, None]
            closeness = np.where(same_class[np.ix_(left_t, left_d)], 1.0 / (1.0 + dist), 0.0)
            r2, c2 = greedy_match(closeness, 1.0 / (1.0 + self.max_distance))
            rows = np.concatenate([rows, left_t[r2]])
            cols = np.concatenate([cols, left_d[c2]])
        return rows, cols
