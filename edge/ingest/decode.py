"""Decoding shared by files and live sources: tolerant demux, key-frame-only option, media-time sampling.

Corrupt packets are counted and skipped, never fatal: a camera that sends one bad packet must keep
streaming. Frames are picked by media time, not by count, so dropped or duplicated input frames never
stretch persistence measured downstream. Key-frame-only decoding hands the decoder just the key
packets (and sets `skip_frame = "NONKEY"`), which cuts decode work by the GOP length.

Damaged pictures are never analysed. Lost RTP packets, or key frames whose slices arrive split by
parameter sets, decode into pictures with concealed (smeared or green) regions that a detector or
the scene model would take for real objects. The decoder's own signals mark them: a decode error,
or a frame FFmpeg flags corrupt (`is_corrupt`: its error concealment ran, i.e. slices or
macroblocks were missing). A packet the demuxer flags corrupt is counted, but the decoder judges
the picture: such a flag also marks a harmless discontinuity (a spliced stream), while data that
is really missing makes the decoder conceal, and so flag the frame. Such a picture is not sampled, and
neither is any picture after it up to the next clean key frame (they reference the damage); a
key-frame-only camera so waits for the next clean key frame. Error concealment, and with it those
flags, only runs without slice threading (FFmpeg's default here): a live camera decodes on its own
thread alone (a box runs many cameras; frame threads would multiply threads and buffers), a clip
read by replay uses frame threads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import av
import av.container
import av.video.frame
import numpy as np

from edge.ingest.packets import PacketRing

DecodeMode = Literal["all", "keyframes"]


class StreamStalled(Exception):
    """Packets may still arrive, but no picture has been decoded for too long."""


class RateSampler:
    """Keeps the first frame of every 1/fps slot of media time."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"analysis fps must be > 0, got {fps}")
        self._fps = fps
        self._last_slot = -1

    def due(self, media_time: float) -> bool:
        return math.floor(media_time * self._fps + 1e-6) > self._last_slot

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
    damaged: int = 0  # decoded pictures not analysed: damaged, or referencing damage (up to a clean key frame)
    end_time: float = 0.0  # media end of the last packet, relative to the first frame


@dataclass(frozen=True, slots=True)
class Picture:
    """One decoded picture; only sampled ones are converted to BGR (the conversion costs more than decoding)."""

    frame: av.video.frame.VideoFrame
    media_time: float  # seconds from the session's first picture
    is_keyframe: bool
    sampled: bool  # never for a damaged picture
    damaged: bool

    def bgr(self) -> np.ndarray:
        return self.frame.to_ndarray(format="bgr24")


GOP_TOLERANCE = Fraction(1, 10)  # two key frame intervals within 10 % (and at least one frame) are the same GOP


@dataclass(slots=True)
class GopMeter:
    """A stream's key frame interval (GOP), settled from the timestamps of its key packets.

    One odd interval never moves it: a lost key frame (one interval twice as long), an extra key
    frame at a scene cut (one short interval), timestamps that restart (a looped or spliced stream,
    a camera that resets) or jump. The GOP is set, or changed, only when two successive intervals
    agree on a value it does not already have: a camera re-configured to another GOP. So a decode
    decision taken on it is taken once, and again only when the stream really changed. A camera
    keeps one meter across its sessions (loop restarts, reconnects): no interval spans two sessions,
    but what they measured adds up. Times are exact (integer timestamps times the time base) and
    the GOP is a whole number of frames: a 2 s GOP is 2.0, never 2.0000000000000018 (16.08 - 14.08
    in floats), which the decode policy's thresholds (GOP == 1/fps, 10 x GOP == min_duration_s)
    would read as longer, one GOP in a few.
    """

    gop_s: float | None = None  # the settled interval in media seconds; None until two intervals agree
    _last_key: Fraction | None = None
    _pending: Fraction | None = None  # an interval that differs from `gop_s`, waiting for a second one

    def new_session(self) -> None:
        """A new session's timestamps have nothing to do with the last one's."""
        self._last_key = None

    def key_frame(self, time: Fraction, frame: Fraction) -> None:
        """A key packet at stream time `time` (seconds), frames `frame` seconds apart."""
        last, self._last_key = self._last_key, time
        if last is None or time <= last:  # the first key frame, or timestamps restarted: no interval
            return
        interval = max(1, round((time - last) / frame)) * frame  # in whole frames
        if self.gop_s is not None and _same_gop(interval, Fraction(self.gop_s), frame):
            self._pending = None
            return
        pending, self._pending = self._pending, interval
        if pending is not None and _same_gop(interval, pending, frame):
            self.gop_s, self._pending = float(max(interval, pending)), None  # the longer: key frames come no rarer


def _same_gop(a: Fraction, b: Fraction, frame: Fraction) -> bool:
    return abs(a - b) <= max(frame, GOP_TOLERANCE * max(a, b))


