"""Prometheus metrics read at scrape time, beside the worker's own event metrics.

The worker updates a few event metrics itself (`edge.runtime.metrics.WorkerMetrics`: case messages
queued, frame lag) on its registry. Everything that is already a running total or a current state
somewhere (stream health, inference batches, outbox depth, zone versions) is read from those
snapshots when Prometheus scrapes (`SnapshotCollector`), so it can never go stale or be forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.api.patrol_metrics import patrol_metrics
from edge.api.schemas import status_json
from edge.delivery.disk import DiskLevel
from edge.ingest.health import StreamState

if TYPE_CHECKING:
    from edge.api.deps import WorkerView

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class SnapshotCollector(Collector):
    """Reads the worker's health, inference and outbox snapshots (and zone versions) per scrape."""

    def __init__(self, worker: WorkerView, zone_versions: Callable[[], Mapping[str, int]]) -> None:
        self.worker = worker
        self.zone_versions = zone_versions

    def collect(self) -> Iterator[Metric]:
        yield from self.worker.metrics.collect()
        ready = GaugeMetricFamily("edge_worker_ready", "1 while the worker is started and not stopping")
        ready.add_metric([], 1.0 if self.worker.ready else 0.0)
        yield ready
        yield from _cameras({cid: status_json(status) for cid, status in self.worker.camera_health().items()})
        yield from _inference(self.worker)
        yield from _outbox(self.worker)
        yield from _quality(self.worker)
        yield from patrol_metrics(self.worker)
        zones = GaugeMetricFamily("edge_zone_version", "Zone-config version each camera runs", labels=["camera"])
        for camera, version in sorted(self.zone_versions().items()):
            zones.add_metric([camera], float(version))
        yield zones


def _cameras(health: Mapping[str, Mapping[str, object]]) -> Iterator[Metric]:
    state = GaugeMetricFamily(
        "edge_camera_state", "1 for the state each camera's stream is in", labels=["camera", "state"]
    )
    gauges = {
        "input_fps": GaugeMetricFamily(
            "edge_camera_input_fps", "Packets per second from the source", labels=["camera"]
        ),
        "analysed_fps": GaugeMetricFamily("edge_camera_analysed_fps", "Frames per second analysed", labels=["camera"]),
        "last_frame_age_s": GaugeMetricFamily(
            "edge_camera_last_frame_age_seconds", "Seconds since the last analysed frame", labels=["camera"]
        ),
        "last_stall_at": GaugeMetricFamily(
            "edge_camera_last_stall_timestamp_seconds", "Unix time of the camera's last stall", labels=["camera"]
        ),
        "gop_s": GaugeMetricFamily(
            "edge_camera_gop_seconds", "Settled key frame interval the decode mode rests on", labels=["camera"]
        ),
    }
    counters = {
        "reconnects": CounterMetricFamily("edge_camera_reconnects", "Reconnect attempts", labels=["camera"]),
        "dropped_frames": CounterMetricFamily(
            "edge_camera_dropped_frames", "Frames dropped because analysis lagged", labels=["camera"]
        ),
        "corrupt_packets": CounterMetricFamily(
            "edge_camera_corrupt_packets", "Corrupt packets skipped", labels=["camera"]
        ),
        "damaged_pictures": CounterMetricFamily(
            "edge_camera_damaged_pictures", "Pictures decoded from damaged data, never analysed", labels=["camera"]
        ),
        "decode_switches": CounterMetricFamily(
            "edge_camera_decode_switches", "Changes between all frames and key frames only", labels=["camera"]
        ),
    }
    gated = CounterMetricFamily(
        "edge_gate_frames",
        "Analysed frames by the change gate's decision (inferred, reused, lost)",
        labels=["camera", "decision"],
    )
    mode = GaugeMetricFamily(
        "edge_camera_mode",
        "1 for the picture mode the scene model reads (day, low_light, infrared)",
        labels=["camera", "mode"],
    )
    mode_changes = CounterMetricFamily(
        "edge_camera_mode_changes", "Changes of the camera's picture mode", labels=["camera"]
    )
    per_camera: dict[str, GaugeMetricFamily | CounterMetricFamily] = {**gauges, **counters}
    for camera, entry in sorted(health.items()):
        for s in StreamState:
            state.add_metric([camera, s.value], 1.0 if entry.get("state") == s.value else 0.0)
        reading = entry.get("camera_mode")
        if isinstance(reading, Mapping):
            for name in ("day", "low_light", "infrared"):
                mode.add_metric([camera, name], 1.0 if reading.get("mode") == name else 0.0)
            mode_changes.add_metric([camera], float(reading.get("changes", 0)))
        for key, family in per_camera.items():
            value = entry.get(key)
            if isinstance(value, int | float):
                family.add_metric([camera], float(value))
        decisions = entry.get("change_gate")
        if isinstance(decisions, Mapping):
            for decision, count in sorted(decisions.items()):
                gated.add_metric([camera, decision], float(count))
    yield state
    yield from gauges.values()
    yield from counters.values()
    yield gated
    yield from (mode, mode_changes)


