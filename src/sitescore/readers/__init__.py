"""Readers: one per dataset, official formats and field names in, canonical layers out."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..study_area import StudyArea
from .base import READERS, LayerSource, ReaderSpec, reader  # noqa: F401

# Importing the modules registers their readers.
from . import federal_land, power, transport, water, workforce, terrain, boundaries, shortlist  # noqa: E402,F401


def read_layer(source: LayerSource, area: StudyArea | None = None) -> Any:
    """Read one configured layer through its registered reader."""
    spec = READERS.get(source.reader)
    if spec is None:
        raise ConfigError(f"unknown reader '{source.reader}'; known: {', '.join(sorted(READERS))}",
                          key=f"layers.{source.name}.reader")
    return spec.func(source, area)
