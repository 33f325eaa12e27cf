"""Config: the demo config loads; every kind of mistake names the field and the problem."""

from pathlib import Path

import pytest
import yaml

from edge.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "streams" / "demo.yaml"


def demo_data() -> dict:
    return yaml.safe_load(DEMO.read_text())


def test_demo_config_loads_and_resolves_paths():
    cfg = load_config(DEMO)
    assert cfg.models[0].path == REPO / "models" / "centernet-mbv3-coco.onnx"
    camera = cfg.cameras[0]
    assert Path(camera.source.url) == REPO / "streams" / "vtest.avi"
    assert camera.location.grid_code == "310101001001001"
    rule = camera.zones[0].rules[0]
    assert rule.event_code == "0505" and rule.model == "coco"


def _mutated(mutate) -> dict:
    data = demo_data()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (
            lambda d: d["cameras"][0]["zones"][0].update(polygon=[[0, 0], [1, 0]]),
            "cameras[0].zones[0].polygon",
            "3 to 20",
        ),
        (
            lambda d: d["cameras"][0]["zones"][0].update(polygon=[[0, 0], [1, 1], [1, 0], [0, 1]]),
            "cameras[0].zones[0].polygon",
            "self-intersecting",
        ),
        (lambda d: d["cameras"][0]["location"].update(grid_code="12345"), "cameras[0].location.grid_code", "15 digits"),
        (lambda d: d["cameras"][0].update(timezone="Mars/Olympus"), "cameras[0].timezone", "unknown time zone"),
        (lambda d: d["cameras"][0]["zones"][0]["rules"][0].update(event_code="9999"), "", "unknown event code '9999'"),
        (lambda d: d["cameras"][0]["zones"][0]["rules"][0].update(model="yolo"), "", "unknown model 'yolo'"),
        (  # event_code: 0505 unquoted in YAML is the octal number 325
            lambda d: d["cameras"][0]["zones"][0]["rules"][0].update(event_code=0o505),
            "cameras[0].zones[0].rules[0].event_code",
            "must be quoted like '0505'",
        ),
        (
            lambda d: d["cameras"][0]["zones"][0]["rules"][0].update(event_code="0102", classes=[]),
            "camera 'campus-north' zone 'no-parking-gate' rule 'parked-vehicle'",
            "event 0102 has no default classes",
        ),
        (lambda d: d["cameras"][0]["zones"][0]["rules"][0].update(min_score=1.5), "min_score", "less than or equal"),
        (lambda d: d["cameras"][0].update(colour="red"), "cameras[0].colour", "Extra inputs are not permitted"),
        (lambda d: d.update(version=7), "", "version 7 is not supported"),
    ],
)
def test_invalid_config_names_field_and_problem(mutate, field, problem):
    with pytest.raises(ConfigError) as err:
        parse_config(_mutated(mutate), DEMO.parent, origin="demo.yaml")
    message = str(err.value)
    assert field in message and problem in message
    assert message.startswith("demo.yaml is invalid")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(scalar)
