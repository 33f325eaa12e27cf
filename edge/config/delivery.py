"""Where cases go (the city platform) and how they are kept until acknowledged."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from edge.config.base import Section


class PlatformConfig(Section):
    kind: Literal["http"] = Field("http", description="how cases reach the platform")
    url: str = Field("http://127.0.0.1:8787/api/cases", description="endpoint cases are POSTed to (kind http)")
    token_env: str = Field("EDGE_PLATFORM_TOKEN", description="environment variable holding the bearer token")
    hmac_secret_env: str = Field("EDGE_PLATFORM_HMAC_SECRET", description="env var with the HMAC secret, if any")
    timeout_s: float = Field(10.0, gt=0, le=300, description="per request (or PUBACK wait); a timeout is retried")
    backoff_initial_s: float = Field(0.5, gt=0, le=60, description="first retry delay (doubles, with jitter)")
    backoff_max_s: float = Field(60.0, gt=0, le=3600, description="longest retry delay")
    source_label: str = Field("智能采集", description="case source as the platform names the auto-capture channel")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        """A typo here would otherwise only show as deliveries retried forever."""
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"platform url must be http(s)://host[:port]/path, got {value!r}")
        return value.strip()


class StorageConfig(Section):
    dir: str = Field("var", description="state, outbox and evidence live here (relative to the config file)")
    max_outbox_mb: float = Field(2048.0, gt=0, description="delivered items are pruned beyond this")
    min_free_mb: float = Field(500.0, ge=0, description="below this much free disk, pictures are thinned")
    evidence_max_kb: int = Field(300, ge=20, le=5000, description="largest evidence JPEG")
