"""Recorded clips: deterministic frames for replay, and a cheap probe for progress bars."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import av
import av.container

from edge.ingest.decode import DecodeMode, FrameDecoder
from edge.ingest.errors import SourceError
from edge.ingest.packets import PacketRing
from edge.types import Frame

log = logging.getLogger(__name__)


class ClipInfo(NamedTuple):
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int


def open_file(path: str | Path) -> av.container.InputContainer:
    """Open a clip with a video stream, turning every FFmpeg failure into a `SourceError`."""
    try:
        container = av.open(str(path), mode="r")
    except FileNotFoundError:
        raise SourceError(f"video file {path}: does not exist") from None
    except IsADirectoryError:
        raise SourceError(f"video file {path}: is a directory, not a video file") from None
    except PermissionError:
        raise SourceError(f"video file {path}: cannot be read (permission denied)") from None
    except av.error.InvalidDataError:
        raise SourceError(f"video file {path}: not a video file FFmpeg can read (invalid data)") from None
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"video file {path}: cannot be opened: {exc}") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"video file {path}: has no video stream")
    return container


def _expected_duration(container: av.container.InputContainer) -> float:
    """Length the headers promise, to tell a truncated file from a complete one."""
    stream = container.streams.video[0]
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    by_frames = stream.frames / rate if stream.frames and rate else 0.0
    by_stream = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
    by_container = container.duration / av.time_base if container.duration else 0.0
    return max(by_frames, by_stream, by_container)


def probe_file(path: str | Path) -> ClipInfo:
    """Size, rate, duration and frame count from the headers, without decoding."""
    with open_file(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        duration = _expected_duration(container)
        frames = stream.frames or round(duration * fps)
        return ClipInfo(stream.codec_context.width, stream.codec_context.height, fps, duration, frames)


def read_file_frames(
    path: str | Path,
    camera_id: str,
    fps: float,
    decode: DecodeMode = "all",
    epoch: float = 0.0,
    packets: PacketRing | None = None,
) -> Iterator[Frame]:
    """Frames of a clip sampled to `fps` per media second; `wall_time = epoch + media_time`.

    `packets` keeps the file's compressed packets for evidence clips, exactly as a live camera's.

    Opens eagerly, so a missing or unreadable file raises `SourceError` here, not on first use.
    A truncated or partly corrupt file yields what it has and logs a warning; one with no
    decodable frame at all raises `SourceError`.
    """
    container = open_file(path)
    return _frames(container, str(path), camera_id, fps, decode, epoch, packets)


def _frames(
    container: av.container.InputContainer,
    path: str,
    camera_id: str,
    fps: float,
    decode: DecodeMode,
    epoch: float,
    packets: PacketRing | None,
) -> Iterator[Frame]:
    decoder = FrameDecoder(container, fps, decode, packets=packets, frame_threads=True)
    stats = decoder.stats
    index = 0
    problem = ""
    with container:
        expected = _expected_duration(container)
        try:
            for picture in decoder:
                if picture.sampled:
                    t = picture.media_time
                    if packets is not None:
                        packets.anchor(picture.frame.pts, t)
                    yield Frame(camera_id, picture.bgr(), t, epoch + t, index, picture.is_keyframe)
                    index += 1
        except av.FFmpegError as exc:
            problem = f"reading stopped at {stats.end_time:.1f} s: {exc}"
    if stats.decoded == 0:
        what = problem or (f"{stats.packets} packet(s), all corrupt" if stats.packets else "no video data")
        raise SourceError(f"video file {path}: no decodable video frame ({what})")
    if not problem and expected and stats.end_time < expected - 0.5:
        problem = f"ends at {stats.end_time:.1f} s of the {expected:.1f} s its header promises (truncated?)"
    if stats.corrupt or stats.damaged:
        problem = f"{problem}; " if problem else ""
        problem += f"{stats.corrupt} corrupt packet(s) and {stats.damaged} damaged picture(s) skipped"
    if problem:
        log.warning("video file %s: %s; %d frame(s) read", path, problem, index)
