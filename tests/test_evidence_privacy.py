"""Bystander privacy on a real vtest frame with the bundled detector: in each case's pictures the heads of
the people who are not its subject are blurred, and the subject is exactly what the camera saw.

The frame stands still for a few seconds (every detected person "stays"), so a 0501 rule opens one
case per person and a 0505 rule one per parked vehicle. The same run with privacy off gives the
reference pictures (same annotations, same JPEG encoder): the checks below pass with privacy on and
fail with it off.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import yaml

from edge.cases import Redactor, bystanders
from edge.config import ConfigError, EdgeConfig, parse_config
from edge.config.evidence import PrivacyConfig
from edge.infer import load_detector
from edge.runtime.pipeline import CameraPipeline
from edge.types import CaseMessage, Detections, Frame
from edge.zones.geometry import box_iou

from conftest import DEMO_CONFIG, STREAMS, VTEST

AT_S = 10.0  # seven people walk across the plaza here; the van and the car stand at the top right
PICTURES = ("01-full.jpg", "01-first_seen.jpg")


def _config(tmp: Path, privacy: bool) -> EdgeConfig:
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    raw["storage"] = {"dir": str(tmp)}
    for zone in raw["cameras"][0]["zones"]:
        zone["rules"][0]["min_duration_s"] = 2
    raw["evidence"] = {"privacy": {"enabled": privacy}}
    return parse_config(raw, STREAMS)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> tuple[np.ndarray, Detections, list[str]]:
    config = _config(tmp_path_factory.mktemp("cfg"), False)
    with av.open(str(VTEST)) as container:
        image = next(f for f in container.decode(video=0) if f.time >= AT_S).to_ndarray(format="bgr24")
    detector = load_detector(config.model("coco"))
    return image, detector.detect([image])[0], list(detector.class_names)


def _cases(tmp: Path, scene, privacy: bool) -> dict[str, CaseMessage]:
    image, dets, names = scene
    out: list[CaseMessage] = []
    pipeline = CameraPipeline(_config(tmp, privacy), "campus-north", tmp / "state.db", {"coco": names}, out.append)
    try:
        for i in range(8):
            pipeline.analyse(Frame("campus-north", image, i * 0.5, 1_767_571_200 + i * 0.5, i), {"coco": dets})
    finally:
        pipeline.close()
    return {m.case_id: m for m in out if m.kind == "new"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, scene) -> dict[bool, dict[str, CaseMessage]]:
    return {on: _cases(tmp_path_factory.mktemp(f"privacy-{on}"), scene, on) for on in (True, False)}


def _picture(message: CaseMessage, name: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(message.pictures[name], np.uint8), cv2.IMREAD_COLOR)


def _inner(box: np.ndarray, top: float, bottom: float, margin: int = 3) -> tuple[slice, slice]:
    """Rows top..bottom (fractions of the box height) inside the box, `margin` px in from drawn outlines
    (1 px for a far-away person's small head)."""
    x1, y1, x2, y2 = box
    h = y2 - y1
    margin = margin if min(x2 - x1, (bottom - top) * h) > 4 * margin else min(margin, 1)
    return slice(int(y1 + top * h) + margin, int(y1 + bottom * h) - margin), slice(int(x1) + margin, int(x2) - margin)


def _detail(region: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(region, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def _subjects(people: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """The case's person (IoU >= 0.5 with its box), with any second box of them lying inside theirs."""
    match = box_iou(people, subject[None, :])[:, 0] >= 0.5
    for kept in people[match]:
        inter = np.prod(np.clip(np.minimum(people[:, 2:], kept[2:]) - np.maximum(people[:, :2], kept[:2]), 0, None), 1)
        match |= inter >= 0.8 * np.prod(people[:, 2:] - people[:, :2], axis=1)
    return match


def _people(scene) -> np.ndarray:
    _, dets, names = scene
    return dets.xyxy[np.asarray(names, dtype=object)[dets.class_id] == "person"]


def _blurred_and_untouched(
    shown: dict[str, CaseMessage], clear: dict[str, CaseMessage], scene: tuple[np.ndarray, Detections, list[str]]
) -> bool:
    """Every non-subject head differs strongly from the clear picture (outside what is drawn on both);
    every person subject's box is as in the clear picture (JPEG noise aside)."""
    people = _people(scene)
    for case_id, message in shown.items():
        is_subject = _subjects(people, np.asarray(message.body["detection"]["box"], np.float32))
        assert (message.body["event"]["code"] == "0505") == (not is_subject.any())
        for name in PICTURES:
            picture, reference = _picture(message, name), _picture(clear[case_id], name)
            drawn = np.abs(reference.astype(int) - scene[0].astype(int)).max(axis=2) > 40  # zone, boxes, labels
            drawn = cv2.dilate(drawn.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            change = np.abs(picture.astype(int) - reference.astype(int)).max(axis=2)
            for box in people[~is_subject]:
                head = _inner(box, 0.0, 0.25, margin=0)
                visible = ~drawn[head]
                if visible.sum() >= 10 and change[head][visible].mean() < 10:  # JPEG noise alone is about 1-2
                    return False
            for box in people[is_subject]:
                whole = _inner(box, 0.0, 1.0)
                if np.abs(picture[whole].astype(int) - reference[whole].astype(int)).mean() > 3.0:
                    return False
    return True


def test_bystanders_heads_are_blurred_and_the_subject_is_untouched(runs, scene):
    shown, clear = runs[True], runs[False]
    codes = sorted(m.body["event"]["code"] for m in shown.values())
    assert codes.count("0505") == 2 and codes.count("0501") >= 4  # the two vehicles, the people in the plaza
    assert shown.keys() == clear.keys()
    assert len(_people(scene)) >= 7
    assert _blurred_and_untouched(shown, clear, scene)


def test_the_check_fails_when_blurring_is_off(runs, scene):
    assert not _blurred_and_untouched(runs[False], runs[False], scene)


def test_number_plates_of_vehicles_other_than_the_subject_are_blurred(scene):
    image, dets, names = scene
    seen = bystanders({"coco": dets}, {"coco": names})
    labels = np.asarray(names, object)[dets.class_id]
    parked = dets.xyxy[np.isin(labels, ["car", "truck"]) & (dets.confidence >= 0.3)]
    van, car = parked[np.argsort(parked[:, 0])]  # the white van, then the car beside it
    out = Redactor(PrivacyConfig(enabled=True, plates=True)).image(image, seen, van[None, :])
    x1, y1, x2, y2 = car
    w, h = x2 - x1, y2 - y1  # where a plate sits: the middle half of the width, low in the box
    band = slice(int(y1 + 0.62 * h), int(y1 + 0.93 * h)), slice(int(x1 + 0.27 * w), int(x1 + 0.73 * w))
    assert _detail(out[band]) < 0.3 * _detail(image[band])
    assert np.array_equal(out[_inner(van, 0.0, 1.0, 0)], image[_inner(van, 0.0, 1.0, 0)])


def test_clips_with_privacy_is_a_clear_config_error(tmp_path):
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    raw["cameras"][0]["clip"] = True
    raw["evidence"] = {"privacy": {"enabled": True}}
    with pytest.raises(ConfigError, match=r"camera 'campus-north': clip is on while evidence.privacy is enabled"):
        parse_config(raw, STREAMS)
