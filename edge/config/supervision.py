"""How the worker supervises its stages' threads (edge/runtime/supervisor.py, docs/api.md)."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class SupervisionConfig(Section):
    stall_s: float = Field(
        default=30.0,
        ge=0.5,
        le=3600,
        description="a stage thread whose heartbeat is quiet this long is wedged and restarted (a camera or "
        "the sender is given its own open, read or request timeouts instead, when they are longer)",
    )
    max_restarts: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="restarts of one stage allowed within restart_window_s; one more and the stage is left "
        "down and the box not ready (/readyz 503 naming it) until the worker is restarted",
    )
    restart_window_s: float = Field(default=60.0, gt=0, le=86400, description="the window max_restarts counts in")
