"""Annotated video of a replay: what the worker saw and decided, frame by frame, as an MP4.

`VideoAnnotator` is a replay observer (`replay_clip(..., observer=...)`): for every analysed frame
it draws what the camera pipeline saw and decided: the zones (tinted while a case is open in
them), every detection with its class, the pipeline's own track id and score, the scene model's
static objects, the rule timers of the case snapshot (each place's dwell against the rule's
minimum, or the case it belongs to), a "paused" line while the view is tampered, and a banner for
each case or device-fault message; then it encodes the frame with PyAV (H.264 by default, MPEG-4
Part 2 where H.264 is unwanted). Frames are stamped with their media time, so the video plays at
the clip's own pace at the analysis rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np

from edge.cases import RuleView
from edge.cases.evidence import BOX_COLOUR
from edge.config import CameraConfig
from edge.draw import ZONE_COLOUR, class_colour, draw_zones, label, text_scale
from edge.runtime.pipeline import PipelineStep
from edge.scene import SceneUpdate
from edge.types import CaseMessage, Detections
from edge.zones.geometry import to_pixels

Codec = Literal["h264", "mpeg4"]
_ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"crf": "26", "preset": "veryfast"}),
    "mpeg4": ("mpeg4", {"qscale": "4"}),
}
_MS = Fraction(1, 1000)
BANNER_COLOURS = {"new": (0, 0, 200), "update": (0, 120, 230), "cleared": (60, 140, 60)}
FAULT_COLOUR = (160, 0, 160)
STATIC_COLOUR = (200, 120, 0)
HUD_COLOUR = (40, 40, 40)
TIMER_COLOUR = (0, 170, 230)


class Mp4Writer:
    """BGR frames -> an MP4 file with PyAV; opened on the first frame, when the size is known."""

    def __init__(self, path: Path, codec: Codec = "h264", rate: float = 10.0) -> None:
        if codec not in _ENCODERS:
            raise ValueError(f"codec must be one of {sorted(_ENCODERS)}, got {codec!r}")
        self.path = path
        self.codec = codec
        self.rate = rate
        self.frames = 0
        self._container: Any = None
        self._stream: Any = None
        self._last_pts = -1

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        encoder, options = _ENCODERS[self.codec]
        self._container = av.open(str(self.path), "w", format="mp4")
        stream = self._container.add_stream(encoder, rate=Fraction(self.rate).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = options
        stream.codec_context.time_base = _MS  # frames carry media time in milliseconds
        self._stream = stream

    def write(self, image: np.ndarray, media_time: float) -> None:
        """Append a frame shown at `media_time` seconds; odd sizes are padded to even (yuv420p)."""
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
        if self._container is None:
            self._open(image.shape[1], image.shape[0])
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        self._last_pts = max(round(media_time * 1000), self._last_pts + 1)  # strictly increasing
        frame.pts, frame.time_base = self._last_pts, _MS
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None


@dataclass
class _Banner:
    until: float  # media seconds
    text: str
    colour: tuple[int, int, int]


def banner_text(message: CaseMessage) -> str:
    """One ASCII line about a message: kind, event code, zone, object, case id (or the device fault)."""
    body = message.body
    if message.is_device_fault:
        return f"{message.kind.upper()} DEVICE FAULT {body['fault']['kind']} | {message.case_id}"
    detection = body.get("detection", {})
    what = f"{detection.get('class', '')} {detection.get('score', 0):.2f}".strip()
    return f"{message.kind.upper()} {body['event']['code']} {body['zone']['id']} {what} | {message.case_id}"


def _clock_text(clock: float | None) -> str:
    if clock is None:
        return ""
    return dt.datetime.fromtimestamp(clock, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class FrameDrawer:
    """Draws one analysed frame: zones, detections, rule timers, banners and a status line."""

    def __init__(self, camera: CameraConfig, class_names: Mapping[str, Sequence[str]], banner_s: float = 3.0) -> None:
        self.camera = camera
        self.class_names = {k: list(v) for k, v in class_names.items()}
        self.banner_s = banner_s
        self._banners: list[_Banner] = []

    def draw(self, step: PipelineStep) -> np.ndarray:
        frame, cases = step.frame, step.cases
        image = frame.image.copy()
        zones = cases.zones if cases is not None else []
        open_zones = {z.zone_id for z in zones for r in z.rules if r.open_cases}
        self._zones(image, open_zones)
        for model_id, dets in step.detections.items():
            self._detections(image, dets, self.class_names.get(model_id, []))
        if step.scene is not None:
            self._static_objects(image, step.scene)
        for zone in zones:
            for rule in zone.rules:
                self._timers(image, rule)
        self._banners = [b for b in self._banners if b.until >= frame.media_time]
        self._banners += [
            _Banner(frame.media_time + self.banner_s, banner_text(m), _banner_colour(m)) for m in step.messages
        ]
        status = f"{self.camera.id}  {frame.media_time:7.1f} s  {_clock_text(cases.clock if cases else None)}"
        y = label(image, status, 0, 0, HUD_COLOUR)
        if step.paused and step.scene is not None:
            tamper = step.scene.tamper
            y += label(image, f"ZONES PAUSED: view {tamper.kind} ({tamper.detail})", 0, y, FAULT_COLOUR)
        for banner in self._banners:
            y += label(image, banner.text, 0, y, banner.colour)
        return image

    def _static_objects(self, image: np.ndarray, scene: SceneUpdate) -> None:
        objects = scene.static_objects
        small = text_scale(image)[0] * 0.8
        ids = objects.data.get("object_id", objects.tracker_id)
        for (x1, y1, x2, y2), ident in zip(np.round(objects.xyxy).astype(int).tolist(), ids.tolist(), strict=True):
            cv2.rectangle(image, (x1, y1), (x2, y2), STATIC_COLOUR, 1, cv2.LINE_AA)
            label(image, f"static #{ident}", x1, y2 + 2, STATIC_COLOUR, small)

    def _zones(self, image: np.ndarray, open_zones: set[str]) -> None:
        h, w = image.shape[:2]
        outlines = {zone.id: to_pixels(zone.points, w, h) for zone in self.camera.zones}
        tinted = {zone_id: BOX_COLOUR for zone_id in sorted(open_zones & set(outlines))}
        draw_zones(image, outlines, ZONE_COLOUR, tinted)

    def _detections(self, image: np.ndarray, dets: Detections, names: Sequence[str]) -> None:
        boxes = np.round(dets.xyxy).astype(int)
        small = text_scale(image)[0] * 0.8
        for (x1, y1, x2, y2), cls, track, conf in zip(
            boxes.tolist(), dets.class_id.tolist(), dets.tracker_id.tolist(), dets.confidence.tolist(), strict=True
        ):
            colour = class_colour(cls)
            name = names[cls] if 0 <= cls < len(names) else str(cls)
            ident = f" #{track}" if track >= 0 else ""
            cv2.rectangle(image, (x1, y1), (x2, y2), colour, 1, cv2.LINE_AA)
            label(image, f"{name}{ident} {conf:.2f}", x1, y1, colour, small, above=True)

    def _timers(self, image: np.ndarray, rule: RuleView) -> None:
        """Places being timed that are in view now (dwell against the minimum), and places with a case.

        A place seen only once (a passer-by) has no timer yet and is left to its detection box.
        """
        needed = float(rule.min_duration_s) or 1.0
        small = text_scale(image)[0] * 0.8
        for place in rule.places:
            if not place.case_id and (place.absent_s > 0 or place.dwell_s <= 0):
                continue
            x1, y1, x2, y2 = (round(v) for v in place.box)
            colour = BOX_COLOUR if place.case_id else TIMER_COLOUR
            cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2, cv2.LINE_AA)
            bar_y = min(y2 + 3, image.shape[0] - 4)
            done = round((x2 - x1) * min(1.0, place.dwell_s / needed))
            cv2.rectangle(image, (x1, bar_y), (x2, bar_y + 3), (80, 80, 80), -1)
            cv2.rectangle(image, (x1, bar_y), (x1 + done, bar_y + 3), colour, -1)
            text = f"{rule.event_code} {place.dwell_s:.0f}/{rule.min_duration_s:.0f}s"
            if place.case_id:
                text += f" case ..{place.case_id[-6:]}"
            label(image, text, x1, bar_y + 4, colour, small)


def _banner_colour(message: CaseMessage) -> tuple[int, int, int]:
    return FAULT_COLOUR if message.is_device_fault else BANNER_COLOURS[message.kind]


class VideoAnnotator:
    """A replay observer that writes the annotated MP4; call close() when the replay ends."""

    def __init__(
        self,
        path: Path,
        camera: CameraConfig,
        class_names: Mapping[str, Sequence[str]],
        codec: Codec = "h264",
        banner_s: float = 3.0,
    ) -> None:
        self.writer = Mp4Writer(path, codec, rate=camera.analysis.fps)
        self.drawer = FrameDrawer(camera, class_names, banner_s)

    @property
    def path(self) -> Path:
        return self.writer.path

    def __call__(self, step: PipelineStep) -> None:
        self.writer.write(self.drawer.draw(step), step.frame.media_time)

    def close(self) -> None:
        self.writer.close()
