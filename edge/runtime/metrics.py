"""The worker's event metrics: what it counts as things happen (the rest is read at scrape time).

Created once on the worker's registry; the operator API serves that registry with its scrape-time
collectors (`edge.api.metrics`), so the runtime never depends on the API.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from edge.types import CaseMessage, Frame

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """Event metrics on the worker's registry: call `message_queued` and `frame_analysed` as they happen."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.case_messages = Counter(
            "edge_case_messages",
            "Case messages written to the outbox, by camera and kind (new, update, cleared)",
            ["camera", "kind"],
            registry=registry,
        )
        self.frame_lag = Histogram(
            "edge_frame_lag_seconds",
            "Wall time from a frame being read to its analysis being finished",
            ["camera"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    def message_queued(self, message: CaseMessage) -> None:
        camera = message.body.get("camera", {}).get("id", "unknown")
        self.case_messages.labels(camera=camera, kind=message.kind).inc()

    def frame_analysed(self, frame: Frame, now: float) -> None:
        self.frame_lag.labels(camera=frame.camera_id).observe(max(0.0, now - frame.wall_time))
