"""A loaded detector: preprocess a batch of frames, run the model, decode to `Detections`.

`load_detector` does all the startup checks (file, providers, input layout, output format,
class names) once, with a dry run on a blank batch so dynamic output shapes are known, and
raises `ModelError` naming the model and the problem. After that `detect` never inspects
the model again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from edge.config.model import InferenceConfig, ModelConfig
from edge.infer.adapters import Adapter, OutputSample, find_adapter
from edge.infer.candidates import split_per_image, top_k_per_image
from edge.infer.errors import ModelError
from edge.infer.labels import class_names
from edge.infer.nms import classwise_nms
from edge.infer.preprocess import Geometry, InputSpec, Layout, Window, preprocess
from edge.infer.session import cpu_has_int8_dot_product, open_session
from edge.types import Detections, Region

log = logging.getLogger(__name__)
DYNAMIC_MAX_BATCH = 256  # a dynamic-batch model takes whatever the shared loop forms (its max is 256)
INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


class Detector:
    """One model ready to run: `detect(images) -> list[Detections]`, boxes in each image's pixels.

    `max_batch` is the model's own limit: its fixed batch size (1 for a batch-1 export), or
    `DYNAMIC_MAX_BATCH` when the batch dimension is dynamic. `preferred_batch` is what the shared
    loop should form: the configured `batch`, else 1 on the CPU and `max_batch` on accelerators.
    A fixed batch is padded with blank images, so a batch-4 model still takes one frame.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        session: ort.InferenceSession,
        spec: InputSpec,
        adapter: Adapter,
        names: list[str],
        fixed_batch: int | None,
        metadata: dict[str, str],
    ) -> None:
        self.id = cfg.id
        self.class_names = names
        self.format = adapter.format
        self.max_batch = fixed_batch or DYNAMIC_MAX_BATCH
        on_cpu = session.get_providers() == ["CPUExecutionProvider"]
        self.preferred_batch = min(self.max_batch, cfg.batch or (1 if on_cpu else self.max_batch))
        self.spec = spec
        self.providers: list[str] = session.get_providers()
        # no op pools over the whole input (scripts/dynamic_input.py checks the graph): a window scores as the frame
        self.crop_safe = spec.windows and metadata.get("receptive_field") == "local"
        self._cfg = cfg
        self._session = session
        self._adapter = adapter
        self._fixed_batch = fixed_batch

    def detect(self, images: Sequence[np.ndarray], regions: Sequence[Region | None] | None = None) -> list[Detections]:
        """One `Detections` per BGR uint8 image, in chunks of at most `max_batch`.

        `regions` (one per image, normalised; None = the whole frame): where the caller needs
        objects. A model with a dynamic input size runs only on the aligned window of its input
        that covers the region (`InputSpec.window`), at the whole frame's scale: objects there
        are found as on the whole frame, objects elsewhere are not looked for. Images sharing a
        window share a run; a fixed-size model always sees the whole frame."""
        windows: list[Window | None] = [None] * len(images)
        if regions is not None:
            windows = [self.spec.window(r, (i.shape[1], i.shape[0])) for i, r in zip(images, regions, strict=True)]
        groups: dict[Window | None, list[int]] = {}
        for index, window in enumerate(windows):
            groups.setdefault(window, []).append(index)
        out: list[Detections | None] = [None] * len(images)
        for window, indices in groups.items():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                tensor, geometry = self.preprocess([images[i] for i in chunk], window)
                for i, found in zip(chunk, self.postprocess(self.run(tensor), geometry), strict=True):
                    out[i] = found
        return [found for found in out if found is not None]

    def preprocess(self, images: Sequence[np.ndarray], window: Window | None = None) -> tuple[np.ndarray, Geometry]:
        """The input tensor for at most `max_batch` images (padded to a fixed batch size)."""
        if len(images) > self.max_batch:
            raise ValueError(f"model {self.id!r} takes at most {self.max_batch} images at once, got {len(images)}")
        return preprocess(images, self.spec, self._fixed_batch, window)

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        return self._session.run(None, {self.spec.name: tensor})

    def postprocess(self, outputs: Sequence[np.ndarray], geometry: Geometry) -> list[Detections]:
        """Decode the whole batch at once; class-wise NMS only where the format needs it."""
        found = self._adapter.decode(outputs, self._cfg.score_threshold, geometry.input_size)
        if self._adapter.needs_nms:
            found = classwise_nms(found, self._cfg.nms_iou)
        return split_per_image(top_k_per_image(found, self._cfg.max_detections), geometry, len(geometry.size))


