"""Annotated output: the MP4 of the bundled clip's replay and the evidence contact sheet decode back,
and show what they promise (banners at case events, zones, timers); the writers on generated input."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from test_eval_support import passing_run

from edge.cases import CaseSnapshot, Phase, PlaceView, RuleView, ZoneView
from edge.cases.evidence import BOX_COLOUR
from edge.cases.state import Case
from edge.config import parse_config
from edge.draw import ZONE_COLOUR, label
from edge.evaluate import contact_sheet
from edge.evaluate.annotate import BANNER_COLOURS, FrameDrawer, Mp4Writer
from edge.runtime.pipeline import PipelineStep
from edge.types import CaseMessage, Detections, Frame

from conftest import VTEST


@pytest.fixture(scope="module")
def passing(tmp_path_factory):
    run = passing_run(tmp_path_factory.getbasetemp())
    assert run.code == 0, run.output
    return run


def _decode(path: Path) -> tuple[str, list[tuple[float, np.ndarray]]]:
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
        frames = [(float(f.time), f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]
    return codec, frames


@pytest.fixture(scope="module")
def video(passing) -> tuple[str, list[tuple[float, np.ndarray]]]:
    return _decode(passing.annotate / "01-vtest.mp4")


def _banner_rows(height: int, width: int) -> slice:
    """Rows of the first banner: right under the status line (both drawn by `label`)."""
    line = label(np.zeros((height, width, 3), np.uint8), "X", 0, 0, (0, 0, 0))
    return slice(line + 4, 2 * line - 4)


def test_annotated_video_has_every_analysed_frame_at_its_media_time(passing, video):
    codec, frames = video
    assert codec == "h264"
    assert len(frames) == passing.report["clips"][0]["frames_analysed"] == 159
    assert [t for t, _ in frames] == pytest.approx([i * 0.5 for i in range(159)])  # 2 fps analysis
    assert {image.shape for _, image in frames} == {(576, 768, 3)}


def test_annotated_video_shows_a_banner_when_the_cases_open(video):
    _, frames = video
    by_time = {round(t, 1): image for t, image in frames}
    rows = _banner_rows(576, 768)
    red = np.array(BANNER_COLOURS["new"], float)

    def banner_share(image: np.ndarray) -> float:
        region = image[rows, 4:200].astype(float)
        return float((np.abs(region - red).sum(axis=2) < 90).mean())

    assert banner_share(by_time[20.0]) > 0.5  # both cases open at 20 s: NEW banners
    assert banner_share(by_time[22.0]) > 0.5  # and stay up for a few seconds
    assert banner_share(by_time[10.0]) < 0.05  # nothing before
    assert banner_share(by_time[40.0]) < 0.05  # and gone later


def _clip_frames(times: set[float]) -> dict[float, np.ndarray]:
    with av.open(str(VTEST)) as container:
        found = {round(float(f.time), 1): f for f in container.decode(video=0) if round(float(f.time), 1) in times}
    return {t: f.to_ndarray(format="bgr24") for t, f in found.items()}


def test_annotated_video_tints_the_no_parking_zone_once_its_cases_are_open(video):
    _, frames = video
    by_time = {round(t, 1): image for t, image in frames}
    clean = _clip_frames({15.0, 25.0})
    zone = (slice(25, 148), slice(616, 766))  # no-parking-gate: x 0.80..1.0, y 0.04..0.26 of 768x576

    def redder(t: float) -> float:
        shift = by_time[t][zone].astype(int) - clean[t][zone].astype(int)
        return float(np.median(shift[..., 2] - shift[..., 0]))  # red up, blue down; labels are outliers

    assert redder(25.0) > 40  # cases open since 20 s: a quarter of red over the zone
    assert redder(15.0) < 20  # before: only the amber timers and the encoder's noise


def _messages_from(run_dir: Path) -> list[CaseMessage]:
    out = []
    for line in (run_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        pictures = {name: Path(path).read_bytes() for name, path in item["pictures"].items()}
        out.append(CaseMessage(item["case_id"], item["seq"], item["kind"], item["body"], pictures))
    return out


def test_contact_sheet_shows_every_picture_of_every_case(passing, tmp_path):
    sheet = cv2.imread(str(passing.annotate / "01-vtest-cases.png"))
    assert sheet is not None
    again = tmp_path / "sheet.png"
    assert contact_sheet(_messages_from(passing.run_dir), again) == (2, 6)  # full, crop, first_seen each
    assert again.read_bytes() == (passing.annotate / "01-vtest-cases.png").read_bytes()
    assert sheet.shape[1] == 6 + 3 * (320 + 6)  # three tiles of 320 px with 6 px gaps


def _message(case_id: str, seq: int, kind: str, pictures: dict[str, bytes]) -> CaseMessage:
    body = {
        "event": {"code": "0505"},
        "zone": {"id": "z1"},
        "detection": {"class": "car", "score": 0.5},
        "times": {"confirmed_media_s": 20.0},
        "evidence": [{"name": name, "media_s": 20.0} for name in pictures],
    }
    return CaseMessage(case_id, seq, kind, body, pictures)


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (120, 160)) -> bytes:
    return cv2.imencode(".jpg", np.full((*size, 3), colour, np.uint8))[1].tobytes()


def test_contact_sheet_marks_unreadable_pictures_and_caps_each_row(tmp_path):
    many = {f"{i:02d}-full.jpg": _jpeg((0, 200, 0)) for i in range(5)}
    messages = [
        _message("case-a", 1, "new", {"01-full.jpg": _jpeg((200, 0, 0)), "01-crop.jpg": b"not a jpeg"}),
        _message("case-b", 1, "new", many),
        _message("case-a", 2, "cleared", {"02-after.jpg": _jpeg((0, 0, 200), (300, 100))}),
    ]
    path = tmp_path / "sheet.png"
    assert contact_sheet(messages, path, tile_width=160, max_tiles=3) == (2, 6)
    sheet = cv2.imread(str(path))
    assert sheet.shape[1] == 6 + 3 * (160 + 6)
    row_a = sheet[: sheet.shape[0] // 2]
    grey = (np.abs(row_a.astype(int) - 128).sum(axis=2) == 0).mean()
    assert grey > 0.1  # the undecodable crop is a grey tile, not left out


def test_contact_sheet_without_cases_still_says_so(tmp_path):
    path = tmp_path / "empty.png"
    assert contact_sheet([], path) == (0, 0)
    assert cv2.imread(str(path)) is not None


@pytest.mark.parametrize(("codec", "decoded_as"), [("h264", "h264"), ("mpeg4", "mpeg4")])
def test_mp4_writer_pads_odd_sizes_and_keeps_media_times(tmp_path, codec, decoded_as):
    writer = Mp4Writer(tmp_path / "out.mp4", codec, rate=2)
    times = [0.0, 0.5, 1.0, 2.5, 3.0]  # a gap, as when frames are dropped
    for i, t in enumerate(times):
        writer.write(np.full((101, 151, 3), 40 * i, np.uint8), t)
    writer.close()
    name, frames = _decode(tmp_path / "out.mp4")
    assert name == decoded_as and writer.frames == len(frames) == 5
    assert [t for t, _ in frames] == pytest.approx(times)
    assert frames[0][1].shape == (102, 152, 3)
    assert [int(image[50, 75].mean()) for _, image in frames] == pytest.approx([0, 40, 80, 120, 160], abs=6)


def test_mp4_writer_rejects_an_unknown_codec(tmp_path):
    with pytest.raises(ValueError, match="codec must be one of"):
        Mp4Writer(tmp_path / "x.mp4", "vp9")  # type: ignore[arg-type]


def test_drawer_marks_zone_detections_timers_and_case_events():
    config = parse_config(
        {
            "models": [{"id": "coco", "path": "m.onnx"}],
            "cameras": [
                {
                    "id": "cam",
                    "source": {"url": "x.avi"},
                    "zones": [{"id": "z1", "polygon": [[0.5, 0.0], [1.0, 0.0], [1.0, 0.5], [0.5, 0.5]]}],
                }
            ],
        },
        Path("."),
    )
    drawer = FrameDrawer(config.cameras[0], {"coco": ["person", "car"]})
    frame = Frame("cam", np.full((240, 320, 3), 90, np.uint8), media_time=21.0, wall_time=0.0)
    dets = Detections([[20, 150, 60, 230]], [0.9], [0], [7])
    place = PlaceView("z1/r1/1", (200.0, 30.0, 280.0, 90.0), "car", 21.0, 0.0, "cam-x-abcdef")
    case = Case(
        case_id="cam-x-abcdef",
        zone_version=1,
        phase=Phase.CONFIRMED,
        seq=1,
        first_seen=0.0,
        confirmed=21.0,
        last_seen=21.0,
        last_report=21.0,
        first_media=0.0,
        confirmed_media=21.0,
        label="car",
        score=0.8,
        box=[200, 30, 280, 90],
    )
    rule = RuleView("r1", "dwell", "0505", True, 20.0, (place,), (case,))
    cases = CaseSnapshot("cam", 1_767_571_221.0, 1, [ZoneView("z1", "", [rule])])
    new = _message("cam-x-abcdef", 1, "new", {})
    image = drawer.draw(PipelineStep(frame, {"coco": dets}, None, False, [new], cases))
    assert (image[5:115, 319] == ZONE_COLOUR).all(axis=1).mean() > 0.5  # zone's right edge
    assert (image[60, 200:202] == BOX_COLOUR).all()  # the case's place, in the case colour
    assert image[150:230, 20].tolist() != frame.image[150:230, 20].tolist()  # the detection box
    assert image[110, 170].tolist() == [68, 68, 131]  # the open case tints its zone red (25 %)
    later_frame = Frame("cam", frame.image, 30.0, 0.0)
    later = drawer.draw(PipelineStep(later_frame, {"coco": Detections.empty()}, None, False, [], cases))
    banner = _banner_rows(240, 320)
    assert (np.abs(image[banner, 2:100].astype(int) - BANNER_COLOURS["new"]).sum(axis=2) < 30).mean() > 0.3
    assert (np.abs(later[banner, 2:100].astype(int) - BANNER_COLOURS["new"]).sum(axis=2) < 30).mean() < 0.1
