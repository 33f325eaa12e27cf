"""The stand-in city platform: receives case messages exactly once and lists them."""

from edge.receiver.app import create_app
from edge.receiver.faults import Faults

__all__ = ["Faults", "create_app"]
