"""Startup checks: a model that does not fit fails at load with a message naming the model and the problem."""

import os
from pathlib import Path

import numpy as np
import pytest
from onnx_graphs import NAMES, Out, build, model, names_json, yolov8

from edge.config import InferenceConfig, ModelConfig
from edge.infer import ModelError, load_detector, thread_plan

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "models" / "centernet-mbv3-coco.onnx"


def fails(path: Path, match: str, **kw) -> None:
    with pytest.raises(ModelError, match=match) as info:
        load_detector(ModelConfig(id="cam-model", path=path, **kw))
    assert "'cam-model'" in str(info.value)


def test_not_an_onnx_file(tmp_path: Path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"this is not a protobuf")
    fails(path, r"onnxruntime cannot load it")


def test_missing_file(tmp_path: Path):
    fails(tmp_path / "gone.onnx", r"gone.onnx\): file does not exist")


def test_two_inputs(tmp_path: Path):
    path = build(tmp_path / "m.onnx", yolov8(), ["batch", 3, 320, 320], metadata=names_json(NAMES), extra_inputs=1)
    fails(path, r"has 2 inputs \['images', 'extra0'\]")


def test_input_that_is_not_an_image(tmp_path: Path):
    path = build(tmp_path / "m.onnx", yolov8(), ["batch", 5, 320, 320], metadata=names_json(NAMES))
    fails(path, r"input 'images' has shape \['batch', 5, 320, 320\]; expected \[N,3,H,W\] or \[N,H,W,3\]")


def test_dynamic_size_without_a_hint(tmp_path: Path):
    path = build(tmp_path / "m.onnx", yolov8(), ["batch", 3, "h", "w"], metadata=names_json(NAMES))
    fails(path, r"dynamic image size.*set 'input_size: \[width, height\]'")


def test_outputs_that_fit_no_format(tmp_path: Path):
    path = model(tmp_path, [Out("logits", np.zeros(7, np.float32))])
    fails(path, r"outputs logits \[1, 7\] don't fit any supported format; supported: centernet")


def test_class_count_differs_from_names(tmp_path: Path):
    path = model(tmp_path, yolov8(), metadata=names_json(["a", "b"]))
    fails(path, r"outputs output0 \[1, 7, 16\] carry 3 \(yolov8\) classes but 2 class names were given")


def test_format_in_config_that_does_not_fit(tmp_path: Path):
    fails(model(tmp_path, yolov8()), r"don't fit format 'yolov5' \(set in the config\)", format="yolov5")


def test_no_names_anywhere(tmp_path: Path):
    fails(model(tmp_path, yolov8(), metadata={}), r"has no class names.*set 'labels:'")


def test_unreadable_names_metadata(tmp_path: Path):
    fails(model(tmp_path, yolov8(), metadata={"names": "person, car"}), r"metadata 'names' cannot be read")


@pytest.mark.parametrize(
    ("text", "match"),
    [(None, r"labels file .*labels.txt does not exist"), ("", r"is empty"), ("a\n\nb\n", r"blank lines at \[2\]")],
)
def test_bad_labels_file(tmp_path: Path, text: str | None, match: str):
    labels = tmp_path / "labels.txt"
    if text is not None:
        labels.write_text(text)
    fails(model(tmp_path, yolov8(), metadata={}), match, labels=labels)


@pytest.mark.parametrize(("provider", "hint"), [("cuda", "onnxruntime-gpu"), ("openvino", "onnxruntime-openvino")])
def test_provider_asked_for_but_not_installed(provider: str, hint: str):
    fails(BUNDLED, rf"\['{provider}'\] asked for but not available.*{hint}", providers=[provider, "cpu"])


def test_thread_plan_names_what_the_engine_and_sessions_run_on():
    cores = len(os.sched_getaffinity(0))
    plan = thread_plan(InferenceConfig(), ModelConfig(id="m", path=BUNDLED))
    assert (plan.runners, plan.intra_op, plan.cores) == (2, max(1, cores - 1), cores)  # 0 = all cores but one
    plan = thread_plan(InferenceConfig(runners=3), ModelConfig(id="m", path=BUNDLED, intra_op_threads=2))
    assert plan.model_threads == 4  # three calling threads share the session's pool of one
    assert str(plan).startswith("3 runners x 2 intra-op threads (pool shared): up to 4 threads in the model on ")


def test_cpu_provider_and_default_threads_load():
    detector = load_detector(ModelConfig(id="cam-model", path=BUNDLED))
    assert detector.providers == ["CPUExecutionProvider"]