def _inference(worker: WorkerView) -> Iterator[Metric]:
    stats = worker.inference.stats()
    batches = HistogramMetricFamily("edge_inference_batch_size", "Frames per inference batch", labels=["model"])
    seconds = CounterMetricFamily("edge_inference_seconds", "Time spent in inference", labels=["model"])
    frames = CounterMetricFamily("edge_inference_frames", "Frames inferred", labels=["model"])
    failed = CounterMetricFamily("edge_inference_failed_batches", "Batches whose inference failed", labels=["model"])
    for model, m in sorted(stats.models.items()):
        cumulative = [(str(b), float(sum(n for size, n in m.batch_sizes.items() if size <= b))) for b in BATCH_BUCKETS]
        total = float(sum(m.batch_sizes.values()))
        size_sum = float(sum(size * n for size, n in m.batch_sizes.items()))
        batches.add_metric([model], [*cumulative, ("+Inf", total)], size_sum)
        seconds.add_metric([model], m.inference_ms / 1000.0)
        frames.add_metric([model], float(m.frames))
        failed.add_metric([model], float(m.failed_batches))
    yield from (batches, seconds, frames, failed)
    dropped = CounterMetricFamily(
        "edge_inference_dropped_frames", "Frames dropped before inference, by reason", labels=["camera", "reason"]
    )
    waiting = GaugeMetricFamily("edge_inference_waiting_frames", "Frames queued for inference", labels=["camera"])
    for camera, c in sorted(stats.cameras.items()):
        dropped.add_metric([camera, "overflow"], float(c.dropped_overflow))
        dropped.add_metric([camera, "stale"], float(c.dropped_stale))
        waiting.add_metric([camera], float(c.waiting))
    yield from (dropped, waiting)


def _outbox(worker: WorkerView) -> Iterator[Metric]:
    stats = worker.outbox.stats()
    depth = GaugeMetricFamily("edge_outbox_messages", "Outbox messages by state", labels=["state"])
    for name in ("pending", "delivered", "dead", "discarded", "blocked"):
        depth.add_metric([name], float(getattr(stats, name)))
    yield depth
    age = GaugeMetricFamily("edge_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered message")
    age.add_metric([], stats.oldest_pending_age_s or 0.0)
    yield age
    stored = GaugeMetricFamily("edge_outbox_stored_bytes", "Bytes the outbox holds")
    stored.add_metric([], stats.stored_mb * 2**20)
    yield stored
    free = GaugeMetricFamily("edge_outbox_disk_free_bytes", "Free disk space where the outbox lives")
    free.add_metric([], stats.disk_free_mb * 2**20)
    yield free
    disk = GaugeMetricFamily(
        "edge_disk_pressure", "1 for the disk-pressure level (ok, thin, no_pictures, paused, full)", labels=["level"]
    )
    for level in DiskLevel:
        disk.add_metric([level.value], 1.0 if stats.disk_state == level else 0.0)
    yield disk
    accepting = GaugeMetricFamily("edge_accepting_cases", "0 while disk pressure pauses new cases")
    accepting.add_metric([], 1.0 if stats.accepting_cases else 0.0)
    yield accepting
    reserve = GaugeMetricFamily("edge_disk_reserve_bytes", "Disk held back for acknowledgements (0 once used)")
    reserve.add_metric([], stats.disk_reserve_mb * 2**20)
    yield reserve


def _quality(worker: WorkerView) -> Iterator[Metric]:
    """The platform's verdicts per camera, zone and rule (GET /api/quality), and the live suppressions."""
    labels = ["camera", "zone", "rule"]
    cases = GaugeMetricFamily("edge_rule_cases", "Cases opened, as the case store keeps them", labels=labels)
    verdicts = GaugeMetricFamily(
        "edge_rule_verdicts", "The platform's verdicts by kind (confirmed, false_alarm)", labels=[*labels, "verdict"]
    )
    precision = GaugeMetricFamily("edge_rule_precision", "Confirmed / verdicts (absent before one)", labels=labels)
    flagged = GaugeMetricFamily("edge_rule_flagged", "1 where precision is under the threshold", labels=labels)
    for q in worker.quality():
        key = [q.camera_id, q.zone_id, q.rule_id]
        cases.add_metric(key, float(q.cases))
        verdicts.add_metric([*key, "confirmed"], float(q.confirmed))
        verdicts.add_metric([*key, "false_alarm"], float(q.false_alarms))
        if q.precision is not None:
            precision.add_metric(key, q.precision)
        flagged.add_metric(key, 1.0 if q.flagged else 0.0)
    suppressed = GaugeMetricFamily("edge_suppressions", "Rejected objects suppressed now", labels=["camera"])
    for camera, rows in sorted(worker.suppressions().items()):
        suppressed.add_metric([camera], float(len(rows)))
    yield from (cases, verdicts, precision, flagged, suppressed)