class FrameDecoder:
    """Every decoded picture of a container's first video stream, each marked sampled or not.

    `choose`, if given, is asked for the decode mode at every key frame (the mode changes only
    there, so no picture is decoded without its references) with the stream's settled GOP (`gop`,
    a camera's `GopMeter`, kept across its sessions; None until known). A camera so drops to key
    frames once it is known that they come often enough, and its mode changes again only when the
    settled GOP or what `choose` weighs (the camera's rules) does.
    `frame_threads`: decode on several threads (a clip read as fast as possible) instead of one.
    """

    def __init__(
        self,
        container: av.container.InputContainer,
        fps: float,
        mode: DecodeMode,
        choose: Callable[[float | None], DecodeMode] | None = None,
        gop: GopMeter | None = None,
        stall_timeout_s: float | None = None,
        packets: PacketRing | None = None,
        frame_threads: bool = False,
    ) -> None:
        """`packets`: keeps every demuxed packet (decoded or not) for evidence clips."""
        self.stats = DecodeStats()
        self._gop = gop or GopMeter()
        self._gop.new_session()
        self._container = container
        self._stream = container.streams.video[0]
        self._stream.thread_type = "AUTO" if frame_threads else "NONE"  # never slice threads: see above
        self._sampler = RateSampler(fps)
        self._choose = choose
        self._stall_timeout_s = stall_timeout_s
        self._packets = packets
        if packets is not None:
            packets.new_session(self._stream)
        self.mode = mode

    @property
    def mode(self) -> DecodeMode:
        return self._mode

    @mode.setter
    def mode(self, mode: DecodeMode) -> None:
        self._mode = mode
        self._stream.codec_context.skip_frame = "NONKEY" if mode == "keyframes" else "DEFAULT"

    def __iter__(self) -> Iterator[Picture]:
        """Ends when the demuxer ends; demux errors propagate, decoder errors are only counted."""
        stats = self.stats
        exact_base = self._stream.time_base or Fraction(0)
        frame_s = 1 / Fraction(self._stream.average_rate or self._stream.guessed_rate or 25)
        time_base, interval = float(exact_base), float(frame_s)
        origin: int | None = None
        last_time = -interval
        last_picture_at = time.monotonic()  # last clean picture: what the stall watchdog looks at
        tainted = False  # a damaged picture was decoded, and no clean key frame since
        for packet in self._container.demux(self._stream):
            if packet.size:
                stats.packets += 1
                stats.corrupt += packet.is_corrupt
                if self._packets is not None:
                    self._packets.add(packet)
                packet_time = None
                if origin is not None and packet.pts is not None:
                    packet_time = (packet.pts - origin) * time_base
                    duration = packet.duration * time_base if packet.duration else interval
                    stats.end_time = max(stats.end_time, packet_time + duration)
                if packet.is_keyframe and packet.pts is not None and time_base:
                    # the stream's own clock, not media time: that is only rebased at the next decoded picture
                    self._key_frame(packet.pts * exact_base, frame_s)
                if self._mode == "keyframes" and (
                    not packet.is_keyframe
                    or (packet_time is not None and packet_time >= last_time and not self._sampler.due(packet_time))
                ):
                    self._check_stall(last_picture_at)
                    continue
            try:
                frames = packet.decode()
            except av.FFmpegError:
                stats.corrupt += 1
                tainted = True  # the pictures that reference this one are concealed guesses
                frames = []
            for frame in frames:
                stats.decoded += 1
                tainted = frame.is_corrupt or (tainted and not frame.key_frame)
                if tainted:
                    stats.damaged += 1
                else:
                    last_picture_at = time.monotonic()
                if frame.pts is not None and time_base:
                    if origin is None or (frame.pts - origin) * time_base < last_time:
                        # first timestamp, or timestamps restarted (camera reset, spliced clip):
                        # continue one frame after the previous picture so time never runs backwards
                        origin = frame.pts - round((last_time + interval) / time_base)
                    media_time = (frame.pts - origin) * time_base
                else:
                    media_time = last_time + interval
                last_time = media_time
                stats.end_time = max(stats.end_time, media_time + interval)
                yield Picture(
                    frame, media_time, bool(frame.key_frame), not tainted and self._sampler.take(media_time), tainted
                )
            if not frames or tainted:
                self._check_stall(last_picture_at)

    def _key_frame(self, key_time: Fraction, frame: Fraction) -> None:
        self._gop.key_frame(key_time, frame)
        if self._choose is not None:
            self.mode = self._choose(self._gop.gop_s)

    def _check_stall(self, last_picture_at: float) -> None:
        if self._stall_timeout_s is None:
            return
        idle = time.monotonic() - last_picture_at
        if idle > self._stall_timeout_s:
            what, damaged = (
                ("undamaged picture", f", {self.stats.damaged} damaged") if self.stats.damaged else ("picture", "")
            )
            raise StreamStalled(
                f"no {what} decoded for {idle:.1f} s (stall timeout {self._stall_timeout_s:g} s{damaged})"
            )
