"""View changes on real vtest footage: every cut is seen, nothing else is, and no dwell spans one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from scene_clips import blurred, dimmed, shifted, vtest_frames
from street_clips import SPOT, empty_road, paste, play, van

from edge.config import parse_config
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
    assert max(share for _, share in found) < 0.4  # well below the 0.6 that makes a change


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
