"""Delivery stage: a durable SQLite outbox and a sender that posts cases to the platform
exactly once, in order per case, retrying transient failures and dead-lettering rejections.
"""

from edge.delivery.outbox import DeadLetter, Outbox, OutboxError, OutboxItem, OutboxStats, outbox_path
from edge.delivery.sender import Sender, SenderHealth

__all__ = ["DeadLetter", "Outbox", "OutboxError", "OutboxItem", "OutboxStats", "Sender", "SenderHealth", "outbox_path"]
