"""The one error a model that does not fit raises, so the CLI can print it without a traceback."""

from __future__ import annotations


class ModelError(Exception):
    """A model file, its outputs, labels or providers don't fit; the message names the model and the problem."""
