"""Plate reading: mainland formats, the reader on rendered plates, and 0505 cases that carry their plate.

Plates are rendered at test time (tests/plate_set.py: real layouts, the CJK font setup.sh installs,
perspective, blur, compression) on vehicle regions of vtest; the case tests replay a real H.264 clip
composited from the empty vtest road upscaled to a close camera's size, through the real detector,
the real pipeline and the real plate reader thread.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import jsonschema_rs
import numpy as np
import onnx
import pytest
import yaml
from plate_set import make_case
from rich.console import Console
from street_clips import SPOT, empty_road
from street_clips import detector as street_detector
from test_delivery_support import fill_up, small_disk

from edge.cases import case_json_schema
from edge.cases.privacy import Bystanders, Redactor
from edge.cli.replay import case_table
from edge.config import ConfigError, EdgeConfig, parse_config
from edge.config.evidence import PrivacyConfig
from edge.delivery import Outbox
from edge.i18n import CHINESE, translate
from edge.infer import ModelError
from edge.plates import DEFAULT_MODEL, PlateReader, Unread, locate, parse_plate
from edge.plates.reader import agreed_plate, judge_office_letter
from edge.plates.recognise import PLATE_CHARACTERS, TextLine, TextRecogniser
from edge.plates.rows import text_rows
from edge.plates.validate import PROVINCES, SUFFIXES
from edge.runtime.pipeline import CameraPipeline
from edge.runtime.plates import PlateAttacher, PlateService
from edge.runtime.replay import ReplayResult, replay_clip
from edge.types import CaseMessage, Frame
from edge.zones.geometry import box_iou

from conftest import DEMO_CONFIG, REPO

SCALE = 3  # vtest (768x576) upscaled to a close camera's 2304x1728
EPOCH = 1_767_571_200.0


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(DEFAULT_MODEL)


@pytest.mark.parametrize(
    ("raw", "plate"),
    [
        ("渝A·12345", "渝A12345"),
        ("京N-8D2W5", "京N8D2W5"),
        ("沪AD·12345", "沪AD12345"),  # new-energy, small car
        ("粤B·12345D", "粤B12345D"),  # new-energy, large vehicle
        ("京A·1234警", "京A1234警"),
        ("粤Z·1234港", "粤Z1234港"),
        ("粵Z·1234港", "粤Z1234港"),  # the traditional form of the province is the same province
        ("鲁Z·1234港", None),  # cross-border plates are issued by Guangdong's Z office only
        ("粤A·1234澳", None),
        ("滬A·1234學", "沪A1234学"),
        ("粤A·1234学", "粤A1234学"),
        ("使014578", "使014578"),
        ("ＡＢ", None),
        ("京A1234", None),  # a character short
        ("京I12345", None),  # no I as the office letter
        ("A·12345", None),  # no province
        ("京A·123456", None),  # 8 characters that are no new-energy plate
    ],
)
def test_mainland_formats(raw: str, plate: str | None) -> None:
    parsed = parse_plate(raw)
    assert (parsed.text if parsed else None) == plate


@pytest.mark.parametrize(
    ("layout", "plate"),
    [
        ("blue", "苏E·5Q7K2"),
        ("green", "浙A·D35812"),
        ("yellow", "鲁B·73250"),
        ("white_police", "京A·3062警"),
        ("black_hk", "粤Z·1234港"),
    ],
)
def test_rendered_plates_are_read_exactly(reader: PlateReader, layout: str, plate: str) -> None:
    case = make_case(7, 30.0, layout=layout, blur=0.6, plate=plate.replace("·", ""))
    result = reader.read(case.crop)
    assert result.text == case.plate and result.unread is None
    assert result.confidence >= reader.min_confidence
    x0, y0, x1, y1 = result.box
    assert x0 < (case.box[0] + case.box[2]) / 2 < x1 and y0 < (case.box[1] + case.box[3]) / 2 < y1


@pytest.mark.parametrize("index", [141, 196])
def test_a_province_the_recogniser_splits_between_two_scripts_is_read(reader: PlateReader, index: int) -> None:
    # black Hong Kong plates of the set whose 粤 the recogniser read as 粤 0.8 and 粵 0.2 (then
    # low_confidence, or the traditional form taken for a wrong character): one character for a plate
    case = make_case(1000 + index, float(np.linspace(10, 40, 200)[index]))
    assert case.layout == "black_hk" and case.plate.startswith("粤")
    result = reader.read(case.crop)
    assert (result.text, result.unread) == (case.plate, None) and result.confidence >= reader.min_confidence


def test_a_plate_the_colour_of_its_vehicle_is_found_by_its_characters() -> None:
    # a white police plate on the white van: no panel colour and no panel outline to find it by
    case = make_case(7, 30.0, layout="white_police", blur=0.6, plate="京A3062警", vehicle=0)
    row = text_rows(cv2.cvtColor(case.crop, cv2.COLOR_BGR2GRAY))[0]
    assert row.chars >= 5 and 0.8 * case.char_px <= row.char_px <= 1.2 * case.char_px
    x0, y0, x1, y1 = case.box
    assert (row.corners[:, 0] >= x0).all() and (row.corners[:, 0] <= x1).all()
    assert (row.corners[:, 1] >= y0).all() and (row.corners[:, 1] <= y1).all()


@pytest.mark.parametrize("index", [114, 109], ids=["province", "suffix"])
def test_a_chinese_character_the_line_drops_is_read_on_its_own(reader: PlateReader, index: int) -> None:
    # plates 114 and 109 of the bench's set: the recogniser, reading the plate's whole line, drops
    # its first (last) character (豫X·04Y40, 苏V·2706 警); the reader reads it again on its own
    case = make_case(1000 + index, float(np.linspace(10, 40, 200)[index]))
    x0, y0, x1, y1 = case.box
    line = TextRecogniser(DEFAULT_MODEL).read([case.crop[y0:y1, x0:x1]])[0]
    assert parse_plate(line.text) is None and line.text.replace("·", "") in (case.plate[1:], case.plate[:-1])
    result = reader.read(case.crop)
    assert result.text == case.plate and result.confidence >= reader.min_confidence


# Plates of the bench's set that each step of the reader is there for (each low_confidence or no_text
# on the reader before that step):
# - 92, 179 (京TD89256, 湘B4516警): the line reads the first (last) character wrongly or in doubt
#   (0.80, 0.71); read again on its own, among the characters that can stand there, it is sure;
# - 120 (粤Z5255澳): one framing read 港 where the two others read 澳: the plate most framings read;
# - 125 (琼S2667警): the blurred red 警, read alone, got 0.15-0.3 of the model's probability for the
#   characters that can stand there, the rest too little to share it;
# - 173 (晋HXZCQL, 36 px): only the framing without its rim reads the plate; the other two read
#   TH·XZCQL and HH·XZCQL, the panel's rim taken for a character, which is no plate and no vote;
# - 91, 176 (粤Z1651港, 贵G0327警): the line read 粤 (警) at 0.65 (0.54), the rest of that step on
#   characters no plate prints there, where the character's cell, read alone, gave the characters that
#   can stand there under 0.15: among those, at the line's own step, it is sure;
# - 77 (粤Z0725澳, black): no colour cue finds a black panel; its dark panel is a box of its own now;
# - 81 (苏Z9333警): the line read its office letter Z at 0.42, most of the rest of that step on a 2,
#   which never stands there: among the letters, the Z is sure.
SET_PLATES = {
    "doubtful-province": 92,
    "doubtful-suffix": 179,
    "framings-disagree": 120,
    "faint-suffix": 125,
    "one-framing-reads": 173,
    "province-judged-on-line": 91,
    "suffix-judged-on-line": 176,
    "black-panel": 77,
    "office-letter": 81,
}


@pytest.mark.parametrize("index", SET_PLATES.values(), ids=SET_PLATES.keys())
def test_a_plate_of_the_set_that_a_reader_step_is_for_is_read(reader: PlateReader, index: int) -> None:
    case = make_case(1000 + index, float(np.linspace(10, 40, 200)[index]))
    result = reader.read(case.crop)
    assert (result.text, result.unread) == (case.plate, None) and result.confidence >= reader.min_confidence


def test_an_office_letter_is_judged_among_letters_and_never_changed() -> None:
    probs = np.zeros((3, len(PLATE_CHARACTERS)), np.float32)
    probs[0, PLATE_CHARACTERS.index("苏")] = 0.99
    probs[1, PLATE_CHARACTERS.index("Z")] = 0.42  # a Z read beside a 2 the model likes better
    probs[1, PLATE_CHARACTERS.index("2")] = 0.5
    probs[2, PLATE_CHARACTERS.index("9")] = 0.99
    line = TextLine("苏Z·9", (0.99, 0.42, 0.9, 0.99), (0.1, 0.3, 0.4, 0.5), probs[[0, 1, 1, 2]])
    assert judge_office_letter(line).char_scores == (0.99, 1.0, 0.9, 0.99)
    two = TextLine("苏2·9", (0.99, 0.5, 0.9, 0.99), (0.1, 0.3, 0.4, 0.5), probs[[0, 1, 1, 2]])
    assert judge_office_letter(two) is two  # a digit read there stays a digit (and no plate): never rewritten
    probs[1, PLATE_CHARACTERS.index("B")] = 0.43
    doubted = TextLine("苏Z·9", (0.99, 0.42, 0.9, 0.99), (0.1, 0.3, 0.4, 0.5), probs[[0, 1, 1, 2]])
    assert judge_office_letter(doubted) is doubted  # the letters' share chooses B, not the Z read: as read


def test_a_black_panel_is_proposed_whole() -> None:
    # plate 118 of a set the reader was never tuned on (seed 5000: 粤Z7182港, black, 28 px): the stroke
    # rows found only 7182港 (IoU 0.58 with the plate) and the plate was unread, `too_small` after a
    # sliver of shadow; the dark panel is proposed as a whole
    index = 118
    case = make_case(5000 + index, float(np.linspace(10, 40, 200)[index]))
    assert case.layout == "black_hk"
    boxes = np.array([c.box for c in locate(case.crop)], np.float32)
    assert box_iou(boxes, np.array([case.box], np.float32)).max() >= 0.75


def test_a_plate_one_framing_reads_counts_unless_another_framing_reads_another_plate() -> None:
    assert agreed_plate(["粤Z7156澳"], 3) == "粤Z7156澳"  # the other two caught the vehicle beside it
    assert agreed_plate(["粤Z5255澳", "粤Z5255澳", "粤Z5255港"], 3) == "粤Z5255澳"  # most of them
    assert agreed_plate(["粤Z5255澳", "粤Z5255港"], 3) is None  # one each: no plate to trust
    assert agreed_plate([], 3) is None


def test_a_character_is_chosen_among_those_that_can_stand_there_only_where_they_hold_enough() -> None:
    probs = np.zeros((1, len(PLATE_CHARACTERS)), np.float32)
    probs[0, PLATE_CHARACTERS.index("苏")] = 0.42  # the rest of the step on characters no plate prints
    probs[0, PLATE_CHARACTERS.index("鲁")] = 0.02
    line = TextLine("苏", (0.42,), (0.5,), probs)
    assert line.choose(0, PROVINCES) == ("苏", pytest.approx(0.42 / 0.44))
    assert line.choose(0, SUFFIXES) is None  # 0 of the step on 警 学 挂 港 澳 领: not one of them
    probs[0] = 0.0
    probs[0, PLATE_CHARACTERS.index("苏")] = 0.1  # under MIN_CHARACTER_MASS: the model saw something else
    assert TextLine("苏", (0.1,), (0.5,), probs).choose(0, PROVINCES) is None


def test_a_too_small_plate_is_unread_with_its_reason(reader: PlateReader) -> None:
    case = make_case(11, 10.0, layout="blue")
    result = reader.read(case.crop)
    assert result.text is None and result.unread is Unread.TOO_SMALL
    assert result.char_px < reader.min_char_px


def test_a_smeared_plate_is_unread_not_guessed(reader: PlateReader) -> None:
    case = make_case(12, 30.0, layout="blue", blur=5.0)
    result = reader.read(case.crop)
    assert result.text is None and result.unread is not None


def test_plates_are_for_vehicle_rules_only() -> None:
    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    data["cameras"][0]["zones"][1]["rules"][0]["plates"] = True  # the street-vendor rule counts people
    with pytest.raises(ConfigError, match=r"zone 'plaza' rule 'street-vendor': plates: true is for vehicle") as error:
        parse_config(data, DEMO_CONFIG.parent)
    assert "规则 'street-vendor'：plates: true 只用于车辆类别" in translate(str(error.value), CHINESE)


def _plate_config(tmp_path: Path, **rule: object) -> EdgeConfig:
    """The demo config with one camera reading composite.mp4 and one 0505 rule with plates at SPOT."""
    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    camera = data["cameras"][0]
    camera["source"] = {"url": "composite.mp4"}
    x, y = SPOT[0] / 768, SPOT[1] / 576
    parked = {
        "id": "parked",
        "kind": "dwell",
        "event_code": "0505",
        "classes": ["car", "truck", "bus"],
        "min_score": 0.25,
        "min_duration_s": 5,
        "plates": True,
        **rule,
    }
    polygon = [[x - 0.1, y - 0.1], [x + 0.3, y - 0.1], [x + 0.3, y + 0.4], [x - 0.1, y + 0.4]]
    camera["zones"] = [{"id": "kerb", "name": "No parking at the kerb", "polygon": polygon, "rules": [parked]}]
    data["models"][0]["path"] = str(REPO / "models" / "centernet-mbv3-coco.onnx")
    data["storage"] = {"dir": str(tmp_path / "storage")}
    return parse_config(data, tmp_path)


def _composite(path: Path, parked: list[tuple[float, float, np.ndarray]], seconds: float, fps: int = 2) -> None:
    """An H.264 clip of the empty road at SCALE x: each (start, end, vehicle) stands at SPOT meanwhile."""
    road = cv2.resize(empty_road(), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "20", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = road.shape[1], road.shape[0], "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for index in range(int(seconds * fps)):
            t = index / fps
            image = road.copy()
            for start, end, vehicle in parked:
                if start <= t < end:
                    x, y = SPOT[0] * SCALE, SPOT[1] * SCALE
                    image[y : y + vehicle.shape[0], x : x + vehicle.shape[1]] = vehicle
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_a_replayed_composite_clip_gives_its_0505_case_with_the_right_plate(tmp_path: Path) -> None:
    van = make_case(21, 24.0, layout="blue", blur=0.6, plate="沪A6K325", vehicle=0)
    _composite(tmp_path / "composite.mp4", [(0.0, 12.0, van.crop)], 12.0)
    config = _plate_config(tmp_path)
    result = replay_clip(config, tmp_path / "composite.mp4", tmp_path / "run", epoch=EPOCH)
    new = [m for m in result.messages if m.kind == "new"]
    assert len(new) == 1
    body = new[0].body
    jsonschema_rs.validator_for(case_json_schema()).validate(body)
    plate = body["detection"]["plate"]
    assert (plate["text"], plate["display"], plate["unread"]) == ("沪A6K325", "沪A·6K325", None)
    assert plate["picture"] == "01-full.jpg" and plate["confidence"] >= 0.9
    # the plate's box lies inside the vehicle's, in the frame's pixels
    vx0, vy0, vx1, vy1 = body["detection"]["box"]
    px0, py0, px1, py1 = plate["box"]
    assert vx0 <= px0 < px1 <= vx1 and vy0 <= py0 < py1 <= vy1
    pictures = {e["kind"]: e["name"] for e in body["evidence"]}
    enlarged = cv2.imdecode(np.frombuffer(new[0].pictures[pictures["plate"]], np.uint8), cv2.IMREAD_COLOR)
    assert enlarged.shape[0] >= 100 and enlarged.shape[1] > 2 * enlarged.shape[0]
    console = Console(record=True, width=240)
    console.print(case_table(result.messages, CHINESE))
    table = console.export_text()
    assert "车牌" in table and "沪A·6K325" in table


PLATES = ("沪A6K325", "沪B29J71")


def _the_van_twice(tmp_path: Path, plates: tuple[str, str], leaves_s: float, **rule: object) -> ReplayResult:
    """A replay of the same van parked until `leaves_s` and again from 13 s, with the two plates."""
    first, second = (make_case(21, 24.0, layout="blue", blur=0.6, plate=p, vehicle=0) for p in plates)
    _composite(tmp_path / "composite.mp4", [(0.0, leaves_s, first.crop), (13.0, 24.0, second.crop)], 24.0)
    config = _plate_config(tmp_path, **rule)
    return replay_clip(config, tmp_path / "composite.mp4", tmp_path / "run", epoch=EPOCH)


@pytest.mark.parametrize(
    ("plates", "cases"),
    [(("沪A6K325", "沪B29J71"), ["沪A6K325", "沪B29J71"]), (("沪A6K325", "沪A6K325"), ["沪A6K325"])],
    ids=["another-car-is-a-new-case", "the-same-car-back-keeps-its-case"],
)
def test_two_cars_parked_one_after_the_other_are_two_cases_with_two_plates(
    tmp_path: Path, plates: tuple[str, str], cases: list[str]
) -> None:
    # the same van twice, only its plate may differ: by its look alone it is one vehicle coming back
    result = _the_van_twice(tmp_path, plates, leaves_s=9.0)
    new = [m for m in result.messages if m.kind == "new"]
    assert [m.body["detection"]["plate"]["text"] for m in new] == cases
    assert len({m.case_id for m in new}) == len(cases)
    cleared = [m for m in result.messages if m.kind == "cleared"]
    assert [m.body["reason"] for m in cleared] == ["plate_changed"] * (len(cases) - 1)


@pytest.mark.parametrize(
    ("plates", "kinds"),
    [(("沪A6K325", "沪A6K325"), ["new", "cleared", "update"]), (("沪A6K325", "沪B29J71"), ["new", "cleared", "new"])],
    ids=["the-same-plate-back-reopens-its-case", "another-plate-is-a-new-case"],
)
def test_a_vehicle_back_within_the_re_report_window_joins_its_cleared_case_by_its_plate(
    tmp_path: Path, plates: tuple[str, str], kinds: list[str]
) -> None:
    # the same van twice, gone long enough for its case to clear: only the plate tells the two apart
    result = _the_van_twice(tmp_path, plates, leaves_s=8.0, clear_after_s=2, re_report_s=60)
    assert [m.kind for m in result.messages] == kinds
    back = result.messages[-1].body
    jsonschema_rs.validator_for(case_json_schema()).validate(back)
    assert back["detection"]["plate"]["text"] == plates[1]
    if plates[0] == plates[1]:  # one case: reopened by its plate, one more capture
        assert len({m.case_id for m in result.messages}) == 1
        assert (back["seq"], back["reason"], back["repeat_count"], back["times"]["cleared"]) == (
            3,
            "plate_returned",
            2,
            None,
        )
    else:
        assert result.messages[0].case_id != result.messages[-1].case_id
        assert (back["seq"], back["reason"], back["repeat_count"]) == (1, None, 1)


def test_a_vehicle_back_after_a_restart_still_joins_its_cleared_case_by_its_plate(tmp_path: Path) -> None:
    # the worker stops after the van's case cleared and starts again (the same state file) before it is back
    van = make_case(21, 24.0, layout="blue", blur=0.6, plate="沪A6K325", vehicle=0).crop
    _composite(tmp_path / "before.mp4", [(0.0, 8.0, van)], 11.0)
    _composite(tmp_path / "after.mp4", [(0.0, 7.0, van)], 7.0)
    config = _plate_config(tmp_path, clear_after_s=2, re_report_s=60)
    before = replay_clip(config, tmp_path / "before.mp4", tmp_path / "run", epoch=EPOCH)
    assert [m.kind for m in before.messages] == ["new", "cleared"]
    after = replay_clip(config, tmp_path / "after.mp4", tmp_path / "run", epoch=EPOCH + 12)
    assert [(m.kind, m.case_id, m.seq) for m in after.messages] == [("update", before.messages[0].case_id, 3)]
    back = after.messages[0].body
    assert (back["reason"], back["repeat_count"]) == ("plate_returned", 2)
    assert back["detection"]["plate"]["text"] == "沪A6K325"


def test_a_vehicle_back_whose_first_pictures_show_no_plate_is_read_again(tmp_path: Path) -> None:
    # another van stands at the open case's place; for its first second a smear hides its plate (the
    # readings give none), then the plate shows: a later reading, not the first, tells the two apart
    first, second = (make_case(21, 24.0, layout="blue", blur=0.6, plate=p, vehicle=0) for p in PLATES)
    x0, y0, x1, y1 = second.box
    smeared = second.crop.copy()
    smeared[y0:y1, x0:x1] = cv2.GaussianBlur(smeared[y0:y1, x0:x1], (0, 0), 8)
    parked = [(0.0, 9.0, first.crop), (13.0, 14.0, smeared), (14.0, 24.0, second.crop)]
    _composite(tmp_path / "composite.mp4", parked, 24.0)
    result = replay_clip(_plate_config(tmp_path), tmp_path / "composite.mp4", tmp_path / "run", epoch=EPOCH)
    assert [(m.kind, m.body["reason"]) for m in result.messages] == [
        ("new", None),
        ("cleared", "plate_changed"),
        ("new", None),
    ]
    assert [m.body["detection"]["plate"]["text"] for m in result.messages if m.kind == "new"] == list(PLATES)


def test_another_car_at_an_open_case_s_place_after_a_restart_is_a_new_case(tmp_path: Path) -> None:
    # the worker is down for a second while one van gives way to another, alike but for its plate:
    # the restarted run reads what stands at the open case's place, against the plate stored (28 px
    # characters: the restarted run's first pictures read, which the test needs, not the reader)
    first, second = (make_case(21, 28.0, layout="blue", blur=0.6, plate=p, vehicle=0).crop for p in PLATES)
    _composite(tmp_path / "before.mp4", [(0.0, 7.0, first)], 7.0)
    _composite(tmp_path / "after.mp4", [(0.0, 7.0, second)], 7.0)
    config = _plate_config(tmp_path)
    before = replay_clip(config, tmp_path / "before.mp4", tmp_path / "run", epoch=EPOCH)
    assert [m.kind for m in before.messages] == ["new"]
    after = replay_clip(config, tmp_path / "after.mp4", tmp_path / "run", epoch=EPOCH + 8)
    assert [(m.kind, m.body["reason"]) for m in after.messages] == [("cleared", "plate_changed"), ("new", None)]
    assert after.messages[0].case_id == before.messages[0].case_id != after.messages[1].case_id
    assert after.messages[1].body["detection"]["plate"]["text"] == PLATES[1]


def test_with_privacy_the_plates_of_other_vehicles_are_blurred_and_the_subjects_kept(reader: PlateReader) -> None:
    subject = make_case(31, 28.0, layout="blue", blur=0.6, plate="苏E5Q7K2", vehicle=0).crop
    other = make_case(32, 28.0, layout="green", blur=0.6, plate="浙AD35812", vehicle=0).crop
    height = max(subject.shape[0], other.shape[0])
    image = np.zeros((height, subject.shape[1] + other.shape[1], 3), np.uint8)
    image[: subject.shape[0], : subject.shape[1]] = subject
    image[: other.shape[0], subject.shape[1] :] = other
    boxes = np.float32(
        [[0, 0, subject.shape[1], subject.shape[0]], [subject.shape[1], 0, image.shape[1], other.shape[0]]]
    )
    assert [reader.read(image[: int(b[3]), int(b[0]) : int(b[2])]).text for b in boxes] == ["苏E5Q7K2", "浙AD35812"]
    shown = Redactor(PrivacyConfig(enabled=True)).image(
        image, Bystanders(np.zeros((0, 4), np.float32), boxes), boxes[:1]
    )
    reads = [reader.read(shown[: int(b[3]), int(b[0]) : int(b[2])]) for b in boxes]
    assert reads[0].text == "苏E5Q7K2"
    assert reads[1].text is None


def test_a_missing_recogniser_model_is_a_model_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"plate recogniser model .*nowhere\.onnx does not exist"):
        PlateReader(tmp_path / "nowhere.onnx")


def test_a_recogniser_that_cannot_read_plate_characters_is_a_model_error_naming_them(tmp_path: Path) -> None:
    # a text model for another script (here: the bundled one with a Latin-only dictionary) would read
    # every province as some other character: refused at load, not left to read no plate forever
    model = onnx.load(str(DEFAULT_MODEL))
    for prop in model.metadata_props:
        if prop.key == "character":
            prop.value = "\n".join("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ·")
    path = tmp_path / "latin.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"latin\.onnx cannot read the plate characters \S*京\S*粤\S*$"):
        PlateReader(path)


def test_a_live_camera_gets_its_plate_without_the_analysis_waiting_for_it(tmp_path: Path) -> None:
    # the live path: the message waits (bounded) while later frames are analysed, then goes with its plate
    van = make_case(21, 24.0, layout="blue", blur=0.6, plate="沪A6K325", vehicle=0).crop
    road = cv2.resize(empty_road(), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    scene = road.copy()
    scene[SPOT[1] * SCALE : SPOT[1] * SCALE + van.shape[0], SPOT[0] * SCALE : SPOT[0] * SCALE + van.shape[1]] = van
    config = _plate_config(tmp_path)
    camera = config.cameras[0]
    model = street_detector(config)
    service = PlateService(config)
    sent: list[CaseMessage] = []
    plates = PlateAttacher(service, config, camera, wall_bound=True)
    pipeline = CameraPipeline(
        config, camera.id, tmp_path / "state.db", {"coco": model.class_names}, sent.append, plates=plates
    )
    try:
        for index in range(20):
            t = index / 2
            frame = Frame(camera.id, scene, t, EPOCH + t, index)
            admission = pipeline.admit(frame)
            found = model.detect([scene], [admission.region])[0] if admission.models else None
            pipeline.analyse(frame, {"coco": found} if found is not None else {})
        service.close()  # every reading done: what the last frames did not release goes now, with its plate
        pipeline.finish()
    finally:
        pipeline.close()
    new = [m for m in sent if m.kind == "new"]
    assert len(new) == 1 and new[0].body["detection"]["plate"]["text"] == "沪A6K325"


def test_a_message_a_full_disk_kept_back_still_carries_its_plate(tmp_path: Path) -> None:
    # the outbox on a real small disk that fills up: refused messages stay in the camera's state file;
    # one goes on a later frame (the reading kept), one at the next start (read on its own crop picture)
    van = make_case(21, 24.0, layout="blue", blur=0.6, plate="沪A6K325", vehicle=0).crop
    road = cv2.resize(empty_road(), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    scene = road.copy()
    scene[SPOT[1] * SCALE : SPOT[1] * SCALE + van.shape[0], SPOT[0] * SCALE : SPOT[0] * SCALE + van.shape[1]] = van
    config = _plate_config(tmp_path, re_report_s=3)
    camera = config.cameras[0]
    model = street_detector(config)

    def run(disk: Path, frames: list[tuple[float, bool]], live: bool) -> None:
        """One worker run: a frame per (media time, disk full), then the stop."""
        outbox = Outbox(disk / "outbox.db", min_free_mb=1)
        service = PlateService(config)
        plates = PlateAttacher(service, config, camera, wall_bound=live)
        pipeline = CameraPipeline(
            config, camera.id, tmp_path / "state.db", {"coco": model.class_names}, outbox.put, plates=plates
        )
        try:
            for t, full in frames:
                if full:
                    fill_up(disk / "filler")
                else:
                    (disk / "filler").unlink(missing_ok=True)
                frame = Frame(camera.id, scene, t, EPOCH + t, int(t * 2))
                admission = pipeline.admit(frame)
                found = model.detect([scene], [admission.region])[0] if admission.models else None
                pipeline.analyse(frame, {"coco": found} if found is not None else {})
            service.close()
            pipeline.finish()
        finally:
            pipeline.close()
            outbox.close()

    with small_disk(tmp_path / "disk", 16) as disk:
        # "new" at 5 s refused until the disk has room at 7 s; the "update" at 8 s refused until the stop
        run(disk, [(index / 2, index < 14 or index >= 16) for index in range(20)], live=False)  # as a replay
        (disk / "filler").unlink()
        run(disk, [], live=True)  # the next start, as the worker's: what the state file kept goes first
        outbox = Outbox(disk / "outbox.db", min_free_mb=1)
        delivered: list[CaseMessage] = []
        try:
            while items := outbox.next_ready_batch(EPOCH + 1e6, (), 10):  # a case's messages one at a time
                outbox.mark_delivered(*(i.pk for i in items))
                delivered += [i.message for i in items]
        finally:
            outbox.close()
    assert [(m.kind, m.body["detection"]["plate"]["text"]) for m in delivered] == [
        ("new", "沪A6K325"),
        ("update", "沪A6K325"),
    ]
