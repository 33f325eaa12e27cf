"""View changes on real vtest footage: every cut is seen, nothing else is, and no dwell spans one."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from scene_clips import CLIP_S, Edit, blurred, covered, dimmed, frames, shifted, vtest_frames
from street_clips import SPOT, empty_road, paste, play, van

from edge.config import ConfigError, parse_config
from edge.config.scene import ViewChangeConfig
from edge.scene import ViewChangeDetector

from conftest import DEMO_CONFIG


def quarter(image: np.ndarray) -> np.ndarray:
    """Another preset: the camera zoomed onto the bottom-right quarter of its view."""
    h, w = image.shape[:2]
    return cv2.resize(image[h // 2 :, w // 2 :], (w, h))


def mirrored(image: np.ndarray) -> np.ndarray:
    """Another street of the same kind: the scene seen the other way round."""
    return cv2.flip(image, 1)


def shares(images: list[np.ndarray], config: ViewChangeConfig | None = None) -> list[tuple[bool, float]]:
    detector = ViewChangeDetector(config or ViewChangeConfig())
    return [(v.changed, v.share) for v in map(detector.update, images)]


@pytest.mark.parametrize("fps", [2.0, 0.5])
def test_the_unedited_clip_never_changes_view(fps: float) -> None:
    """Crowds crossing, people stopping, the whole 79 s at the analysis rates a camera runs at."""
    found = shares([image for _, image in vtest_frames(fps)])
    assert not any(changed for changed, _ in found)
    assert max(share for _, share in found) < 0.4  # well below the 0.75 that makes a change


def test_light_changes_are_no_view_change() -> None:
    """A slow dusk ramp down to 40 %, then auto-exposure jumping back up by 1.8x."""
    frames = [image for _, image in vtest_frames(1.0)[:40]]
    gains = [*np.linspace(1.0, 0.4, 30), *[0.72] * 10]
    assert not any(changed for changed, _ in shares([dimmed(f, g) for f, g in zip(frames, gains, strict=True)]))


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        (quarter, True),  # zoomed onto another part of the street (a preset switch)
        (mirrored, True),  # a cut to another street
        (lambda image: shifted(image, 60, 30), True),  # re-aimed by 8 % of the width
        (lambda image: shifted(image, 8, 4), False),  # a small wobble of the mast: the same view
        (lambda image: dimmed(image, 0.5), False),  # the light halves at once
        (blurred, False),  # a blurred lens: the tamper check's business, not a cut
    ],
    ids=["zoomed", "another-street", "re-aimed", "wobble", "light-halved", "blurred"],
)
def test_each_cut_is_seen_on_the_frame_it_happens(edit, changed: bool) -> None:
    (_, a), (_, b), (_, c) = vtest_frames(1.0)[10:13]
    found = shares([a, edit(b), c])
    assert [flag for flag, _ in found] == [False, changed, changed]  # into the other view, and back


def test_a_disabled_detector_reports_nothing() -> None:
    (_, a), (_, b) = vtest_frames(1.0)[10:12]
    assert shares([a, quarter(b)], ViewChangeConfig(enabled=False)) == [(False, 0.0), (False, 0.0)]


def test_no_dwell_spans_a_cut_between_two_views(tmp_path: Path) -> None:
    """A montage: every 4 s a cut between two streets, each with a white van at the same pixels.

    A 6 s dwell rule: no shot is long enough, but without the view check the van "stays" 40 s.
    """
    view_a = paste(empty_road(), van(), SPOT[0], SPOT[1] + 30)
    view_b = paste(mirrored(empty_road()), van(), SPOT[0], SPOT[1] + 30)

    def montage(t: float) -> np.ndarray:
        return view_a if int(t // 4) % 2 == 0 else view_b

    data = yaml.safe_load(DEMO_CONFIG.read_text())
    rule = {"id": "parked", "kind": "dwell", "event_code": "0505", "classes": ["car", "truck", "bus"]}
    rule |= {"min_duration_s": 6, "gap_allowance_s": 10}
    data["cameras"][0]["zones"] = [
        {"id": "road", "polygon": [[0, 0.38], [1, 0.38], [1, 0.8], [0, 0.8]], "rules": [rule]}
    ]
    messages, steps = play(parse_config(data, DEMO_CONFIG.parent), tmp_path / "a", montage, 40.0)
    assert sum(step.view_changed for step in steps) == 9  # every cut, and nothing else
    assert messages == []
    data["view_change"] = {"enabled": False}
    unchecked, _ = play(parse_config(data, DEMO_CONFIG.parent), tmp_path / "b", montage, 40.0)
    assert [m.kind for m in unchecked] == ["new"], "without the view check the van's dwell spans the cuts"


# -- harder cases: crowds, darkness, cuts through black, and the boundary ------------------------

W, H = 768, 576  # vtest


def cuts(edit: Edit | None = None, fps: float = 1.0) -> list[float]:
    """Media times at which the detector saw a view change over the (edited) clip."""
    detector = ViewChangeDetector(ViewChangeConfig())
    return [f.media_time for f in frames(edit, fps) if detector.update(f.image).changed]


def crop(image: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """Part of the view blown up to the full frame: another preset, or a zoom."""
    return cv2.resize(image[y : y + height, x : x + width], (image.shape[1], image.shape[0]))


def zoom(factor: float):
    width, height = round(W / factor), round(H / factor)
    return lambda image: crop(image, (W - width) // 2, (H - height) // 2, width, height)


def shots(*views: tuple[float, object]) -> Edit:
    """A montage: from each cut's time on, the real clip seen through that view (None: as filmed)."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        view = next((v for start, v in reversed(views) if t >= start), None)
        return view(image) if view else image  # type: ignore[operator]

    return edit


