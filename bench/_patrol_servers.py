"""The patrol bench's cameras: N RTSP cameras or N snapshot URLs on 127.0.0.1, each showing the clip at
its own wall-clock position, so a visit sees that camera's "now".

    /usr/bin/python3 bench/_patrol_servers.py rtsp PIECES_DIR --port P --cameras N
        GStreamer RTSP server (needs the system python's `gi`); /cam000 .. : a client gets the pre-encoded
        H.264 piece of the clip that is playing at its camera's position now (pieces of a few seconds, each
        starting at a key frame), passed through without decoding
    python bench/_patrol_servers.py http JPEGS_DIR --port P --cameras N
        /cam000.jpg .. : the pre-encoded JPEG of the clip at the camera's position now (one per second)
Camera i is offset by i x 7.3 s (mod the clip's length). Prints "READY" once it accepts connections.
"""

from __future__ import annotations

import argparse
import http.server
import signal
import sys
import time
from pathlib import Path

OFFSET_S = 7.3


def position(camera: int, length_s: float) -> float:
    return (time.time() + camera * OFFSET_S) % length_s


def serve_rtsp(pieces: list[Path], piece_s: float, port: int, cameras: int) -> int:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    length_s = piece_s * len(pieces)

    class CameraFactory(GstRtspServer.RTSPMediaFactory):
        def __init__(self, camera: int) -> None:
            super().__init__()
            self.camera = camera
            self.set_shared(False)

        def do_create_element(self, _url: object) -> Gst.Element:
            piece = pieces[int(position(self.camera, length_s) // piece_s) % len(pieces)]
            launch = (
                f'( filesrc location="{piece}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )'
            )
            return Gst.parse_launch(launch)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for camera in range(cameras):
        mounts.add_factory(f"/cam{camera:03d}", CameraFactory(camera))
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


def serve_http(jpegs: list[bytes], port: int, cameras: int) -> int:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            if not (name.startswith("cam") and name.endswith(".jpg") and name[3:-4].isdigit()):
                self.send_error(404)
                return
            camera = int(name[3:-4])
            body = jpegs[int(position(camera, len(jpegs))) % len(jpegs)]
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    server.serve_forever()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["rtsp", "http"])
    parser.add_argument("material", type=Path, help="folder of pieces (piece-NNN.mp4) or JPEGs (NNN.jpg)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cameras", type=int, required=True)
    parser.add_argument("--piece-s", type=float, default=8.0)
    args = parser.parse_args()
    if args.kind == "rtsp":
        return serve_rtsp(sorted(args.material.glob("piece-*.mp4")), args.piece_s, args.port, args.cameras)
    return serve_http([p.read_bytes() for p in sorted(args.material.glob("*.jpg"))], args.port, args.cameras)


if __name__ == "__main__":
    sys.exit(main())
