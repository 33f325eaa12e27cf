"""Prometheus metrics of the patrol, read at scrape time from the scheduler's status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from edge.api.deps import WorkerView


def patrol_metrics(worker: WorkerView) -> Iterator[Metric]:
    status = worker.patrol_status()
    if status is None:
        return
    box = status.box
    gauges = [
        ("edge_patrol_visits_per_minute", "Visits started in the last minute, per minute", box.visits_per_minute),
        ("edge_patrol_visits_in_flight", "Visits running now", box.in_flight),
        ("edge_patrol_max_concurrent_visits", "Visits allowed at once", box.max_concurrent_visits),
        ("edge_patrol_overdue_cameras", "Cameras past due by a tenth of their revisit", box.overdue),
        ("edge_patrol_overloaded", "1 while the box cannot visit every camera in time", float(box.overloaded)),
        ("edge_patrol_target_revisit_seconds", "Median target revisit interval", box.target_revisit_s),
        ("edge_patrol_revisit_p50_seconds", "Achieved revisit interval, median", box.revisit_p50_s),
        ("edge_patrol_revisit_p95_seconds", "Achieved revisit interval, 95th percentile", box.revisit_p95_s),
        ("edge_patrol_revisit_ratio_p95", "Achieved / target revisit interval, 95th percentile", box.revisit_ratio_p95),
    ]
    for name, doc, value in gauges:
        if value is not None:
            family = GaugeMetricFamily(name, doc)
            family.add_metric([], float(value))
            yield family
    visits = CounterMetricFamily("edge_patrol_camera_visits", "Visits by outcome", labels=["camera", "outcome"])
    last_s = GaugeMetricFamily("edge_patrol_last_visit_seconds", "Duration of the last visit", labels=["camera"])
    last_at = GaugeMetricFamily(
        "edge_patrol_last_visit_timestamp_seconds", "Unix time the last visit started", labels=["camera"]
    )
    pictures = GaugeMetricFamily("edge_patrol_last_visit_pictures", "Pictures the last visit took", labels=["camera"])
    due = GaugeMetricFamily("edge_patrol_next_due_timestamp_seconds", "Unix time of the next visit", labels=["camera"])
    failing = GaugeMetricFamily("edge_patrol_consecutive_failures", "Failed visits in a row", labels=["camera"])
    for camera_id, c in sorted(status.cameras.items()):
        visits.add_metric([camera_id, "ok"], float(c.visits - c.failed_visits))
        visits.add_metric([camera_id, "failed"], float(c.failed_visits))
        pictures.add_metric([camera_id], float(c.last_pictures))
        failing.add_metric([camera_id], float(c.consecutive_failures))
        if c.last_visit_s is not None and c.last_visit_at is not None:
            last_s.add_metric([camera_id], c.last_visit_s)
            last_at.add_metric([camera_id], c.last_visit_at)
        if c.next_due_at is not None:
            due.add_metric([camera_id], c.next_due_at)
    yield from (visits, last_s, last_at, pictures, due, failing)
