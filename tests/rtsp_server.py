"""A real RTSP server for the ingest tests: GStreamer's RTSP server passing an H.264 MP4 through.

Run with the system python (it needs `gi`, which a venv can't import):
    /usr/bin/python3 tests/rtsp_server.py streams/vtest-h264.mp4 --port 8554 [--path /cam]
Every client gets its own pipeline from frame 0, paced in real time, like a camera that has just
been switched on; at the end of the file the stream ends (RTCP BYE), as a camera going away would.
Prints "READY rtsp://127.0.0.1:PORT/PATH" on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, help="H.264 in MP4")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    args = parser.parse_args()
    clip = args.clip.resolve()
    if not clip.is_file():
        print(f"rtsp_server: {clip} is not a file", file=sys.stderr)
        return 2

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = str(clip).replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
