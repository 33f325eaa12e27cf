"""The operator HTTP API served by `edge run`."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class ApiConfig(Section):
    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="bind address; 0.0.0.0 to reach it from the LAN")
    port: int = Field(default=8080, ge=0, le=65535)
    token_env: str = Field(default="EDGE_API_TOKEN", description="environment variable holding the operator token")
    public_liveness: bool = Field(default=True, description="serve /healthz without a token (for container checks)")
    max_body_kb: int = Field(default=256, ge=1, le=65536)
