"""Typed configuration tree (pydantic), one section per module."""

from edge.config.camera import AnalysisConfig, CameraConfig, LocationConfig, SourceConfig
from edge.config.load import ConfigError, load_config, parse_config
from edge.config.model import InferenceConfig, ModelConfig
from edge.config.root import CONFIG_VERSION, EdgeConfig
from edge.config.zones import RuleConfig, ScheduleConfig, TimeWindow, ZoneConfig

__all__ = [
    "CONFIG_VERSION",
    "AnalysisConfig",
    "CameraConfig",
    "ConfigError",
    "EdgeConfig",
    "InferenceConfig",
    "LocationConfig",
    "ModelConfig",
    "RuleConfig",
    "ScheduleConfig",
    "SourceConfig",
    "TimeWindow",
    "ZoneConfig",
    "load_config",
    "parse_config",
]