def test_light_ramps_exposure_jumps_and_gamma_are_no_view_change() -> None:
    def lighting(t: float, image: np.ndarray) -> np.ndarray:
        dusk = 1.0 - 0.75 * t / CLIP_S  # the light fades to a quarter over the clip
        exposure = (1.0, 1.7, 0.6, 1.3)[int(t // 5) % 4]  # auto-exposure jumps every 5 s
        out = dimmed(image, dusk * exposure)
        return (255 * (out / 255.0) ** 0.7).astype(np.uint8) if int(t // 7) % 2 else out  # and the gamma

    assert cuts(lighting, fps=2.0) == []


def crowd(t: float, image: np.ndarray) -> np.ndarray:
    """This frame with the walkers of five other moments pasted in: several times vtest's crowd."""
    images = [im for _, im in vtest_frames(2.0)]
    ground = _ground()
    out = image.copy()
    for offset in (7, 13, 29, 47, 61):
        other = images[(round(t * 2) + offset) % len(images)]
        walkers = np.abs(other.astype(np.int16) - ground).max(axis=2) > 40
        walkers = cv2.dilate(walkers.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        out[walkers] = other[walkers]
    return out


@cache
def _ground() -> np.ndarray:
    """The clip's empty ground: the per-pixel median of every 4th 2 fps frame."""
    return np.median(np.stack([im for _, im in vtest_frames(2.0)[::4]]), axis=0).astype(np.uint8)


def test_a_dense_crowd_is_no_view_change() -> None:
    assert cuts(crowd, fps=0.5) == []


def test_a_lens_covered_and_uncovered_on_the_same_view_is_no_view_change() -> None:
    assert cuts(shots((20.0, covered), (26.0, None))) == []


@pytest.mark.parametrize("fps", [1.0, 0.5])
def test_every_cut_of_a_montage_is_seen_on_its_first_frame(fps: float) -> None:
    montage = shots(
        (10.0, lambda image: shifted(image, 77, 0)),  # re-aimed by 10 % of the width
        (20.0, None),
        (30.0, zoom(1.5)),  # zoomed in
        (40.0, mirrored),
        (50.0, lambda image: crop(image, 0, 288, 384, 288)),  # another preset: the lawn, close up
        (60.0, lambda image: crop(image, 384, 0, 384, 288)),  # and the building, close up
        (70.0, None),
    )
    assert cuts(montage, fps) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]


def test_a_cut_through_black_is_seen_on_the_first_frame_of_the_new_view() -> None:
    assert cuts(shots((20.0, covered), (24.0, lambda image: crop(image, 0, 288, 384, 288)))) == [24.0]


def test_a_new_resolution_is_a_new_view() -> None:
    image = vtest_frames(1.0)[0][1]
    found = shares([image, image, cv2.resize(image, (640, 480))])
    assert [changed for changed, _ in found] == [False, False, True]


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def noisy(image: np.ndarray) -> np.ndarray:
    return np.clip(image + np.random.default_rng(5).normal(0, 6, image.shape), 0, 255).astype(np.uint8)


BOUNDARY = [
    ("shift 1% across", lambda image: shifted(image, 8, 0), False),
    ("shift 1% down", lambda image: shifted(image, 0, 6), False),
    ("shift 2% across (wind, a shake)", lambda image: shifted(image, 15, 0), False),
    ("zoom 1.05", zoom(1.05), False),
    ("a fifth of the light", lambda image: dimmed(image, 0.2), False),
    ("exposure x1.8 (some clipping)", lambda image: dimmed(image, 1.8), False),
    ("gamma 0.6", lambda image: (255 * (image / 255.0) ** 0.6).astype(np.uint8), False),
    ("JPEG quality 10", lambda image: jpeg(image, 10), False),
    ("sensor noise", noisy, False),
    ("covered: nothing to judge", covered, False),
    ("shift 5% down", lambda image: shifted(image, 0, 29), True),
    ("shift 8% across", lambda image: shifted(image, 61, 0), True),
    ("shift 10% across", lambda image: shifted(image, -77, 0), True),
    ("zoom 1.1", zoom(1.1), True),
    ("zoom 1.25", zoom(1.25), True),
    ("upside down", lambda image: cv2.flip(image, 0), True),
    ("another part of the scene", lambda image: crop(image, 0, 288, 384, 288), True),
]


@pytest.mark.parametrize(("edit", "changed"), [(e, c) for _, e, c in BOUNDARY], ids=[n for n, _, _ in BOUNDARY])
def test_boundary_table(edit, changed: bool) -> None:
    """Each edit against the frame it was made from, at 10, 30, 50 and 70 s (other walkers, other light)."""
    for t, image in vtest_frames(1.0)[10::20]:
        detector = ViewChangeDetector(ViewChangeConfig())
        detector.update(image)
        found = detector.update(edit(image))
        assert found.changed is changed, f"at {t:g} s: {found}"


def test_defaults_and_bounds_live_in_the_config_tree() -> None:
    config = parse_config({"models": [{"id": "m", "path": "m.onnx"}]}, ".")
    assert config.scene.enabled is False and config.view_change.enabled is True  # on without the scene model
    with pytest.raises(ConfigError, match=r"view_change\.min_changed_share"):
        parse_config({"models": [{"id": "m", "path": "m.onnx"}], "view_change": {"min_changed_share": 1.5}}, ".")
