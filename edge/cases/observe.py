"""What each rule kind sees in one frame: pure, vectorised functions from detections to observations.

An observation row is one thing whose persistence a rule measures: an object (dwell,
static_object), a group of objects standing together (combination), or the whole zone while its
count/coverage condition holds (count, occupancy). `match_places` associates rows with the places a
rule is already timing, by position and overlap, never by tracker id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from edge.config.zones import RuleConfig, RuleKind
from edge.types import Detections
from edge.zones.geometry import (
    Point,
    box_iou,
    greedy_match,
    points_in_zone,
    polygon_area,
    suppress_overlaps,
    zone_coverage,
)

AGNOSTIC = "object"  # label (and rule class name) of a static object no detector class explains
ZONE_LEVEL = (RuleKind.COUNT, RuleKind.OCCUPANCY)  # kinds whose one place is the zone: always one case per zone
DUPLICATE_IOU = 0.5  # one vehicle reported as both car and truck is one object
STATIONARY_IOU = 0.5  # a re-sighting overlapping this much is the same place even if its anchor moved
GROUP_REACH = 0.5  # combination members count as together within this many box sizes of each other


def case_per_zone(rule: RuleConfig) -> bool:
    """One open case per zone and rule that later objects join: asked for, or the rule's one place is the zone."""
    return rule.case_per == "zone" or rule.kind in ZONE_LEVEL


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule compiled against its model's class list and its zone."""

    rule: RuleConfig
    polygon: tuple[Point, ...]
    class_ids: np.ndarray | None  # every class id that counts (-1: class-agnostic); None = any
    group_ids: tuple[np.ndarray, ...]  # combination: class ids of each group, the first is the anchor
    names: tuple[str, ...]  # the model's class names

    def label(self, class_id: int) -> str:
        return self.names[class_id] if 0 <= class_id < len(self.names) else AGNOSTIC


@dataclass(frozen=True, slots=True)
class Observation:
    """Rows whose persistence is measured, plus every qualifying detection (drawn as context)."""

    xyxy: np.ndarray  # (M, 4)
    score: np.ndarray  # (M,)
    labels: list[str]
    parts: Detections
    track: np.ndarray  # (M,) tracker id of the row's (anchor) object, -1 for zone rows
    age: np.ndarray  # (M,) seconds the row's object already stood before this frame (scene objects)
    zone_level: bool = False
    measure: float | None = None  # count or coverage for zone-level rules
    anchors: np.ndarray | None = None  # (M, 4) combination: the anchor object's box (whose look must stay)

    @property
    def subjects(self) -> np.ndarray:
        """The box of the thing that must stay, per row: the object itself, or a group's anchor."""
        return self.xyxy if self.anchors is None else self.anchors

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def rows(self, keep: np.ndarray) -> Observation:
        """Only the rows where `keep` is true (every detection stays as context)."""
        if keep.all():
            return self
        anchors = None if self.anchors is None else self.anchors[keep]
        labels = [label for label, k in zip(self.labels, keep.tolist(), strict=True) if k]
        return replace(
            self,
            xyxy=self.xyxy[keep],
            score=self.score[keep],
            labels=labels,
            track=self.track[keep],
            age=self.age[keep],
            anchors=anchors,
        )


def qualifying(dets: Detections, spec: RuleSpec, width: int, height: int) -> Detections:
    """Detections of the rule's classes, score and size whose anchor (bottom centre) is in the zone."""
    rule = spec.rule
    if not len(dets):
        return dets
    mask = dets.confidence >= rule.min_score
    if spec.class_ids is not None:
        mask &= np.isin(dets.class_id, spec.class_ids)
    if rule.min_box_fraction > 0:
        mask &= dets.area / float(width * height) >= rule.min_box_fraction
    if rule.kind == RuleKind.STATIC_OBJECT and rule.min_coverage > 0:  # "a pile larger than X% of the zone"
        mask &= dets.area >= rule.min_coverage * polygon_area(spec.polygon) * width * height
    kept = dets[mask]
    inside = points_in_zone(kept.bottom_center, spec.polygon, width, height)
    return kept[inside]


def distinct(dets: Detections) -> Detections:
    """One row per physical object: class-agnostic suppression of overlapping boxes."""
    return dets[suppress_overlaps(dets.xyxy, dets.confidence, DUPLICATE_IOU)] if len(dets) > 1 else dets


def _sizes(xyxy: np.ndarray) -> np.ndarray:
    return np.sqrt(np.prod(np.clip(xyxy[:, 2:] - xyxy[:, :2], 1.0, None), axis=1))


