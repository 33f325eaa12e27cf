"""The operator API and zone editor served by `edge run`."""

from edge.api.app import create_app
from edge.api.deps import WorkerView
from edge.api.metrics import WorkerMetrics

__all__ = ["WorkerMetrics", "WorkerView", "create_app"]
