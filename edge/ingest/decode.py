"""Decoding shared by files and live sources: tolerant demux, key-frame-only option, media-time sampling.

Corrupt packets are counted and skipped, never fatal: a camera that sends one bad packet must keep
streaming. Frames are picked by media time, not by count, so dropped or duplicated input frames never
stretch persistence measured downstream.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import av
import av.container
import numpy as np

DecodeMode = Literal["all", "keyframes"]


class RateSampler:
    """Keeps the first frame of every 1/fps slot of media time."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"analysis fps must be > 0, got {fps}")
        self._fps = fps
        self._last_slot = -1

    def take(self, media_time: float) -> bool:
        slot = math.floor(media_time * self._fps + 1e-6)
        if slot <= self._last_slot:
            return False
        self._last_slot = slot
        return True


@dataclass(slots=True)
class DecodeStats:
    """Counters of one decode session; `packets` is the input frame count (key frames or not)."""

    packets: int = 0
    decoded: int = 0
    corrupt: int = 0
    end_time: float = 0.0  # media end of the last packet, relative to the first frame


@dataclass(frozen=True, slots=True)
class Decoded:
    image: np.ndarray  # (H, W, 3) uint8 BGR
    media_time: float  # seconds from the session's first frame
    is_keyframe: bool


def decode_sampled(
    container: av.container.InputContainer, fps: float, mode: DecodeMode, stats: DecodeStats
) -> Iterator[Decoded]:
    """Yield the sampled frames of the first video stream; ends when the demuxer ends.

    Demux errors propagate (the source is gone or broken past recovery); decoder errors are
    per packet and only counted.
    """
    stream = container.streams.video[0]
    if mode == "keyframes":
        stream.codec_context.skip_frame = "NONKEY"
    time_base = float(stream.time_base) if stream.time_base else 0.0
    interval = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
    sampler = RateSampler(fps)
    origin: int | None = None
    last_time = -interval
    for packet in container.demux(stream):
        if packet.size:
            stats.packets += 1
            if origin is not None and packet.pts is not None:
                end = (packet.pts + (packet.duration or 0) - origin) * time_base
                stats.end_time = max(stats.end_time, end if packet.duration else end + interval)
            if mode == "keyframes" and not packet.is_keyframe:
                continue
        try:
            frames = packet.decode()
        except av.FFmpegError:
            stats.corrupt += 1
            continue
        for frame in frames:
            stats.decoded += 1
            pts = frame.pts
            if pts is not None and time_base:
                if origin is None:
                    origin = pts
                media_time = (pts - origin) * time_base
            else:
                media_time = last_time + interval
            last_time = media_time
            stats.end_time = max(stats.end_time, media_time + interval)
            if sampler.take(media_time):
                yield Decoded(frame.to_ndarray(format="bgr24"), media_time, bool(frame.key_frame))
