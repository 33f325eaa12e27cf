"""Opening a configured source: RTSP, HTTP(S) or a file, with per-camera timeouts and fast probing.

FFmpeg probes a live stream for 1-3 s by default; RTSP's SDP already names the codec, so probing is
cut to a few bytes (`analyzeduration=0`, `probesize=32`) and a camera is up in ~50 ms. PyAV's
`timeout=(open, read)` bounds every blocking call, so a hung server can't hold a camera thread.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import av
import av.container

from edge.config import SourceConfig
from edge.ingest.errors import SourceError

SourceKind = Literal["rtsp", "http", "file"]
FAST_OPEN = {"analyzeduration": "0", "probesize": "32"}
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
PROBE_TIMEOUT_S = 0.5


EndAction = Literal["reconnect", "reopen", "finish"]


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """How a source behaves when it ends (a URL ending is a disconnect) and whether to pace it."""

    url: str
    kind: SourceKind
    on_end: EndAction
    paced: bool

    @property
    def label(self) -> str:
        return redact(self.url)

    @property
    def address(self) -> tuple[str, int] | None:
        """Host and TCP port of a network source (what a reachability probe connects to); None for files."""
        if self.kind == "file":
            return None
        parts = urlsplit(self.url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or DEFAULT_PORTS.get(scheme)
        except ValueError:  # a malformed port: the open itself will say so
            return None
        return (parts.hostname, port) if parts.hostname and port else None


def reachable(address: tuple[str, int]) -> bool:
    """One TCP connect, closed at once: is anything listening at the camera's address?"""
    try:
        with socket.create_connection(address, timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def plan_source(source: SourceConfig) -> SourcePlan:
    scheme = urlsplit(source.url).scheme.lower() if "://" in source.url else ""
    kind: SourceKind = "rtsp" if scheme.startswith("rtsp") else "http" if scheme.startswith("http") else "file"
    on_end: EndAction = "reopen" if source.loop else "finish" if kind == "file" else "reconnect"
    # A camera of the worker is read at its own pace, a file too (read flat out, the shared loop would
    # only drop most of its frames; `edge replay` is the fast path). RTSP servers send in real time
    # already: waiting on their timestamps would only add lag.
    return SourcePlan(source.url, kind, on_end, paced=source.live and kind != "rtsp")


def redact(url: str) -> str:
    """The URL without its password, for logs and health (camera URLs often carry credentials)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def open_source(plan: SourcePlan, source: SourceConfig) -> av.container.InputContainer:
    """Open with the camera's timeouts; every failure becomes a `SourceError` naming source and cause."""
    options: dict[str, str] = {}
    timeout: tuple[float, float] | None = None
    if plan.kind != "file":
        options.update(FAST_OPEN)
        read_s = read_timeout_s(source)
        # FFmpeg's RTSP demuxer tries once more after an interrupted read, so it gives up after twice
        # PyAV's read timeout (measured, TCP and UDP alike); half of it keeps the configured limit.
        timeout = (source.open_timeout_s, read_s / 2 if plan.kind == "rtsp" else read_s)
    if plan.kind == "rtsp":
        options["rtsp_transport"] = source.transport
    try:
        container = av.open(plan.url, mode="r", options=options, timeout=timeout)
    except av.FFmpegError as exc:
        raise SourceError(f"{plan.label}: {describe_error(exc, source, opening=True)}") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{plan.label}: has no video stream")
    return container


def read_timeout_s(source: SourceConfig) -> float:
    """A read blocking longer than the stall timeout is a stall, so it ends there at the latest."""
    return min(source.read_timeout_s, source.stall_timeout_s)


def describe_error(exc: BaseException, source: SourceConfig, opening: bool = False) -> str:
    """An operator-readable cause for an FFmpeg failure (the URL is added by the caller)."""
    if isinstance(exc, av.error.ExitError):  # PyAV's timeout interrupted a blocking call
        if opening:
            return f"no answer within the {source.open_timeout_s:g} s open timeout"
        return f"no data within the {read_timeout_s(source):g} s read timeout"
    if isinstance(exc, av.error.FileNotFoundError):
        return "does not exist"
    if isinstance(exc, av.error.InvalidDataError) and opening:
        return f"no usable video (invalid data, or no answer within the {source.open_timeout_s:g} s open timeout)"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return reason[0].lower() + reason[1:]
