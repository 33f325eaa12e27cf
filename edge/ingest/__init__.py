"""Ingest: PyAV sources (files, RTSP, HTTP) that yield `Frame`s sampled by media time.

Replay reads a clip with `read_file_frames`; the worker runs one `CameraStream` per camera, each
handing frames to the inference engine (whose per-camera queues drop the oldest frame) and
reporting to one `HealthRegistry`.
"""

from edge.backoff import Backoff
from edge.ingest.decode import DecodeMode
from edge.ingest.errors import SourceError
from edge.ingest.files import ClipInfo, probe_file, read_file_frames
from edge.ingest.health import CameraHealth, HealthRegistry, StreamState
from edge.ingest.packets import Clip, PacketRing
from edge.ingest.policy import choose_decode
from edge.ingest.source import redact
from edge.ingest.stream import CameraStream

__all__ = [
    "Backoff",
    "CameraHealth",
    "CameraStream",
    "Clip",
    "ClipInfo",
    "DecodeMode",
    "HealthRegistry",
    "PacketRing",
    "SourceError",
    "StreamState",
    "choose_decode",
    "probe_file",
    "read_file_frames",
    "redact",
]
