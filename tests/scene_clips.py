"""Test clips for the scene model, built from real footage (streams/vtest.avi decoded with PyAV).

A clip is the real clip sampled at a media-time rate, with an edit applied to the frames at
given times: an object composited in, the view shifted, covered, blurred or dimmed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np

from edge.scene import SceneModel, SceneUpdate
from edge.types import Detections, Frame

VTEST = Path(__file__).resolve().parents[1] / "streams" / "vtest.avi"
CLIP_S = 79.0  # vtest is 79.5 s long
Edit = Callable[[float, np.ndarray], np.ndarray]


@lru_cache(maxsize=2)
def vtest_frames(fps: float) -> tuple[tuple[float, np.ndarray], ...]:
    """(media time, BGR image) of vtest sampled at `fps` of media time, decoded once per run."""
    out: list[tuple[float, np.ndarray]] = []
    next_time = 0.0
    with av.open(str(VTEST)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time + 1e-6 >= next_time:
                image = frame.to_ndarray(format="bgr24")
                image.setflags(write=False)
                out.append((float(frame.time), image))
                next_time += 1.0 / fps
    return tuple(out)


def vtest_frame_at(media_s: float) -> np.ndarray:
    """The first picture of vtest at or after `media_s`, as decoded (BGR): what evidence must show."""
    with av.open(str(VTEST)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= media_s - 1e-6:
                return frame.to_ndarray(format="bgr24")
    raise AssertionError(f"no frame at {media_s}")


def textured_box(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A cardboard-box-like patch: brown with random texture, darker edges and a tape stripe."""
    rng = np.random.default_rng(seed)
    patch = np.empty((height, width, 3), np.float32)
    patch[:] = (60, 105, 150)  # BGR brown
    patch += rng.normal(0, 12, (height, width, 1))
    patch[:, width // 2 - 3 : width // 2 + 3] = (170, 190, 200)  # packing tape
    patch[:3], patch[-3:], patch[:, :3], patch[:, -3:] = 35, 35, 35, 35
    return np.clip(patch, 0, 255).astype(np.uint8)


def with_patch(image: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    out = image.copy()
    out[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return out


@lru_cache(maxsize=4)
def vtest_median(x: int, y: int, width: int, height: int) -> np.ndarray:
    """The clip's per-pixel median of a region, at 1 fps: the ground without the walkers."""
    region = np.stack([image[y : y + height, x : x + width] for _, image in vtest_frames(1.0)])
    return np.median(region, axis=0).astype(np.uint8)


def behind_walkers(image: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    """The patch placed on the ground with the people of this frame walking in front of it."""
    height, width = patch.shape[:2]
    out = with_patch(image, patch, x, y)
    region = np.s_[y : y + height, x : x + width]
    diff = np.abs(image[region].astype(np.int16) - vtest_median(x, y, width, height)).max(axis=2)
    walkers = cv2.dilate((diff > 40).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    out[region][walkers] = image[region][walkers]
    return out


def passing_traffic(image: np.ndarray, t: float, x: int, y: int) -> np.ndarray:
    """A busy lane: a different vehicle in the same spot at every frame, the same one twice now and then.

    The spot differs from the background all the time without anything staying in it.
    """
    palette = [(40, 40, 200), (220, 220, 220), (30, 30, 30), (200, 120, 40), (60, 170, 60), (150, 60, 150)]
    frame_number = round(t)
    colour = palette[(frame_number - frame_number // 7) % len(palette)]  # every 7th frame repeats
    vehicle = np.empty((60, 120, 3), np.uint8)
    vehicle[:] = colour
    return with_patch(image, vehicle, x, y)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The view of a camera re-aimed by (dx, dy) pixels (edges filled by replication)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def covered(image: np.ndarray) -> np.ndarray:
    """A lens covered by a hand or a bag: dark, nearly uniform, a little sensor noise."""
    noise = np.random.default_rng(int(image[0, 0, 0])).normal(14, 2, image.shape)
    return np.clip(noise, 0, 255).astype(np.uint8)


def blurred(image: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def dimmed(image: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def during(start: float, end: float, edit: Callable[[np.ndarray], np.ndarray]) -> Edit:
    """Apply `edit` to frames with start <= t < end."""
    return lambda t, image: edit(image) if start <= t < end else image


def frames(
    edit: Edit | None = None, fps: float = 1.0, start: float = 0.0, end: float = CLIP_S, camera: str = "cam"
) -> Iterator[Frame]:
    """The edited clip as `Frame`s, media time kept from the real clip."""
    for index, (t, image) in enumerate(vtest_frames(fps)):
        if start <= t < end:
            yield Frame(camera, edit(t, image) if edit else image, t, t, index)


def run(
    model: SceneModel,
    clip: Iterator[Frame],
    detections: Callable[[float], Detections] | None = None,
    class_names: list[str] | None = None,
) -> list[tuple[float, SceneUpdate]]:
    """Feed a clip through the scene model; (media time, update) per frame."""
    names = class_names or ["person", "suitcase"]
    out = []
    for frame in clip:
        dets = detections(frame.media_time) if detections else Detections.empty()
        out.append((frame.media_time, model.update(frame, dets, names)))
    return out


def looped_frames(fps: float, end: float) -> Iterator[tuple[float, np.ndarray]]:
    """vtest sampled at `fps`, played again from its start until `end` (media time keeps rising)."""
    clip = vtest_frames(fps)
    length = clip[-1][0] + 1.0 / fps
    loop = 0
    while True:
        for t, image in clip:
            if loop * length + t >= end:
                return
            yield loop * length + t, image
        loop += 1


def write_clip(path: Path, edit: Edit, fps: float, end: float) -> Path:
    """The edited (looped) vtest encoded as H.264 in MP4 at `fps`: a real file for `edge replay`."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23", "g": str(round(2 * fps))}
        for t, image in looped_frames(fps, end):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(edit(t, image)), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