def crops_to_zones(detector: Detector, inference: InferenceConfig) -> bool:
    """Whether a camera's zone region reaches this detector (`inference.crop_to_zones`): always with
    `true`, never with `false`, and with `auto` only where a crop scores as the whole frame does."""
    return inference.crop_to_zones is True or (inference.crop_to_zones == "auto" and detector.crop_safe)


def _metadata_size(metadata: dict[str, str]) -> tuple[int, int] | None:
    """(width, height) from YOLO-style `imgsz` metadata ("[h, w]" or "640"), if present and readable."""
    try:
        value = json.loads(metadata["imgsz"])
    except (KeyError, json.JSONDecodeError):
        return None
    if isinstance(value, int):
        return value, value
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[1], value[0]
    return None


def _input_spec(
    cfg: ModelConfig, session: ort.InferenceSession, metadata: dict[str, str]
) -> tuple[InputSpec, int | None]:
    """Layout, size, dtype and batch of the single image input; scale and resize follow the format."""
    where = f"model {cfg.id!r}"
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{where} has {len(inputs)} inputs {[i.name for i in inputs]}; one image input is supported")
    node = inputs[0]
    shape = list(node.shape)
    if len(shape) != 4 or not (shape[1] == 3 or shape[3] == 3):
        raise ModelError(f"{where}: input {node.name!r} has shape {shape}; expected [N,3,H,W] or [N,H,W,3]")
    if node.type not in INPUT_DTYPES:
        raise ModelError(f"{where}: input {node.name!r} has type {node.type}; supported: {sorted(INPUT_DTYPES)}")
    layout: Layout = "nchw" if shape[1] == 3 else "nhwc"
    height, width = (shape[2], shape[3]) if layout == "nchw" else (shape[1], shape[2])
    dynamic = not (isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0)
    if dynamic:
        size = cfg.input_size or _metadata_size(metadata)
        if size is None:
            raise ModelError(
                f"{where}: input {node.name!r} has a dynamic image size {shape} and no 'imgsz' metadata; "
                "set 'input_size: [width, height]' in the model config"
            )
        width, height = size
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
    dtype = np.dtype(INPUT_DTYPES[node.type])
    spec = InputSpec(node.name, width, height, layout, dtype, 1.0, cfg.colour != "bgr", "plain", windows=dynamic)
    return spec, batch


def load_detector(cfg: ModelConfig) -> Detector:
    """Open, check and dry-run a model; `ModelError` names the model and what does not fit."""
    session = open_session(cfg)
    metadata = session.get_modelmeta().custom_metadata_map
    if "quantization" in metadata and "cpu" in cfg.providers and not cpu_has_int8_dot_product():
        log.warning(
            "model %r is quantised to 8 bits and this CPU has no 8-bit dot-product instructions (VNNI): "
            "onnxruntime scores it differently here than where its eval parity was shown, and no faster; "
            "check it with edge eval on this box or use the fp32 model (docs/inference.md, INT8)",
            cfg.id,
        )
    names = class_names(cfg.id, metadata, cfg.labels)
    spec, fixed_batch = _input_spec(cfg, session, metadata)
    blank = [np.zeros((spec.height, spec.width, 3), np.uint8)]
    try:
        outputs = session.run(None, {spec.name: preprocess(blank, spec, fixed_batch)[0]})
    except Exception as exc:  # onnxruntime errors carry no common base class
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"model {cfg.id!r}: a dry run on a blank image failed: {first_line}") from None
    samples = [OutputSample(o.name, a.shape, a.dtype) for o, a in zip(session.get_outputs(), outputs, strict=True)]
    adapter = find_adapter(cfg.id, cfg.format, names, samples, (spec.width, spec.height))
    resize = adapter.resize if cfg.resize == "auto" else cfg.resize
    colour = adapter.colour if cfg.colour == "auto" else cfg.colour
    scale = 1.0 if spec.dtype == np.uint8 else adapter.pixel_scale
    spec = dataclasses.replace(spec, scale=scale, resize=resize, rgb=colour == "rgb")
    return Detector(cfg, session, spec, adapter, names, fixed_batch, metadata)
