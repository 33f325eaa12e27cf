"""Evidence clips: each camera's recent compressed packets in a bounded ring, remuxed into a short MP4.

The decoder hands every demuxed packet to the ring (key-frame-only decoding included: the packets it
never decodes are kept all the same), so a clip costs no decode and no encode, only a copy of bytes
the camera already sent. The ring holds whole key-frame intervals (GOPs), so it always starts at a
key frame; it drops the oldest GOP once it spans more than `max_s` seconds or holds more than
`max_bytes`, which bounds its memory per camera. A GOP that alone breaks a bound empties the ring
until the next key frame (a clip is then impossible, never unbounded).

Times: the ring keeps the stream's own timestamps and maps them to camera media time
(`Frame.media_time`) through an anchor set by every emitted frame, so clips line up with case times
across reconnects (a new session empties the ring: its codec parameters may differ).

Codec parameters outlive the session's container as a tiny Matroska file (stream header plus a
one-byte packet) that serves as the template of each clip's stream. Clips are MP4 when the codec fits
MP4 (H.264, HEVC, MPEG-4, ...); other codecs (e.g. the bundled clip's MS-MPEG-4) go into QuickTime
MOV, the same ISO base media file layout.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import av
import av.container
import av.video.stream

CONTAINERS = (("mp4", ".mp4"), ("mov", ".mov"))  # tried in order


@dataclass(frozen=True, slots=True)
class _Packet:
    data: bytes
    pts: int
    dts: int
    duration: int
    key: bool


@dataclass(slots=True)
class _Gop:
    """Packets from one key frame up to the next, in decode order."""

    packets: list[_Packet] = field(default_factory=list)
    size: int = 0


@dataclass(frozen=True, slots=True)
class Clip:
    """One remuxed clip; start_s and end_s are camera media times of its first frame and its end."""

    data: bytes
    extension: str  # ".mp4" or ".mov"
    codec: str
    start_s: float
    end_s: float
    frames: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class RingStats:
    packets: int
    bytes: int
    seconds: float


class PacketRing:
    """A camera's recent packets, bounded by duration and bytes; fed by the camera thread, cut by another."""

    def __init__(self, max_s: float, max_bytes: int) -> None:
        self._max_s = max_s
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._gops: deque[_Gop] = deque()
        self._size = 0
        self._header = b""
        self._time_base = Fraction(0)
        self._anchor: tuple[int, float] | None = None
        self._last_dts: int | None = None

    # -- the camera thread's side ---------------------------------------------------------------
    def new_session(self, stream: av.video.stream.VideoStream) -> None:
        """A new container: forget the old packets, keep this stream's codec parameters."""
        header = _header(stream)
        with self._lock:
            self._clear()
            self._header, self._time_base = header, Fraction(stream.time_base or 0)
            self._anchor = None

    def add(self, packet: av.Packet) -> None:
        """Keep one demuxed packet (those before the first key frame cannot start a clip: dropped)."""
        if packet.pts is None or not packet.size or not self._time_base:
            return
        dts = packet.pts if packet.dts is None else packet.dts
        item = _Packet(bytes(packet), packet.pts, dts, packet.duration or 0, bool(packet.is_keyframe))
        with self._lock:
            if self._last_dts is not None and dts < self._last_dts:
                self._clear()  # timestamps restarted: the old packets no longer map to media time
            self._last_dts = dts
            if item.key:
                self._gops.append(_Gop())
            elif not self._gops:
                return
            gop = self._gops[-1]
            gop.packets.append(item)
            gop.size += len(item.data)
            self._size += len(item.data)
            self._trim()

    def anchor(self, pts: int | None, media_time: float) -> None:
        """The frame with stream timestamp `pts` is at camera media time `media_time`."""
        if pts is not None:
            with self._lock:
                self._anchor = (pts, media_time)

    # -- the pipeline's side --------------------------------------------------------------------
    def stats(self) -> RingStats:
        with self._lock:
            count = sum(len(g.packets) for g in self._gops)
            return RingStats(count, self._size, self._span_s())

    def cut(self, start_s: float, end_s: float, cover_s: float, max_bytes: int) -> Clip | None:
        """A clip from the last key frame at or before `start_s` to `end_s` (camera media times).

        It must show `cover_s` (the confirmation): a clip over `max_bytes` starts at a later key frame
        while one still comes before `cover_s`, then ends sooner, but never before `cover_s`; None when
        the ring does not reach back to `cover_s` or even that much is too large.
        """
        with self._lock:
            if self._anchor is None or not self._gops:
                return None
            to_ticks = self._ticks
            start, end, cover = to_ticks(start_s), to_ticks(end_s), to_ticks(cover_s)
            gops = [g for g in self._gops if g.packets[0].pts <= cover]
            if not gops:
                return None
            first = max((i for i, g in enumerate(gops) if g.packets[0].pts <= start), default=0)
            packets = [p for g in list(self._gops)[first:] for p in g.packets if p.dts <= end]
            header, time_base, media = self._header, self._time_base, self._media
        if _last_shown(packets) < cover:
            return None  # the ring does not reach the confirmation (it came after a reconnect)
        fitted = _fit(packets, cover, max_bytes)
        if fitted is None:
            return None
        return _remux(header, time_base, fitted, media)

    # -- internals (under the lock) -------------------------------------------------------------
    def _ticks(self, media_time: float) -> int:
        assert self._anchor is not None
        pts, at = self._anchor
        return pts + round((media_time - at) / self._time_base)

    def _media(self, ticks: int) -> float:
        assert self._anchor is not None
        pts, at = self._anchor
        return at + float((ticks - pts) * self._time_base)

    def _span_s(self) -> float:
        if not self._gops:
            return 0.0
        last = self._gops[-1].packets[-1]
        return float((last.dts + last.duration - self._gops[0].packets[0].dts) * self._time_base)

    def _trim(self) -> None:
        while self._gops and (self._size > self._max_bytes or self._span_s() > self._max_s):
            self._size -= self._gops.popleft().size  # a lone GOP over a bound empties the ring

    def _clear(self) -> None:
        self._gops.clear()
        self._size = 0
        self._last_dts = None


