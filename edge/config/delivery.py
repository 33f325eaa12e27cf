"""Where cases go (the city platform: an HTTP endpoint or an MQTT broker) and how they are kept until acknowledged."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from edge.config.base import Section

MQTT_SCHEMES = {"mqtt": 1883, "mqtts": 8883}  # mqtts = MQTT over TLS
TOPIC_SEGMENT = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"  # no wildcards, no empty levels, no leading '/'


class MqttTlsConfig(Section):
    """TLS for `mqtts://` brokers; file paths are relative to the config file."""

    ca_file: str | None = Field(
        default=None, description="CA bundle (PEM) the broker's certificate must chain to; None: system CAs"
    )
    cert_file: str | None = Field(default=None, description="client certificate (PEM), for brokers that want one")
    key_file: str | None = Field(default=None, description="client key (PEM) of cert_file")
    verify_hostname: bool = Field(default=True, description="check the broker's name against its certificate")

    def problem(self) -> str | None:
        """Why these files cannot be used for TLS, or None; checked at start, before anything is written."""
        for field in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, field)
            if path is not None and not Path(path).is_file():
                return f"platform.mqtt.tls.{field}: {path} is not a file"
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            return f"platform.mqtt.tls: the files cannot be used: {exc}"
        return None


class MqttConfig(Section):
    """The broker, session and topics of the MQTT sink (`platform.kind: mqtt`)."""

    url: str = Field(default="mqtt://127.0.0.1:1883", description="mqtt://host[:port] or mqtts://host[:port] (TLS)")
    version: Literal["3.1.1", "5"] = Field(default="5", description="MQTT protocol version")
    topic_prefix: str = Field(default="edge", pattern=TOPIC_SEGMENT, description="topics are <prefix>/<worker>/...")
    confirm: Literal["puback", "platform"] = Field(
        default="platform",
        description="when a message leaves the outbox: once the platform's consumer confirms it stored it (on "
        "<prefix>/<worker>/acks; survives a broker that loses what it acknowledged: the default), or on the "
        "broker's PUBACK alone (only for brokers that save before they acknowledge, e.g. a replicated cluster)",
    )
    window: int = Field(
        default=16,
        ge=1,
        le=64,
        description="messages published before their confirmations come back, each of a different case "
        "(one round trip per window instead of per message)",
    )
    keepalive_s: int = Field(
        default=30, ge=5, le=3600, description="keep-alive; the broker declares the box gone after 1.5x"
    )
    session_expiry_s: int = Field(
        default=7 * 86400,
        ge=0,
        le=2**32 - 1,
        description="MQTT 5: how long the broker keeps the session of an offline box",
    )
    status_interval_s: float = Field(
        default=30.0, ge=1, le=3600, description="how often the retained box status is refreshed"
    )
    max_payload_kb: int = Field(
        default=1024,
        ge=16,
        le=256 * 1024,
        description="largest message; pictures beyond it are thinned (broker limits apply)",
    )
    username_env: str = Field(default="EDGE_MQTT_USERNAME", description="env var holding the broker user name, if any")
    password_env: str = Field(default="EDGE_MQTT_PASSWORD", description="env var holding the broker password, if any")
    tls: MqttTlsConfig = Field(default_factory=MqttTlsConfig)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in MQTT_SCHEMES or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"mqtt url must be mqtt://host[:port] or mqtts://host[:port], got {value!r}")
        try:
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError:
            raise ValueError(f"mqtt url has a bad port: {value!r}") from None
        return value.strip()

    @property
    def tls_on(self) -> bool:
        return urlsplit(self.url).scheme.lower() == "mqtts"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or MQTT_SCHEMES[parts.scheme.lower()]


class PlatformConfig(Section):
    kind: Literal["http", "mqtt"] = Field(
        default="http", description="how cases reach the platform: HTTP POSTs or an MQTT broker"
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="broker settings, used when kind is mqtt")
    url: str = Field(default="http://127.0.0.1:8787/api/cases", description="endpoint cases are POSTed to (kind http)")
    token_env: str = Field(default="EDGE_PLATFORM_TOKEN", description="environment variable holding the bearer token")
    hmac_secret_env: str = Field(
        default="EDGE_PLATFORM_HMAC_SECRET", description="env var with the HMAC secret, if any"
    )
    timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="per request (or PUBACK wait); a timeout is retried"
    )
    backoff_initial_s: float = Field(default=0.5, gt=0, le=60, description="first retry delay (doubles, with jitter)")
    backoff_max_s: float = Field(default=60.0, gt=0, le=3600, description="longest retry delay")
    probe_interval_s: float = Field(
        default=5.0, gt=0, le=300, description="while the platform is down, one message probes it at least this often"
    )
    source_label: str = Field(
        default="智能采集", description="case source as the platform names the auto-capture channel"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        """A typo here would otherwise only show as deliveries retried forever."""
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"platform url must be http(s)://host[:port]/path, got {value!r}")
        return value.strip()


class StorageConfig(Section):
    dir: str = Field(default="var", description="state, outbox and evidence live here (relative to the config file)")
    max_outbox_mb: float = Field(default=2048.0, gt=0, description="delivered items are pruned beyond this")
    min_free_mb: float = Field(
        default=500.0, ge=0, description="below this much free disk, new messages keep one picture"
    )
    no_pictures_free_mb: float | None = Field(
        default=None,
        ge=0,
        description="below this, new messages are stored without pictures (default 40 % of min_free_mb)",
    )
    pause_free_mb: float | None = Field(
        default=None, ge=0, description="below this, no new cases open; deliveries go on (default 20 % of min_free_mb)"
    )
    reserve_mb: float = Field(
        default=8.0, ge=0, le=1024, description="disk held back for acknowledgements when it is full"
    )
    evidence_max_kb: int = Field(default=300, ge=20, le=5000, description="largest evidence JPEG")
    state_checkpoint_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="rule timers are written to the state file at most this often (case clock seconds); a frame "
        "that opens, updates or clears a case is always written at once, with its messages; 0: every frame",
    )

    @model_validator(mode="after")
    def _watermarks_in_order(self) -> StorageConfig:
        """Degradation goes thin -> no pictures -> pause as space falls, so the marks must descend."""
        _, no_pictures, pause = self.free_watermarks_mb()
        if not self.min_free_mb >= no_pictures >= pause:
            raise ValueError(
                f"free-disk watermarks must descend: min_free_mb ({self.min_free_mb:g}) >= no_pictures_free_mb"
                f" ({no_pictures:g}) >= pause_free_mb ({pause:g})"
            )
        return self

    def free_watermarks_mb(self) -> tuple[float, float, float]:
        """(thin, no pictures, pause) in MB of free disk, the unset ones derived from min_free_mb."""
        return free_watermarks_mb(self.min_free_mb, self.no_pictures_free_mb, self.pause_free_mb)


def free_watermarks_mb(
    thin_mb: float, no_pictures_mb: float | None = None, pause_mb: float | None = None
) -> tuple[float, float, float]:
    """The degradation watermarks; unset ones are 40 % and 20 % of the thinning one."""
    return (
        thin_mb,
        0.4 * thin_mb if no_pictures_mb is None else no_pictures_mb,
        0.2 * thin_mb if pause_mb is None else pause_mb,
    )