def group_clusters(dets: Detections, groups: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Combination: anchors (first group) with a member of every other group nearby.

    Returns (union boxes (K, 4), anchor row indices (K,)). "Nearby" means the boxes, each grown by
    GROUP_REACH of its size, overlap. Vectorised over all anchor x member pairs.
    """
    anchors = np.flatnonzero(np.isin(dets.class_id, groups[0]))
    if not len(anchors):
        return np.zeros((0, 4), np.float32), anchors
    grow = (_sizes(dets.xyxy) * GROUP_REACH)[:, None] * np.array([-1, -1, 1, 1], np.float32)
    grown = dets.xyxy + grow
    a, m = grown[anchors][:, None, :], grown[None, :, :]
    touching = (np.minimum(a[..., 2], m[..., 2]) > np.maximum(a[..., 0], m[..., 0])) & (
        np.minimum(a[..., 3], m[..., 3]) > np.maximum(a[..., 1], m[..., 1])
    )
    complete = np.ones(len(anchors), bool)
    members = np.zeros_like(touching)
    for ids in groups[1:]:
        in_group = touching & np.isin(dets.class_id, ids)[None, :]
        complete &= in_group.any(axis=1)
        members |= in_group
    members[np.arange(len(anchors)), anchors] = True
    members, anchors = members[complete], anchors[complete]
    boxes = dets.xyxy
    union = np.stack(
        [
            np.where(members, boxes[None, :, 0], np.inf).min(1),
            np.where(members, boxes[None, :, 1], np.inf).min(1),
            np.where(members, boxes[None, :, 2], -np.inf).max(1),
            np.where(members, boxes[None, :, 3], -np.inf).max(1),
        ],
        axis=1,
    )
    return union.astype(np.float32), anchors


def observe(spec: RuleSpec, dets: Detections, width: int, height: int, media_time: float) -> Observation:
    """The rule's observation rows for one frame (dets: the rule model's or the scene's detections)."""
    rule = spec.rule
    found = qualifying(dets, spec, width, height)
    if rule.kind in (RuleKind.DWELL, RuleKind.STATIC_OBJECT):
        objects = distinct(found)
        labels = [spec.label(int(c)) for c in objects.class_id]
        appeared = objects.data.get("first_seen")
        age = np.zeros(len(objects)) if appeared is None else np.clip(media_time - appeared.astype(np.float64), 0, None)
        return Observation(objects.xyxy, objects.confidence, labels, objects, objects.tracker_id, age)
    if rule.kind == RuleKind.COMBINATION:
        union, anchors = group_clusters(found, spec.group_ids)
        if len(union) > 1:
            keep = suppress_overlaps(union, found.confidence[anchors], DUPLICATE_IOU)
            union, anchors = union[keep], anchors[keep]
        label = "+".join("/".join(group) for group in rule.groups)
        score, track = found.confidence[anchors], found.tracker_id[anchors]
        rows = len(anchors)
        return Observation(union, score, [label] * rows, found, track, np.zeros(rows), anchors=found.xyxy[anchors])
    objects = distinct(found)
    if rule.kind == RuleKind.COUNT:
        measure = float(len(objects))
        met = len(objects) >= rule.min_count
        label = f"{len(objects)} x {'/'.join(sorted({spec.label(int(c)) for c in objects.class_id}))}"
    else:
        measure = zone_coverage(objects.xyxy, spec.polygon, width, height)
        met = measure >= rule.min_coverage
        label = f"{measure:.0%} covered"
    rows = 1 if met and len(objects) else 0
    union = np.zeros((0, 4), np.float32)
    if rows:
        union = np.concatenate([objects.xyxy[:, :2].min(0), objects.xyxy[:, 2:].max(0)])[None, :]
    return Observation(
        union,
        np.array([objects.confidence.mean()] if rows else [], np.float32),  # no mean of an empty zone
        [label] * rows,
        objects,
        np.full(rows, -1, np.int64),
        np.zeros(rows),
        zone_level=True,
        measure=measure,
    )


def position_scores(ref: np.ndarray, boxes: np.ndarray, tolerance: float) -> np.ndarray:
    """(places, rows) closeness: > 0 where a sighting is at a place: its anchor stayed within `tolerance`
    place sizes of the place's anchor, or its box overlaps the place's by STATIONARY_IOU."""
    if not len(ref) or not len(boxes):
        return np.zeros((len(ref), len(boxes)), np.float64)
    anchor_ref = np.stack([(ref[:, 0] + ref[:, 2]) / 2, ref[:, 3]], axis=1)
    anchor_obs = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    distance = np.linalg.norm(anchor_ref[:, None, :] - anchor_obs[None, :, :], axis=2) / _sizes(ref)[:, None]
    iou = box_iou(ref.astype(np.float32), boxes.astype(np.float32))
    return np.maximum(
        np.where(distance <= tolerance, 1.0 / (1.0 + distance), 0.0), np.where(iou >= STATIONARY_IOU, iou, 0.0)
    )


def match_places(ref: np.ndarray, boxes: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """(place rows, observation rows): each sighting at the closest free place (`position_scores`)."""
    return greedy_match(position_scores(ref, boxes, tolerance), 1e-9)
