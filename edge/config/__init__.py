"""Typed configuration tree (pydantic), one section per module."""

from edge.config.camera import AnalysisConfig, CameraConfig, LocationConfig, PlacedRule, SourceConfig
from edge.config.load import ConfigError, load_config, parse_config
from edge.config.model import InferenceConfig, ModelConfig
from edge.config.root import CONFIG_VERSION, EdgeConfig
from edge.config.zones import RuleConfig, RuleKind, ScheduleConfig, TimeWindow, ZoneConfig

__all__ = [
    "CONFIG_VERSION",
    "AnalysisConfig",
    "CameraConfig",
    "ConfigError",
    "EdgeConfig",
    "InferenceConfig",
    "LocationConfig",
    "ModelConfig",
    "PlacedRule",
    "RuleConfig",
    "RuleKind",
    "ScheduleConfig",
    "SourceConfig",
    "TimeWindow",
    "ZoneConfig",
    "load_config",
    "parse_config",
]
