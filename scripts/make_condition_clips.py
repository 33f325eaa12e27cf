"""Day, night and weather clips of the bundled vtest, with `edge eval` truth files and a scene config.

For each condition of tests/conditions.py (dusk, infrared and back, rain, wind, gusts, a streetlight
at dusk, headlights at night with the auto-gain overshooting, a cloud's shadow) the clip with nothing
else happening: its truth is the two parked vehicles only, so any static-object case or device
fault is the condition's doing. For dusk and infrared, the litter and
tamper composite of tests/test_replay_scene.py (a litter on the road, then a re-aim, a covered lens
and a blur) with night falling over it: its truth adds the litter case and the three device faults.

The config (`scene.yaml`) is the demo's parked-vehicle zone, plus class-agnostic static-object rules
on the road and on the lawn, with the scene model on and 1 analysed frame per second. Deterministic.

Usage: .venv/bin/python scripts/make_condition_clips.py OUT_DIR
       .venv/bin/edge eval -c OUT_DIR/scene.yaml OUT_DIR/*.truth.yaml --out OUT_DIR/report
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conditions import CONDITIONS, NIGHT, combined  # noqa: E402
from scene_clips import CLIP_S, write_clip  # noqa: E402
from test_replay_scene import LITTER_ON, TAMPER, scene_config  # noqa: E402
from test_replay_scene import edit as litter_and_tamper  # noqa: E402

LAWN = [[0.0, 0.8], [0.3, 0.8], [0.3, 1.0], [0.0, 1.0]]
EVENTS_S = 115.0  # the litter and tamper composite's length


def config(storage: Path) -> dict:
    data = scene_config(Path("dusk.mp4"), storage)  # each truth file names its own clip
    data["models"][0]["path"] = str(REPO / "models" / Path(data["models"][0]["path"]).name)
    camera = data["cameras"][0]
    rules = [r for z in camera["zones"] for r in z["rules"] if r["kind"] == "static_object"]
    lawn = {**rules[0], "id": "lawn-litter"}
    camera["zones"].append({"id": "lawn", "polygon": LAWN, "rules": [lawn]})
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    parked = yaml.safe_load((REPO / "streams" / "vtest.truth.yaml").read_text())["expected"]
    cfg = config(out / "var")
    (out / "scene.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    for name, edit in CONDITIONS.items():
        clip = write_clip(out / f"{name}.mp4", edit, fps=4.0, end=CLIP_S)
        truth = {"version": 1, "clip": clip.name, "camera": "campus-north", "expected": parked, "faults": []}
        (out / f"{name}.truth.yaml").write_text(yaml.safe_dump(truth, sort_keys=False))
        print(f"{name}: {clip}")
    litter = {"id": "litter", "event": "0102", "zone": "road", "window": [LITTER_ON, LITTER_ON + 25]}
    faults = [{"id": kind, "kind": kind, "window": list(window)} for kind, window in TAMPER.items()]
    for name, night in NIGHT.items():
        clip = write_clip(out / f"events-{name}.mp4", combined(litter_and_tamper, night), fps=4.0, end=EVENTS_S)
        truth = {"version": 1, "clip": clip.name, "camera": "campus-north", "expected": [*parked, litter]}
        (out / f"events-{name}.truth.yaml").write_text(yaml.safe_dump({**truth, "faults": faults}, sort_keys=False))
        print(f"events-{name}: {clip}")


if __name__ == "__main__":
    main()
