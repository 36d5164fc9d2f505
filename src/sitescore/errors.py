"""The one error type users see: a single line naming the file, field or config key.

The CLI turns any `SitescoreError` into that line on stderr and exit code 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class SitescoreError(Exception):
    """A problem with the user's input (file, field, config key) rather than with sitescore."""

    exit_code = 2

    def __init__(self, message: str, *, file: object | None = None, field: str | None = None,
                 key: str | None = None) -> None:
        parts = []
        if file is not None:
            parts.append(f"{file}")
        if key is not None:
            parts.append(f"config key '{key}'")
        if field is not None:
            parts.append(f"field '{field}'")
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.file = file
        self.field = field
        self.key = key


class ConfigError(SitescoreError):
    """The config is not valid (unknown key, wrong type, unknown metric, bad weights)."""


class DataError(SitescoreError):
    """An input dataset is missing, unreadable or lacks a required field."""
