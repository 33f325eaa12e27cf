"""Evidence clips: the bundled clip replayed with clips on gives each case a remuxed clip that the
receiver serves; the live worker does the same; the packet ring works with key-frame-only decoding
and stays within its bounds."""

from __future__ import annotations

import hashlib
import io
import signal
from collections.abc import Sequence
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
import yaml
from scene_clips import vtest_frame_at
from test_delivery_support import noisy_jpeg
from test_worker import free_port, start_worker, stop, wait_for_cases, write_config

from edge.config import EdgeConfig, load_config
from edge.config.evidence import ClipConfig
from edge.delivery.outbox import Outbox
from edge.delivery.records import OutboxError
from edge.delivery.sender import Sender
from edge.http_server import ThreadedServer
from edge.ingest import PacketRing, read_file_frames
from edge.receiver.app import create_app
from edge.runtime.clips import ClipAttacher, clip_ring
from edge.runtime.handoff import HandOff
from edge.runtime.replay import JsonLinesSink, replay_clip
from edge.types import CaseMessage

from conftest import DEMO_CONFIG, STREAMS, VTEST

EPOCH = 1_767_571_200.0
FIRST_S = 30.0  # the parked-vehicle cases confirm at 20 s: the clip's first 30 s hold them and their clips


def _head(src: Path, seconds: float, out: Path) -> Path:
    """The first `seconds` of a clip, remuxed (the same packets, so the same pictures)."""
    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        stream = inp.streams.video[0]
        target = dst.add_stream_from_template(stream, opaque=True)
        for packet in inp.demux(stream):
            if packet.pts is None or packet.pts * stream.time_base >= seconds:
                continue
            packet.stream = target
            dst.mux(packet)
    return out


@pytest.fixture(scope="module")
def delivered(tmp_path_factory) -> tuple[list[CaseMessage], EdgeConfig, dict[str, httpx.Response]]:
    """Replay with clips on, through the durable outbox and the HTTP sender into a real receiver."""
    tmp = tmp_path_factory.mktemp("clips")
    config = load_config(DEMO_CONFIG)
    config.cameras[0].clip = True
    config.evidence.clip.max_kb = 4096  # the bundled clip has a key frame only every 25 s
    clip = _head(VTEST, FIRST_S, tmp / "vtest-head.avi")
    with ThreadedServer(create_app(tmp / "receiver.db")) as receiver:
        config.platform.url = f"{receiver.url}/api/cases"
        outbox = Outbox(tmp / "outbox.db", min_free_mb=0)
        files = JsonLinesSink(tmp / "run")

        def sink(message: CaseMessage) -> None:
            outbox.put(message)
            files(message)

        sender = Sender(outbox, config.platform)
        try:
            result = replay_clip(config, clip, tmp / "run", epoch=EPOCH, sink=sink)
            sender.deliver_pending(60.0)
        finally:
            sender.close()
            outbox.close()
        fetched = {}
        for message in result.new_cases:
            for item in message.body["evidence"]:
                if item["kind"] == "clip":
                    url = f"{receiver.url}/api/cases/{message.case_id}/pictures/{item['name']}"
                    fetched[message.message_id] = httpx.get(url, timeout=10)
    return result.new_cases, config, fetched


def _frames(data: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(video=0))


