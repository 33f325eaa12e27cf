"""ZoneStore: versions, history, adopting the config file, and crash safety with real SIGKILLs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from test_api_support import BOTTOM_LEFT, CAMERA, REPO, TOP_RIGHT, demo_config

from edge.config import ConfigError, ZoneConfig
from edge.zones.store import ZoneStore


def make_zone(zone_id: str, polygon: list[list[float]] = TOP_RIGHT, model: str = "coco") -> ZoneConfig:
    rule = {"id": "parked", "event_code": "0505", "classes": ["car"], "model": model}
    return ZoneConfig.model_validate({"id": zone_id, "polygon": polygon, "rules": [rule]})


def test_adopt_seeds_version_one_then_saves_count_up_with_history(tmp_path):
    store = ZoneStore(tmp_path / "zones.json", keep=3)
    assert store.load().version == 0
    config, versions = store.adopt(demo_config(tmp_path))
    assert versions == {CAMERA: 1}
    assert [z.id for z in store.camera(CAMERA).zones] == ["no-parking-gate", "plaza"]
    assert [z.id for z in config.camera(CAMERA).zones] == ["no-parking-gate", "plaza"]

    for n in range(2, 6):
        assert store.save(CAMERA, [make_zone(f"z{n}")], note=f"edit {n}") == n
    assert store.camera(CAMERA).version == 5
    assert [z.id for z in store.camera(CAMERA).zones] == ["z5"]
    history = store.history()
    assert [s.version for s in history] == [5, 4, 3]  # keep=3 pruned versions 1 and 2
    assert history[1].note == "edit 4" and history[1].changed == (CAMERA,)
    assert [z.id for z in store.at(4).cameras[CAMERA].zones] == ["z4"]
    assert store.at(1) is None and store.at(99) is None

    reopened = ZoneStore(tmp_path / "zones.json", keep=3)
    assert reopened.load().version == 5
    assert reopened.camera(CAMERA).zones == store.camera(CAMERA).zones


def test_restart_keeps_edited_zones_unless_the_config_file_changed(tmp_path):
    path = tmp_path / "zones.json"
    ZoneStore(path).adopt(demo_config(tmp_path))
    ZoneStore(path).save(CAMERA, [make_zone("edited")])

    # Same config file at restart: the operator's edit is what runs, at its version.
    config, versions = ZoneStore(path).adopt(demo_config(tmp_path))
    assert [z.id for z in config.camera(CAMERA).zones] == ["edited"]
    assert versions == {CAMERA: 2}

    # The config file's zones were edited by hand: that newer intent wins, as a new version.
    changed = demo_config(tmp_path)
    changed.cameras[0].zones = [make_zone("from-file", BOTTOM_LEFT)]
    store = ZoneStore(path)
    config, versions = store.adopt(changed)
    assert [z.id for z in config.camera(CAMERA).zones] == ["from-file"]
    assert versions == {CAMERA: 3}
    assert [z.id for z in store.at(2).cameras[CAMERA].zones] == ["edited"]  # nothing lost


def test_stored_zones_that_no_longer_fit_the_config_give_a_clear_error(tmp_path):
    path = tmp_path / "zones.json"
    ZoneStore(path).adopt(demo_config(tmp_path))
    ZoneStore(path).save(CAMERA, [make_zone("z", model="other")])
    with pytest.raises(ConfigError, match=r"stored zones no longer fit the config:\n.*unknown model 'other'"):
        ZoneStore(path).adopt(demo_config(tmp_path))


def test_unknown_camera_is_refused(tmp_path):
    store = ZoneStore(tmp_path / "zones.json")
    with pytest.raises(ConfigError, match="camera 'nope' is unknown; adopt the config first"):
        store.save("nope", [make_zone("z")])


def test_broken_current_file_is_moved_aside_and_newest_history_restored(tmp_path):
    path = tmp_path / "zones.json"
    store = ZoneStore(path)
    store.adopt(demo_config(tmp_path))
    store.save(CAMERA, [make_zone("good")])
    path.write_bytes(b'{"format": 1, "version": 3, "cam')  # e.g. a disk that lied about a write

    restored = ZoneStore(path)
    assert restored.load().version == 2
    assert [z.id for z in restored.camera(CAMERA).zones] == ["good"]
    assert json.loads(path.read_text())["version"] == 2
    [aside] = tmp_path.glob("zones.json.broken-*")
    assert aside.read_bytes().startswith(b'{"format": 1, "version": 3')


def test_nothing_readable_at_all_is_an_error_not_an_empty_store(tmp_path):
    path = tmp_path / "zones.json"
    ZoneStore(path).adopt(demo_config(tmp_path))
    path.write_text("not json")
    for kept in (tmp_path / "zones.json.history").glob("*.json"):
        kept.write_text("{}")
    with pytest.raises(ConfigError, match=r"zones.json is unreadable .*not valid JSON.* no intact history"):
        ZoneStore(path)


SAVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_api_support import demo_config
    from test_zones_store import make_zone
    from edge.zones.store import ZoneStore
    from pathlib import Path

    root = Path({root!r})
    store = ZoneStore(root / "zones.json", keep=5)
    store.adopt(demo_config(root))
    n = 0
    while True:
        n += 1
        zones = [make_zone(f"z{{n}}-{{i}}", [[0.01 * (i % 50), 0.0], [1.0, 0.0], [1.0, 1.0]]) for i in range(40)]
        version = store.save("campus-north", zones)
        print(version, flush=True)
    """
)


def test_sigkill_mid_save_leaves_the_old_or_the_new_version(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(SAVER.format(tests=str(REPO / "tests"), root=str(tmp_path)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for round_ in range(3):
        child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
        try:
            committed = 0
            for _ in range(5 + 7 * round_):  # kill at a different point of the save loop each round
                committed = int(child.stdout.readline())
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        store = ZoneStore(tmp_path / "zones.json", keep=5)
        snapshot = store.load()
        assert snapshot.version >= committed  # every save that returned is on disk
        zones = snapshot.cameras[CAMERA].zones
        assert len(zones) == 40 and len({z.id.split("-")[0] for z in zones}) == 1  # one whole version
        assert not list(tmp_path.glob(".zones.json.*.tmp"))  # a half-written temp file is cleaned up
