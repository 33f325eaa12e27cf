"""Ingest: PyAV sources (files now; live RTSP/HTTP next) that yield `Frame`s sampled by media time."""

from edge.ingest.decode import DecodeMode
from edge.ingest.errors import SourceError
from edge.ingest.files import ClipInfo, probe_file, read_file_frames

__all__ = ["ClipInfo", "DecodeMode", "SourceError", "probe_file", "read_file_frames"]
