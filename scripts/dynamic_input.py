"""Declare the bundled CenterNet's image height and width dynamic, so zones can be cropped.

The converted graph (models/README.md) has no size-dependent constants: its convolutions, pools and
upsampling follow the input, so it runs at any height and width that are multiples of 32. Only the declared
shapes said 512. This script rewrites the
input `images` to [batch, height, width, 3], the outputs to [batch, rows, columns, 80] and
[batch, 4, rows, columns], drops the stored intermediate shapes (onnxruntime infers them), and
records the size the model was trained at as `imgsz` metadata ([512, 512]), which is what the
worker resizes a whole frame to. Weights and nodes are untouched.

Usage: .venv/bin/python scripts/dynamic_input.py models/centernet-mbv3-coco.onnx [--check]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

SIZE = 512


def make_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    image = model.graph.input[0].type.tensor_type.shape.dim
    image[1].dim_param, image[2].dim_param = "height", "width"
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        spatial = (1, 2) if output.name == "peaks" else (2, 3)
        dims[spatial[0]].dim_param, dims[spatial[1]].dim_param = "rows", "columns"
    del model.graph.value_info[:]
    meta = {p.key: p for p in model.metadata_props}
    for key, value in {
        "imgsz": f"[{SIZE}, {SIZE}]",
        "input": f"images: float32 [batch,height,width,3] RGB 0..255, trained at {SIZE}x{SIZE} (a whole frame is "
        "resized to it); height and width multiples of 32",
    }.items():
        if key in meta:
            meta[key].value = value
        else:
            model.metadata_props.add(key=key, value=value)
    return model


def check(before: Path, after: Path) -> None:
    """The rewritten model gives the original's outputs on a 512 x 512 input, and runs at other sizes."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (1, SIZE, SIZE, 3)).astype(np.float32)
    old, new = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (before, after))
    for a, b in zip(old.run(None, {"images": x}), new.run(None, {"images": x}), strict=True):
        # not bit for bit: without the static shapes onnxruntime picks other kernels (4.8e-3 at most here)
        np.testing.assert_allclose(a, b, rtol=0, atol=0.01)
    peaks, ltrb = new.run(None, {"images": x[:, :160, :128]})
    assert peaks.shape == (1, 40, 32, 80) and ltrb.shape == (1, 4, 40, 32), (peaks.shape, ltrb.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--check", action="store_true", help="compare with the original before replacing it")
    args = parser.parse_args()
    original = args.model.with_suffix(".fixed.onnx")
    args.model.replace(original)
    onnx.save(make_dynamic(onnx.load(str(original))), str(args.model))
    if args.check:
        check(original, args.model)
    original.unlink()
    print(f"{args.model}: height and width are dynamic; imgsz [{SIZE}, {SIZE}]")


if __name__ == "__main__":
    main()
