"""Class names: a labels file when the config names one, otherwise the model's `names` metadata."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from edge.infer.errors import ModelError


def parse_names(text: str) -> list[str]:
    """Read `names` metadata: a JSON list, or an index->name mapping (JSON or Python literal, as YOLO exports)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError("it is neither a JSON list nor an index->name mapping") from None
    if isinstance(value, dict):
        try:
            mapping = {int(k): str(v) for k, v in value.items()}
        except (TypeError, ValueError):
            raise ValueError("its keys are not class indices") from None
        if sorted(mapping) != list(range(len(mapping))):
            raise ValueError(f"its indices are not 0..{len(mapping) - 1}")
        return [mapping[i] for i in range(len(mapping))]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"expected a list of names or a mapping, got {type(value).__name__}")


def read_labels(path: Path) -> list[str]:
    """One class name a line; blank lines at the end are ignored, blank lines inside are an error."""
    try:
        lines = path.read_text(encoding="utf-8").rstrip("\n\r ").splitlines()
    except FileNotFoundError:
        raise ModelError(f"labels file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"labels file {path} cannot be read: {exc}") from None
    names = [line.strip() for line in lines]
    if not names or not names[0]:
        raise ModelError(f"labels file {path} is empty")
    blank = [i + 1 for i, name in enumerate(names) if not name]
    if blank:
        raise ModelError(f"labels file {path} has blank lines at {blank}: every class needs a name")
    return names


def class_names(model_id: str, metadata: dict[str, str], labels: Path | None) -> list[str]:
    """Names for class ids 0..C-1, or `ModelError` saying where they were expected."""
    if labels is not None:
        try:
            return read_labels(labels)
        except ModelError as exc:
            raise ModelError(f"model {model_id!r}: {exc}") from None
    if "names" not in metadata:
        raise ModelError(
            f"model {model_id!r} has no class names: its metadata has no 'names' entry; "
            "set 'labels:' in the model config to a file with one class name a line"
        )
    try:
        return parse_names(metadata["names"])
    except ValueError as exc:
        raise ModelError(f"model {model_id!r}: metadata 'names' cannot be read: {exc}") from None