def test_each_case_has_a_clip_that_decodes_to_its_stated_length_around_the_confirmation(delivered):
    cases, config, _ = delivered
    after = config.evidence.clip.after_s
    assert len(cases) == 2  # the van and the car
    for message in cases:
        (entry,) = [e for e in message.body["evidence"] if e["kind"] == "clip"]
        data = message.pictures[entry["name"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
        assert len(data) <= config.evidence.clip.max_kb * 1024
        frames = _frames(data)
        assert len(frames) == entry["frames"]
        shown = float(frames[-1].time - frames[0].time) + 0.1  # 10 fps: the last frame shows for 0.1 s
        assert shown == pytest.approx(entry["duration_s"], abs=0.01)
        confirmed = message.body["times"]["confirmed_media_s"]
        assert entry["media_s"] <= confirmed - 1 and entry["end_media_s"] >= confirmed + after
        # remuxed, not re-encoded: the clip's picture at the confirmation is the camera's own
        at = round((confirmed - entry["media_s"]) * 10)
        assert np.array_equal(frames[at].to_ndarray(format="bgr24"), vtest_frame_at(confirmed))


def test_the_receiver_stores_and_serves_the_clip(delivered):
    cases, _, fetched = delivered
    for message in cases:
        (entry,) = [e for e in message.body["evidence"] if e["kind"] == "clip"]
        response = fetched[message.message_id]
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/quicktime"  # MS-MPEG-4 does not fit MP4
        assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]


def test_key_frame_only_decoding_still_keeps_every_packet_for_the_clip():
    ring = PacketRing(max_s=12.0, max_bytes=8 * 2**20)
    decoded = 0
    clip = None
    for frame in read_file_frames(STREAMS / "vtest-h264.mp4", "cam", 1.0, decode="keyframes", packets=ring):
        decoded += 1
        if frame.media_time == pytest.approx(20.0):
            clip = ring.cut(15.0, 21.0, 20.0, 4 * 2**20)
    assert decoded <= 40  # one picture per 2-s key frame interval at most
    assert clip is not None and clip.extension == ".mp4" and clip.codec == "h264"
    assert clip.start_s == pytest.approx(14.0)  # the key frame before 15 s (one every 2 s)
    frames = _frames(clip.data)
    assert len(frames) == clip.frames == round(clip.duration_s * 10)  # every frame, not just the key frames
    assert frames[0].key_frame


@pytest.mark.parametrize(("max_s", "max_mb"), [(10.0, 64.0), (60.0, 0.5)])
def test_the_ring_stays_within_its_duration_and_bytes(max_s, max_mb):
    ring = PacketRing(max_s=max_s, max_bytes=int(max_mb * 2**20))
    most_s, most_bytes = 0.0, 0
    for _ in read_file_frames(STREAMS / "vtest-h264.mp4", "cam", 2.0, decode="keyframes", packets=ring):
        stats = ring.stats()
        most_s, most_bytes = max(most_s, stats.seconds), max(most_bytes, stats.bytes)
    assert 0 < most_s <= max_s and 0 < most_bytes <= max_mb * 2**20


def test_a_clip_over_its_size_starts_at_a_later_key_frame_but_still_shows_the_confirmation():
    ring = PacketRing(max_s=30.0, max_bytes=16 * 2**20)
    for frame in read_file_frames(STREAMS / "vtest-h264.mp4", "cam", 1.0, decode="keyframes", packets=ring):
        if frame.media_time == pytest.approx(24.0):
            break
    whole = ring.cut(10.0, 24.0, 20.0, 16 * 2**20)
    small = ring.cut(10.0, 24.0, 20.0, len(whole.data) // 3)
    assert whole.start_s == pytest.approx(10.0)
    assert small is not None and small.start_s > whole.start_s and small.start_s <= 20.0 < small.end_s
    assert ring.cut(10.0, 24.0, 20.0, 1000) is None  # not even the confirmation's key interval fits


def test_the_live_worker_sends_each_new_case_with_its_clip(tmp_path):
    """`edge run` on a live-paced H.264 camera (key frames decoded only where the rules allow it)."""
    with ThreadedServer(create_app(tmp_path / "receiver.db")) as receiver:
        path = write_config(tmp_path, receiver.url, free_port())
        raw = yaml.safe_load(path.read_text())
        raw["cameras"][0]["clip"] = True
        path.write_text(yaml.safe_dump(raw))
        log = tmp_path / "worker.log"
        proc = start_worker(path, log)
        try:
            cases = wait_for_cases(receiver, 2, timeout_s=90)
        finally:
            assert stop(proc, signal.SIGTERM) == 0, log.read_text()[-3000:]
        for case in cases:
            body = case["latest"]
            (entry,) = [e for e in body["evidence"] if e["kind"] == "clip"]
            assert entry["name"] == "01-clip.mp4" and entry["codec"] == "h264"
            data = httpx.get(f"{receiver.url}/api/cases/{case['case_id']}/pictures/01-clip.mp4", timeout=5).content
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(_frames(data)) == entry["frames"] == round(entry["duration_s"] * 10)
            confirmed = body["times"]["confirmed_media_s"]
            assert entry["media_s"] <= confirmed <= entry["end_media_s"]


def test_an_outbox_over_its_bound_drops_clips_before_any_picture(tmp_path):
    ring = PacketRing(max_s=30.0, max_bytes=16 * 2**20)
    for frame in read_file_frames(STREAMS / "vtest-h264.mp4", "cam", 1.0, decode="keyframes", packets=ring):
        if frame.media_time >= 12.0:
            break
    clip = ring.cut(0.0, 12.0, 6.0, 4 * 2**20)
    assert clip is not None
    pictures = {"01-full.jpg": noisy_jpeg(1), "01-crop.jpg": noisy_jpeg(2)}
    messages = [
        CaseMessage(f"case-{i}", 1, "new", {"case": i}, {**pictures, "01-clip.mp4": clip.data}) for i in range(4)
    ]
    # room for every picture and two of the four clips
    budget = 4 * sum(len(p) for p in pictures.values()) + 2.5 * len(clip.data)
    outbox = Outbox(tmp_path / "outbox.db", max_mb=budget / 2**20, min_free_mb=0)
    for message in messages:
        outbox.put(message)
    kept = []
    while (item := outbox.next_ready(now=float("inf"), skip=[i.pk for i in kept])) is not None:
        kept.append(item)
    assert [item.message.case_id for item in kept] == [f"case-{i}" for i in range(4)]  # no case is lost
    assert all(set(pictures) <= set(item.message.pictures) for item in kept)  # nor any picture
    assert [item.thinned for item in kept[:2]] == [("01-clip.mp4",)] * 2  # the oldest lost their clip
    assert all("01-clip.mp4" in item.message.pictures for item in kept[2:])


def test_a_clip_the_full_outbox_refused_goes_with_its_message_after_the_ring_moved_on() -> None:
    """The clip is cut once, while the ring covers it, and kept until the outbox takes its message."""
    config = ClipConfig(before_s=2.0, after_s=2.0, buffer_s=8.0)
    ring = clip_ring(config)
    clips = ClipAttacher(ring, config, wall_bound=False)
    message = CaseMessage("case-1", 1, "new", {"evidence": []}, {})
    source = HeldMessages([message])
    refuse = {"now": True}
    taken: list[CaseMessage] = []

    def sink(m: CaseMessage) -> None:
        if refuse["now"]:
            raise OutboxError("the outbox is full", out_of_space=True)
        taken.append(m)

    failures: list[Exception] = []
    hand_off = HandOff(sink, failures.append, clips=clips)
    frames = read_file_frames(STREAMS / "vtest-h264.mp4", "cam", 1.0, decode="keyframes", packets=ring)
    confirmed = None
    for frame in frames:
        if confirmed is None and frame.media_time >= 6.0:
            confirmed = frame.media_time
            clips.hold(message, frame.media_time, frame.wall_time)
        elif confirmed is not None and not failures and frame.media_time >= confirmed + config.after_s:
            hand_off([source], frame.media_time)  # due: cut, then refused
        if frame.media_time >= 30.0:
            break
    assert failures and source.held == [message]  # kept by its source
    assert confirmed is not None and ring.cut(confirmed - 2, confirmed + 2, confirmed, 2**30) is None  # moved on
    refuse["now"] = False
    hand_off([source], 30.0)
    assert source.held == [] and len(taken) == 1
    (entry,) = [e for e in taken[0].body["evidence"] if e["kind"] == "clip"]
    assert entry["media_s"] <= confirmed <= entry["end_media_s"]
    assert hashlib.sha256(taken[0].pictures[entry["name"]]).hexdigest() == entry["sha256"]


class HeldMessages:
    """A message source as the case engine is one: holds its messages until handed off."""

    def __init__(self, messages: list[CaseMessage]) -> None:
        self.held = list(messages)

    def pending_messages(self) -> list[CaseMessage]:
        return list(self.held)

    def handed_off(self, message_ids: Sequence[str]) -> None:
        self.held = [m for m in self.held if m.message_id not in message_ids]
