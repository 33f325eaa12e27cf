"""Model-format adapters: each turns one model's raw outputs into `Candidates` for a batch.

`find_adapter` recognises the format from the outputs of a real dry run (dynamic dimensions
resolved), or checks that the format named in the config fits them. Shapes decide, the class
count breaks ties: a [N, K, 5 + C] output is a YOLOX raw head when K is exactly the cells of
strides 8, 16 and 32 for the input size (a YOLOv5 head has three anchors per cell), and a
[N, K, 6] output is a single-class YOLOv5 head when K is large (thousands of anchors) and an
end-to-end (x1, y1, x2, y2, score, class) list when K is small.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.infer.adapters.base import Adapter, OutputSample
from edge.infer.adapters.centernet import CenterNetAdapter
from edge.infer.adapters.end2end import End2EndAdapter, SplitEnd2EndAdapter
from edge.infer.adapters.yolo import YoloV5Adapter, YoloV8Adapter
from edge.infer.adapters.yolox import YoloxAdapter
from edge.infer.errors import ModelError

MATCHERS = (CenterNetAdapter, YoloxAdapter, YoloV5Adapter, YoloV8Adapter, End2EndAdapter, SplitEnd2EndAdapter)
FORMATS = (
    "centernet [N,H,W,C]+[N,4,H,W]; yolox [N,K,5+C] with K = the cells of strides 8, 16, 32; "
    "yolov5 [N,K,5+C]; yolov8 [N,4+C,K]; "
    "end2end [N,K,6] or boxes [N,K,4] + scores [N,K] + classes [N,K] (+ count [N])"
)
MANY_ANCHORS = 1000  # more rows than any end-to-end model keeps; fewer than any YOLOv5 head has


def find_adapter(
    model_id: str, wanted: str, names: Sequence[str], samples: Sequence[OutputSample], input_size: tuple[int, int]
) -> Adapter:
    """The adapter for these outputs, or `ModelError` naming the model, its outputs and what fits."""
    described = ", ".join(f"{s.name} {list(s.shape)}" for s in samples)
    found: list[Adapter] = [a for m in MATCHERS if (a := m.match(samples, input_size)) is not None]
    if wanted != "auto":
        found = [a for a in found if a.format == wanted]
    if not found:
        which = f"format {wanted!r} (set in the config)" if wanted != "auto" else "any supported format"
        raise ModelError(f"model {model_id!r}: outputs {described} don't fit {which}; supported: {FORMATS}")
    fitting = [a for a in found if a.n_classes in (None, len(names))]
    if not fitting:
        counts = " or ".join(f"{a.n_classes} ({a.format})" for a in found)
        raise ModelError(
            f"model {model_id!r}: outputs {described} carry {counts} classes but {len(names)} class names "
            "were given; fix the labels file or the model's 'names' metadata"
        )
    if any(a.format == "yolox" for a in fitting):  # K is exactly the grid's cells: YOLOv5 has three per cell
        fitting = [a for a in fitting if a.format == "yolox"]
    if len(fitting) > 1:  # a [N, K, 6] output: a one-class YOLOv5 head or an end-to-end list
        prefer = "yolov5" if samples[0].shape[1] >= MANY_ANCHORS else "end2end"
        fitting = [a for a in fitting if a.format == prefer] or fitting
    return fitting[0]


__all__ = ["Adapter", "OutputSample", "find_adapter"]