def _last_shown(packets: list[_Packet]) -> int:
    return max((p.pts + p.duration for p in packets), default=-(2**62))


def _fit(packets: list[_Packet], cover: int, max_bytes: int) -> list[_Packet] | None:
    """Start at later key frames, then end sooner, until the clip fits `max_bytes` and still shows `cover`."""
    size = sum(len(p.data) for p in packets)
    while size > max_bytes:
        later = next((i for i, p in enumerate(packets) if i and p.key and p.pts <= cover), None)
        if later is not None:
            size -= sum(len(p.data) for p in packets[:later])
            packets = packets[later:]
        elif len(packets) > 1 and max(p.pts for p in packets[:-1]) >= cover:
            size -= len(packets.pop().data)
        else:
            return None
    return packets


def _header(stream: av.video.stream.VideoStream) -> bytes:
    """The stream's codec parameters as a tiny Matroska file (one dummy packet: a demuxer needs one)."""
    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        target = container.add_stream_from_template(stream, opaque=True)
        dummy = av.Packet(b"\0")
        dummy.pts = dummy.dts = 0
        assert stream.time_base is not None, "a demuxed video stream has a time base"
        dummy.time_base = stream.time_base
        dummy.stream = target
        container.mux(dummy)
    return out.getvalue()


def _remux(header: bytes, time_base: Fraction, packets: list[_Packet], media: Callable[[int], float]) -> Clip:
    """Packets into an MP4 (or MOV) in memory, timestamps starting at zero; no decode, no encode."""
    with av.open(io.BytesIO(header)) as template_file:
        template = template_file.streams.video[0]
        for fmt, extension in CONTAINERS:
            out = io.BytesIO()
            with av.open(out, "w", format=fmt) as container:
                try:
                    stream = container.add_stream_from_template(template, opaque=True)
                except ValueError:  # this container cannot carry the codec: try the next
                    continue
                stream.time_base = time_base
                base = packets[0].dts
                for p in packets:
                    packet = av.Packet(p.data)
                    packet.pts, packet.dts, packet.duration = p.pts - base, p.dts - base, p.duration
                    packet.time_base = time_base
                    packet.is_keyframe = p.key
                    packet.stream = stream
                    container.mux(packet)
            start = min(p.pts for p in packets)
            return Clip(
                out.getvalue(),
                extension,
                template.codec_context.name,
                media(start),
                media(_last_shown(packets)),
                len(packets),
                template.codec_context.width,
                template.codec_context.height,
            )
    raise ValueError(f"no clip container carries codec {template.codec_context.name!r}")
