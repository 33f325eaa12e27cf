"""Read, validate and resolve a config file, turning every problem into one readable error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edge.config.root import EdgeConfig


class ConfigError(Exception):
    """A config problem an operator can fix; the message names the file, field and problem."""


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def format_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        msg = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {_field_path(item['loc'])}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, base_dir: Path, origin: str = "config") -> EdgeConfig:
    """Validate an already-parsed mapping; relative paths are resolved against `base_dir`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        config = EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin} is invalid:\n{format_validation_error(exc)}") from None
    config = resolve_paths(config, base_dir)
    mqtt = config.platform.mqtt
    problem = mqtt.tls.problem() if config.platform.kind == "mqtt" and mqtt.tls_on else None
    if problem:
        raise ConfigError(f"{origin} is invalid:\n  {problem}")
    return config


def resolve_paths(config: EdgeConfig, base_dir: Path) -> EdgeConfig:
    """Make model, label, clip, storage and TLS paths absolute, relative to the config file."""

    def absolute(p: Path | str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else (base_dir / path).resolve()

    for model in config.models:
        object.__setattr__(model, "path", absolute(model.path))
        if model.labels is not None:
            object.__setattr__(model, "labels", absolute(model.labels))
    for cam in config.cameras:
        if "://" not in cam.source.url:
            object.__setattr__(cam.source, "url", str(absolute(cam.source.url)))
    object.__setattr__(config.storage, "dir", str(absolute(config.storage.dir)))
    if config.plate_reader.model is not None:
        object.__setattr__(config.plate_reader, "model", absolute(config.plate_reader.model))
    tls = config.platform.mqtt.tls
    for field in ("ca_file", "cert_file", "key_file"):
        if getattr(tls, field) is not None:
            object.__setattr__(tls, field, str(absolute(getattr(tls, field))))
    return config


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """Parse a YAML file, turning a missing, unreadable or malformed file into `error` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from None


def load_config(path: str | Path) -> EdgeConfig:
    path = Path(path)
    data = read_yaml(path, "config file", ConfigError)
    return parse_config(data, path.resolve().parent, origin=str(path))
