"""The one error a source raises for problems an operator can fix (bad path, bad URL, bad data)."""

from __future__ import annotations


class SourceError(Exception):
    """A source can't be opened or read; the message names the source and the problem."""
