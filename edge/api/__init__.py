"""The operator API and zone editor served by `edge run`."""

from edge.api.app import create_app
from edge.api.deps import WorkerView

__all__ = ["WorkerView", "create_app"]
