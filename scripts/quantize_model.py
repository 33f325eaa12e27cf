"""Make the INT8 copy of the bundled detector: onnxruntime static QDQ quantisation, calibrated on the clip.

Calibration frames are read exactly as a replay reads them (`edge.ingest.read_file_frames` at
`--fps` analysed frames per media second) and turned into input tensors by the fp32 detector's
own `preprocess`, so the ranges are those of what the worker feeds the model. What stays in float
(the choice that keeps eval parity, models/README.md "INT8 copy"):

- the decode tail of each head after its last convolution: the class sigmoid, the 3x3 peak mask
  (`MaxPool`, `Equal`, `Cast`, `Mul`) and the `ltrb` scaling. Quantised (`--quantize-tail`), scores
  fell by 0.21 on average and not one detection of 60 vtest frames reached 0.3 (the heatmap is
  nearly all zeros: the peaks are the rare values a percentile range clips);
- the last convolution of the `ltrb` head, whose output is the box edges in pixels: quantised, the
  boxes moved enough that one of the eval's cases fell below IoU 0.9 with its fp32 box (`--float-conv`
  names the outputs whose last Conv stays float). The class head's last Conv is quantised: in float
  it kept scores no closer and cost a third of the speed-up (it makes 80 channels at 128x128).

Calibration: `percentile` (each activation's range from its 0.001th to 99.999th percentile) kept
scores and boxes closest to fp32 of the methods tried; weights per channel (per tensor loses most objects).

The output is deterministic: the same model, clips, options and onnxruntime give the same file,
byte for byte. The model's metadata (`names`, `stride`, ...) is kept, so the worker loads the copy
with `format: auto`; a `quantization` entry says how it was made.

Needs `onnx` (in the test extras: `pip install -e '.[test]'`, which setup.sh does).

    .venv/bin/python scripts/quantize_model.py            # writes models/centernet-mbv3-coco-int8.onnx
    .venv/bin/python scripts/quantize_model.py --method entropy --out /tmp/try.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from edge.config import ModelConfig
from edge.infer import Detector, load_detector
from edge.ingest.files import read_file_frames

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "centernet-mbv3-coco.onnx"
OUT = REPO / "models" / "centernet-mbv3-coco-int8.onnx"
CLIPS = [REPO / "streams" / "vtest.avi"]
METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
HEAD_END = "Conv"  # each head's decode tail is what follows its last convolution


class ClipFrames(CalibrationDataReader):
    """Input tensors of the clips' frames, sampled and preprocessed as the worker does it.

    Held in memory (3 MB a frame) so the calibrator can take them in strides (`set_range`): the
    histogram methods keep every intermediate tensor of a stride, which for all frames at once would
    not fit in a small box's memory.
    """

    def __init__(self, detector: Detector, clips: list[Path], fps: float) -> None:
        name = detector.spec.name
        self._inputs = [
            {name: detector.preprocess([frame.image])[0]}
            for clip in clips
            for frame in read_file_frames(clip, "calibration", fps)
        ]
        self.set_range(0, len(self._inputs))

    def __len__(self) -> int:
        return len(self._inputs)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next = iter(self._inputs[start_index:end_index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._next, None)


def head_tails(model: onnx.ModelProto) -> tuple[list[str], dict[str, str]]:
    """The nodes between the outputs and the last `Conv` before each, and that Conv per output.

    Walks back from each graph output through the producers of every input until a Conv is reached;
    for the bundled model the tails are the peak sigmoid + 3x3 peak mask of `peaks` and the scaling
    of `ltrb`, the Convs the class and the box-edge convolutions.
    """
    producer = {out: node for node in model.graph.node for out in node.output}
    tail: dict[str, None] = {}  # an ordered set: deterministic node lists
    convs: dict[str, str] = {}
    for output in model.graph.output:
        todo = [output.name]
        while todo:
            node = producer.get(todo.pop())
            if node is None or node.name in tail:
                continue
            if node.op_type == HEAD_END:
                convs.setdefault(output.name, node.name)
                continue
            tail[node.name] = None
            todo.extend(node.input)
    return list(tail), convs


def fp32_detector(model: Path) -> Detector:
    """The fp32 model as the worker loads it: its preprocessing is what calibration feeds."""
    return load_detector(ModelConfig(id="fp32", path=model))


def quantize(
    model: Path,
    out: Path,
    clips: list[Path],
    fps: float,
    method: str,
    per_channel: bool,
    float_tail: bool,
    float_convs: list[str],
) -> dict[str, str]:
    """Write the quantised copy of `model` to `out`; returns the `quantization` metadata it carries."""
    source = onnx.load(str(model))
    tail, convs = head_tails(source)
    unknown = sorted(set(float_convs) - set(convs))
    if unknown:
        raise SystemExit(f"quantize_model: --float-conv {unknown}: the model's outputs are {sorted(convs)}")
    exclude = (tail if float_tail else []) + [convs[o] for o in float_convs]
    reader = ClipFrames(fp32_detector(model), clips, fps)
    ort.set_default_logger_severity(3)
    with tempfile.TemporaryDirectory(prefix="edge-quant-") as tmp:
        raw = Path(tmp) / "int8.onnx"
        quantize_static(
            str(model),
            str(raw),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,  # u8 activations x s8 weights: the VNNI kernels' pairing
            weight_type=QuantType.QInt8,
            calibrate_method=METHODS[method],
            nodes_to_exclude=exclude,
            extra_options={"CalibStridedMinMax": stride(len(reader))},
        )
        quantised = onnx.load(str(raw))
    recipe = {
        "tool": f"scripts/quantize_model.py, onnxruntime {ort.__version__} quantize_static",
        "from": f"{model.name} sha256 {sha256(model)}",
        "format": "QDQ, activations uint8, weights int8" + (" per channel" if per_channel else " per tensor"),
        "calibration": f"{method}, {len(reader)} frames: " + ", ".join(f"{c.name} at {fps:g} fps" for c in clips),
        "float": ", ".join(exclude) or "nothing",
    }
    keep = {p.key: p.value for p in source.metadata_props}
    keep["quantization"] = json.dumps(recipe)
    del quantised.metadata_props[:]
    for key, value in keep.items():
        quantised.metadata_props.add(key=key, value=value)
    quantised.producer_name, quantised.producer_version = source.producer_name, source.producer_version
    onnx.checker.check_model(quantised)
    out.write_bytes(quantised.SerializeToString(deterministic=True))
    return recipe


def stride(frames: int, most: int = 8) -> int:
    """The largest divisor of `frames` up to `most`: the calibrator wants strides that divide the data."""
    return max(d for d in range(1, most + 1) if frames % d == 0)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL, help="the fp32 ONNX model")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the INT8 copy")
    parser.add_argument("--clip", type=Path, action="append", help=f"calibration clip(s) (default {CLIPS[0].name})")
    parser.add_argument("--fps", type=float, default=1.0, help="calibration frames per media second of each clip")
    parser.add_argument("--method", choices=sorted(METHODS), default="percentile", help="calibration method")
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor, not per channel")
    parser.add_argument("--quantize-tail", action="store_true", help="quantise the heads' decode tail too")
    parser.add_argument(
        "--float-conv",
        action="append",
        metavar="OUTPUT",
        help="keep the last Conv before this output in float (default: ltrb; 'none' for none)",
    )
    args = parser.parse_args()
    if not args.model.is_file():
        print(f"quantize_model: {args.model} does not exist", file=sys.stderr)
        return 2
    recipe = quantize(
        args.model,
        args.out,
        args.clip or CLIPS,
        args.fps,
        args.method,
        per_channel=not args.per_tensor,
        float_tail=not args.quantize_tail,
        float_convs=[o for o in (args.float_conv or ["ltrb"]) if o != "none"],
    )
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB, sha256 {sha256(args.out)})")
    for key, value in recipe.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
