"""Recorded clips: deterministic sampling by media time, BGR frames, and clear errors for bad files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from rtsp_support import solid, write_clip

from edge.ingest import ClipInfo, SourceError, probe_file, read_file_frames

REPO = Path(__file__).resolve().parents[1]
AVI = REPO / "streams" / "vtest.avi"
H264 = REPO / "streams" / "vtest-h264.mp4"


def test_probe_reads_headers_of_both_bundled_clips():
    assert probe_file(AVI) == ClipInfo(768, 576, 10.0, 79.5, 795)
    width, height, fps, duration, count = probe_file(H264)
    assert (width, height, fps, duration, count) == (768, 576, 10.0, 79.5, 795)


def test_all_frames_sampled_to_analysis_rate_by_media_time():
    frames = list(read_file_frames(AVI, "cam-a", fps=2.0, epoch=1_700_000_000.0))
    assert len(frames) == 159  # 0.0, 0.5, ... 79.0
    assert [f.index for f in frames] == list(range(159))
    assert np.allclose([f.media_time for f in frames], np.arange(159) * 0.5)
    assert all(f.wall_time == 1_700_000_000.0 + f.media_time for f in frames)
    first = frames[0]
    assert first.camera_id == "cam-a" and first.is_keyframe
    assert first.image.dtype == np.uint8 and first.image.shape == (576, 768, 3)
    assert first.image.flags.c_contiguous


def test_reading_twice_gives_identical_frames():
    a = list(read_file_frames(H264, "c", fps=0.5))
    b = list(read_file_frames(H264, "c", fps=0.5))
    assert len(a) == len(b) == 40
    assert all(np.array_equal(x.image, y.image) and x.media_time == y.media_time for x, y in zip(a, b, strict=True))


def test_keyframe_mode_decodes_only_key_frames_and_keeps_media_time():
    frames = list(read_file_frames(H264, "c", fps=2.0, decode="keyframes"))
    assert len(frames) == 40  # a 2 s GOP over 79.5 s
    assert all(f.is_keyframe for f in frames)
    assert np.allclose([f.media_time for f in frames], np.arange(40) * 2.0)
    full = {f.media_time: f.image for f in read_file_frames(H264, "c", fps=0.5)}
    assert np.array_equal(frames[3].image, full[6.0])  # the same picture either way


def test_images_are_bgr(tmp_path: Path):
    clip = write_clip(tmp_path / "red.mp4", [solid((0, 0, 255))] * 5)
    image = next(read_file_frames(clip, "c", fps=1.0)).image
    b, g, r = image.reshape(-1, 3).mean(axis=0)
    assert r > 200 and b < 40 and g < 40


def test_gap_in_time_is_kept_not_squeezed(tmp_path: Path):
    # 1 s of frames, a 3 s hole (a dropped stretch), then 1 s more: sampling follows media time.
    images = [solid((0, 0, 255))] * 10 + [solid((255, 0, 0))] * 10
    clip = write_clip(tmp_path / "gap.mp4", images, pts=[*range(10), *range(40, 50)])
    frames = list(read_file_frames(clip, "c", fps=2.0))
    assert [f.media_time for f in frames] == [0.0, 0.5, 4.0, 4.5]
    assert frames[2].image[0, 0, 0] > 200  # the blue part


def test_rate_above_source_rate_yields_every_frame(tmp_path: Path):
    clip = write_clip(tmp_path / "ten.mp4", [solid((i * 20, 0, 0)) for i in range(10)])
    frames = list(read_file_frames(clip, "c", fps=25.0))
    assert [round(f.media_time, 3) for f in frames] == [i / 10 for i in range(10)]


def _garbage(path: Path, size: int) -> Path:
    path.write_bytes(np.random.default_rng(3).integers(0, 256, size, np.uint8).tobytes())
    return path


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: d, "is a directory"),
        (lambda d: _garbage(d / "noise.mp4", 50_000), "not a video file"),
        (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", "not a video file"),
        (lambda d: (d / "empty.avi").write_bytes(b"") or d / "empty.avi", "not a video file"),
        (lambda d: _audio_only(d / "sound.wav"), "has no video stream"),
    ],
)
def test_unreadable_files_raise_source_error_naming_path_and_problem(tmp_path: Path, make, problem):
    path = make(tmp_path)
    with pytest.raises(SourceError, match=problem) as info:
        read_file_frames(path, "c", fps=1.0)
    assert str(path) in str(info.value)
    with pytest.raises(SourceError, match=problem):
        probe_file(path)


def _mdat_offset(data: bytes) -> int:
    return data.index(b"mdat") + 4


def test_header_without_media_data_raises(tmp_path: Path):
    data = H264.read_bytes()
    path = tmp_path / "header-only.mp4"
    path.write_bytes(data[: _mdat_offset(data)])
    with pytest.raises(SourceError, match="no decodable video frame"):
        list(read_file_frames(path, "c", fps=1.0))


def test_header_followed_by_garbage_raises(tmp_path: Path):
    data = H264.read_bytes()
    path = tmp_path / "garbage.mp4"
    path.write_bytes(data[: _mdat_offset(data)] + os.urandom(100_000))
    with pytest.raises(SourceError, match=r"no decodable video frame \(\d+ packet\(s\), all corrupt\)"):
        list(read_file_frames(path, "c", fps=1.0))


@pytest.mark.parametrize(("clip", "keep"), [(H264, 1_500_000), (AVI, 3_000_000)])
def test_truncated_file_yields_what_it_has_and_warns(tmp_path: Path, caplog, clip: Path, keep: int):
    path = tmp_path / f"cut{clip.suffix}"
    path.write_bytes(clip.read_bytes()[:keep])
    with caplog.at_level(logging.WARNING, logger="edge.ingest"):
        frames = list(read_file_frames(path, "c", fps=1.0))
    assert 20 < frames[-1].media_time < 40  # most of the first 30 s, nothing invented after
    assert [f.index for f in frames] == list(range(len(frames)))
    assert any(str(path) in r.getMessage() and "truncated" in r.getMessage() for r in caplog.records)


def test_corrupt_middle_is_skipped_and_reading_continues(tmp_path: Path, caplog):
    data = bytearray(H264.read_bytes())
    data[2_000_000:2_200_000] = np.random.default_rng(5).integers(0, 256, 200_000, np.uint8).tobytes()
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="edge.ingest"):
        frames = list(read_file_frames(path, "c", fps=0.5))
    assert frames[-1].media_time == 78.0  # read to the end despite the damage
    assert any("corrupt packet" in r.getMessage() for r in caplog.records)


def test_complete_file_logs_no_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="edge.ingest"):
        assert len(list(read_file_frames(AVI, "c", fps=0.2))) == 16
    assert not caplog.records


def test_stopping_early_closes_the_file():
    frames = read_file_frames(AVI, "c", fps=1.0)
    fds_before = len(os.listdir("/proc/self/fd"))
    next(frames)
    frames.close()
    assert len(os.listdir("/proc/self/fd")) <= fds_before
