"""`edge run` that cannot start says why and leaves nothing behind: no zones file, no state, no outbox."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from conftest import DEMO_CONFIG, EDGE, REPO


def test_a_rule_naming_a_class_the_model_lacks_fails_before_anything_is_written(tmp_path: Path, edge_env) -> None:
    data = yaml.safe_load(DEMO_CONFIG.read_text())
    data["cameras"][0]["zones"][0]["rules"][0]["classes"] = ["car", "lorry"]  # COCO says truck
    data["cameras"][0]["source"]["url"] = str(REPO / "streams" / "vtest.avi")
    data["models"][0]["path"] = str(REPO / "models" / "centernet-mbv3-coco.onnx")
    storage = tmp_path / "storage"
    data["storage"]["dir"] = str(storage)
    config = tmp_path / "edge.yaml"
    config.write_text(yaml.safe_dump(data))
    done = subprocess.run(
        [*EDGE, "run", "--config", str(config)], capture_output=True, text=True, timeout=120, env=edge_env
    )
    assert done.returncode == 2, done.stderr
    assert "lorry" in done.stderr and "Traceback" not in done.stderr
    assert not storage.exists() or not any(storage.rglob("*")), sorted(storage.rglob("*"))
