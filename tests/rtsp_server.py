"""A real RTSP server for the ingest tests: GStreamer's RTSP server passing an H.264 MP4 through.

Run with the system python (it needs `gi`, which a venv can't import):
    /usr/bin/python3 tests/rtsp_server.py streams/vtest-h264.mp4 --port 8554 [--path /cam]
Every client gets its own pipeline from frame 0, paced in real time, like a camera that has just
been switched on; at the end of the file the stream ends (RTCP BYE), as a camera going away would.
Prints "READY rtsp://127.0.0.1:PORT/PATH" on stdout once it accepts connections.

`--loss F --loss-until S` loses a fraction F of the RTP packets in the first S seconds of each
client's stream, as a lossy network would (packetised small, depacketised and packetised again,
so slices go missing while the stream stays valid RTP): the pictures they carry arrive damaged.
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


def lose_packets(media: GstRtspServer.RTSPMedia, every: int, until_s: float) -> None:
    """Lose every `every`th RTP packet in the first `until_s` seconds of one client's stream.

    The payloader sends a picture's packets as one buffer list: the probe passes on a thinned copy."""
    count = [0]
    pad = media.get_element().get_by_name("pay0").get_static_pad("src")

    def keep(buffer: Gst.Buffer) -> bool:
        if buffer.pts == Gst.CLOCK_TIME_NONE or buffer.pts >= until_s * Gst.SECOND:
            return True
        count[0] += 1
        return count[0] % every != 0

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.type & Gst.PadProbeType.BUFFER:
            return Gst.PadProbeReturn.OK if keep(info.get_buffer()) else Gst.PadProbeReturn.DROP
        items = info.get_buffer_list()
        packets = [items.get(i) for i in range(items.length())]
        kept = [b for b in packets if keep(b)]
        if len(kept) == len(packets):
            return Gst.PadProbeReturn.OK
        thinned = Gst.BufferList.new()
        for buffer in kept:
            thinned.insert(-1, buffer)
        if kept:
            pad.get_peer().chain_list(thinned)
        return Gst.PadProbeReturn.DROP

    pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, probe)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, help="H.264 in MP4")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--loss", type=int, default=0, help="lose every Nth picture's RTP packets ...")
    parser.add_argument("--loss-until", type=float, default=0.0, help="... in the first S seconds of a stream")
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
    if args.loss:
        factory.connect("media-configure", lambda _f, media: lose_packets(media, args.loss, args.loss_until))
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
