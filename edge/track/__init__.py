"""Tracking: fills `Detections.tracker_id` across analysed frames of one camera."""

from edge.track.tracker import Tracker

__all__ = ["Tracker"]
