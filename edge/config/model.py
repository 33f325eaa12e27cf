"""Detector models and the shared inference loop."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from edge.config.base import Section

ModelFormat = Literal["auto", "centernet", "yolox", "yolov5", "yolov8", "end2end"]
Provider = Literal["cpu", "cuda", "tensorrt", "openvino"]
CPU_ONLY: tuple[Provider, ...] = ("cpu",)


class ModelConfig(Section):
    id: str = Field(description="name rules use to pick this model")
    path: Path = Field(description="ONNX file; relative paths are resolved against the config file")
    format: ModelFormat = Field(default="auto", description="output layout; 'auto' detects it from shapes/metadata")
    labels: Path | None = Field(default=None, description="labels file (one class name a line) when metadata has none")
    resize: Literal["auto", "letterbox", "letterbox_top_left", "plain"] = Field(
        default="auto",
        description="how frames are fitted; 'auto' as the format's trainers did (YOLOX: letterbox_top_left)",
    )
    colour: Literal["auto", "rgb", "bgr"] = Field(
        default="auto",
        description="channel order the model was trained on; 'auto': the format's (bgr for YOLOX, as its trainer "
        "reads frames with OpenCV; rgb for the others, as most exporters)",
    )
    providers: list[Provider] = Field(default_factory=lambda: list(CPU_ONLY), description="in order of preference")
    intra_op_threads: int = Field(default=0, ge=0, le=64, description="0 = leave one core for decoding")
    score_threshold: float = Field(default=0.25, ge=0.0, le=1.0, description="lowest score kept at all")
    nms_iou: float = Field(default=0.5, gt=0.0, le=1.0, description="class-wise NMS IoU where the format needs it")
    max_detections: int = Field(default=100, ge=1, le=10000, description="best boxes kept per frame")
    batch: int = Field(
        default=0,
        ge=0,
        le=256,
        description="frames per model run; 0 = auto: 1 on the CPU (per-frame time grows with the batch there, "
        "bench/bench_infer.py), up to inference.max_batch on a GPU",
    )
    input_size: tuple[int, int] | None = Field(
        default=None,
        description="[width, height] for a model whose input size is dynamic (default: its 'imgsz' metadata)",
    )

    @field_validator("input_size")
    @classmethod
    def _size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not all(32 <= v <= 8192 for v in value):
            raise ValueError(f"input_size must be [width, height] between 32 and 8192, got {list(value)}")
        return value


class InferenceConfig(Section):
    max_batch: int = Field(default=8, ge=1, le=256, description="largest batch the shared loop forms")
    max_wait_ms: float = Field(default=20.0, ge=0, le=5000, description="how long a partial batch may wait")
    staleness_s: float = Field(default=5.0, gt=0, description="frames older than this are dropped, not analysed late")
    queue_per_camera: int = Field(
        default=2, ge=1, le=1000, description="frames of one camera waiting for inference; a new one drops the oldest"
    )
    crop_to_zones: Literal["auto"] | bool = Field(
        default="auto",
        description="run a model whose input size is dynamic only on the part of its input that covers the "
        "camera's zones (docs/inference.md: faster by the share of the frame they leave out; objects are found "
        "at the whole frame's scale). 'auto': only for a model whose 'receptive_field' metadata says 'local' (no "
        "pooling over the whole input, so a crop scores objects as the whole frame does: the bundled YOLOX); a "
        "model that pools over its whole input (the bundled CenterNet) scores them a little differently in a "
        "crop, so true turns it on for every model: check it with edge eval first",
    )
    crop_margin: float = Field(
        default=0.1, ge=0.0, le=0.5, description="the cropped part reaches this fraction of the frame beyond the zones"
    )
    runners: int = Field(
        default=2,
        ge=1,
        le=16,
        description="batches run in parallel: while one batch is inside the model, the next is pre- or "
        "post-processed, and on a CPU box every core can run a model even with few threads per session",
    )
