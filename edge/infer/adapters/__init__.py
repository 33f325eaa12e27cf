"""Model-format adapters: each turns one model's raw outputs into `Candidates` for a batch.

`find_adapter` recognises a format from the output shapes of a real dry run (dynamic
dimensions resolved), or checks that the format named in the config fits them.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.infer.adapters.base import Adapter
from edge.infer.adapters.centernet import CenterNetAdapter
from edge.infer.errors import ModelError

FORMATS = "centernet [N,H,W,C]+[N,4,H,W]"


def find_adapter(
    model_id: str,
    wanted: str,
    names: Sequence[str],
    output_names: Sequence[str],
    shapes: Sequence[tuple[int, ...]],
    input_width: int,
) -> Adapter:
    """The adapter for these outputs, or `ModelError` naming the model, its outputs and what fits."""
    found: list[Adapter] = [a for a in (CenterNetAdapter.match(shapes, input_width),) if a is not None]
    if wanted != "auto":
        found = [a for a in found if a.format == wanted]
    described = ", ".join(f"{n} {list(s)}" for n, s in zip(output_names, shapes, strict=True))
    if not found:
        which = f"format {wanted!r}" if wanted != "auto" else "any supported format"
        raise ModelError(f"model {model_id!r}: outputs {described} don't fit {which} (supported: {FORMATS})")
    adapter = found[0]
    if adapter.n_classes is not None and adapter.n_classes != len(names):
        raise ModelError(
            f"model {model_id!r}: outputs {described} carry {adapter.n_classes} classes "
            f"but {len(names)} class names were given; fix the labels file or the model's 'names'"
        )
    return adapter


__all__ = ["Adapter", "find_adapter"]
