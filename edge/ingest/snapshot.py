"""One patrol visit to a snapshot URL: an HTTP(S) GET answering one JPEG (ONVIF GetSnapshotUri, a
camera's or a video platform's picture URL), `pictures_per_visit` times, 1/`analysis.fps` apart.

Only a complete JPEG is a picture: an HTML login page, a 401, an empty body or a JPEG cut short
(no end-of-image marker, or one the decoder cannot read) is a failed picture with its reason, and a
visit without a picture has failed. Basic or digest authentication takes the password from the
environment variable the config names (`source.password_env`), never from the config file.
"""

from __future__ import annotations

import os
import threading
import time

import cv2
import httpx
import numpy as np

from edge.config import CameraConfig, ConfigError
from edge.ingest.source import redact
from edge.ingest.visit import Capture, OnCapture, VisitOutcome

JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024  # a 4K JPEG is a few MB; more is not a snapshot


def snapshot_auth(camera: CameraConfig) -> httpx.Auth | None:
    """The camera's HTTP authentication, its password read from the environment (ConfigError if unset)."""
    source = camera.source
    if source.auth == "none":
        return None
    password = os.environ.get(source.password_env)
    if password is None:
        raise ConfigError(
            f"camera {camera.id!r}: source.password_env names {source.password_env!r}, which is not set "
            "in the environment"
        )
    if source.auth == "basic":
        return httpx.BasicAuth(source.username, password)
    return httpx.DigestAuth(source.username, password)


def decode_jpeg(body: bytes, content_type: str) -> np.ndarray:
    """The picture in a snapshot answer; ValueError naming what is wrong with it."""
    kind = content_type.split(";")[0].strip().lower()
    if not body.startswith(JPEG_START):
        what = kind or "no content type"
        raise ValueError(f"answered {what} ({len(body)} bytes), not a JPEG")
    if not body.rstrip(b"\r\n\x00").endswith(JPEG_END):
        raise ValueError(f"answered a truncated JPEG ({len(body)} bytes, no end-of-image marker)")
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"answered a JPEG that does not decode ({len(body)} bytes)")
    return image


def snapshot_visit(
    camera: CameraConfig,
    client: httpx.Client,
    auth: httpx.Auth | None,
    on_capture: OnCapture,
    stop: threading.Event | None = None,
) -> VisitOutcome:
    """Take the visit's snapshots (blocking); the first failed request ends the visit."""
    analysis = camera.analysis
    label = redact(camera.source.url)
    outcome = VisitOutcome(camera.id, time.time())
    begun = time.monotonic()
    spacing = 1.0 / analysis.fps
    for n in range(analysis.pictures_per_visit):
        left = analysis.visit_timeout_s - (time.monotonic() - begun)
        if left <= 0 or (stop is not None and stop.is_set()):
            break
        if n:
            if stop is None:
                time.sleep(spacing)
            elif stop.wait(spacing):
                break
        try:
            image = _fetch(client, camera.source.url, auth, left)
        except ValueError as exc:
            outcome.error = f"{label}: {exc}"
            break
        except httpx.TimeoutException:
            outcome.error = f"{label}: no answer within the {analysis.visit_timeout_s:g} s visit timeout"
            break
        except httpx.HTTPError as exc:
            outcome.error = f"{label}: {_reason(exc)}"
            break
        outcome.pictures += 1
        on_capture(Capture(image, time.time()))
    outcome.duration_s = time.monotonic() - begun
    if outcome.failed and outcome.error is None:
        outcome.error = f"{label}: no picture within the {analysis.visit_timeout_s:g} s visit timeout"
    if not outcome.failed:
        outcome.error = None
    return outcome


def _fetch(client: httpx.Client, url: str, auth: httpx.Auth | None, timeout_s: float) -> np.ndarray:
    with client.stream("GET", url, auth=auth, timeout=timeout_s) as response:
        if response.status_code != 200:
            raise ValueError(f"answered HTTP {response.status_code} {response.reason_phrase}".rstrip())
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_SNAPSHOT_BYTES:
                raise ValueError(f"answered more than {MAX_SNAPSHOT_BYTES // 1048576} MB, not a snapshot")
        return decode_jpeg(bytes(body), response.headers.get("content-type", ""))


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
