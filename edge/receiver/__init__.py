"""The stand-in city platform: receives case messages exactly once and lists them."""

from edge.receiver.app import create_app
from edge.receiver.faults import Faults
from edge.receiver.server import ReceiverServer, serve

__all__ = ["Faults", "ReceiverServer", "create_app", "serve"]
