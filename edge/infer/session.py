"""Open an onnxruntime session the way an edge box needs it: chosen providers, bounded threads.

Decoding video and inference share a small CPU. By default inference gets all cores but one
(at least one), inter-op parallelism is off and idle worker threads don't spin, so decoding
threads are not starved by busy-waiting inference threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from edge.config.model import InferenceConfig, ModelConfig, Provider
from edge.infer.errors import ModelError

PROVIDER_NAMES: dict[Provider, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
INSTALL_HINTS: dict[Provider, str] = {
    "cpu": "",
    "cuda": "install onnxruntime-gpu (with CUDA and cuDNN) instead of onnxruntime",
    "tensorrt": "install onnxruntime-gpu built with TensorRT and the TensorRT libraries",
    "openvino": "install onnxruntime-openvino instead of onnxruntime",
}


INT8_DOT_PRODUCT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp")  # x86 VNNI / AMX, ARM dot product


def cpu_has_int8_dot_product() -> bool:
    """Whether this CPU has 8-bit dot-product instructions, which onnxruntime's int8 kernels were checked on.

    Without them (x86 with AVX2 or AVX-512 alone) onnxruntime's u8s8 kernels can saturate, so a quantised
    model scores differently there (docs/inference.md "INT8"). Read from /proc/cpuinfo; False elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    flags = {word for line in text.splitlines() if line.startswith(("flags", "Features")) for word in line.split()}
    return any(flag in flags for flag in INT8_DOT_PRODUCT_FLAGS)


def default_threads() -> int:
    """All usable cores but one, so at least one core stays free for decoding."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


def intra_op_threads(cfg: ModelConfig) -> int:
    """The model's `intra_op_threads`, 0 meaning all cores but one."""
    return cfg.intra_op_threads or default_threads()


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    """The threads one model's inference gets: `runners` engine threads call its one session at
    once, each call on its own thread plus the session's pool of `intra_op - 1` threads, which the
    calls share (onnxruntime counts the calling thread in `intra_op_num_threads`)."""

    runners: int
    intra_op: int
    cores: int  # usable by this process

    @property
    def model_threads(self) -> int:
        """Threads that can be inside the model at the same time."""
        return self.runners + self.intra_op - 1

    def __str__(self) -> str:
        return (
            f"{self.runners} runners x {self.intra_op} intra-op threads (pool shared): "
            f"up to {self.model_threads} threads in the model on {self.cores} cores"
        )


def thread_plan(inference: InferenceConfig, model: ModelConfig) -> ThreadPlan:
    """What `InferenceEngine` and `open_session` make of the config on this machine."""
    return ThreadPlan(inference.runners, intra_op_threads(model), len(os.sched_getaffinity(0)))


def session_options(cfg: ModelConfig) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads(cfg)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def open_session(cfg: ModelConfig) -> ort.InferenceSession:
    """Load `cfg.path` on the requested providers, or raise `ModelError` saying what is missing."""
    where = f"model {cfg.id!r} ({cfg.path})"
    if not cfg.path.is_file():
        raise ModelError(f"{where}: file does not exist")
    available = set(ort.get_available_providers())
    missing = [p for p in cfg.providers if PROVIDER_NAMES[p] not in available]
    if missing:
        hints = "; ".join(INSTALL_HINTS[p] for p in missing)
        raise ModelError(
            f"{where}: execution provider(s) {missing} asked for but not available in this onnxruntime "
            f"(available: {sorted(available)}); {hints}"
        )
    providers = [PROVIDER_NAMES[p] for p in cfg.providers]
    try:
        session = ort.InferenceSession(str(cfg.path), session_options(cfg), providers=providers)
    except Exception as exc:  # onnxruntime raises several unrelated types for unreadable models
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{where}: onnxruntime cannot load it: {first_line}") from None
    inactive = [p for p, name in zip(cfg.providers, providers, strict=True) if name not in session.get_providers()]
    if inactive:
        hints = "; ".join(INSTALL_HINTS[p] for p in inactive)
        raise ModelError(
            f"{where}: execution provider(s) {inactive} are installed but failed to start "
            f"(active: {session.get_providers()}); check the driver and libraries ({hints})"
        )
    return session
