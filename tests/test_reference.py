"""docs/reference.md is generated from the registries; it must say what the code does now."""

from __future__ import annotations

from pathlib import Path

from sitescore.config import VALUE_FUNCTIONS
from sitescore.mcda import AGGREGATION_METHODS
from sitescore.metrics import METRICS
from sitescore.readers import READERS
from sitescore.reference import main, reference_markdown

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def test_the_reference_is_current():
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/reference.md is out of date: run `make docs` (python -m sitescore.reference "
        "docs/reference.md) and commit it")


def test_every_registered_name_has_its_entry():
    text = reference_markdown()
    for name in [*READERS, *METRICS, *VALUE_FUNCTIONS, *AGGREGATION_METHODS]:
        assert f"`{name}`" in text, name
    for name, spec in READERS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        for option in spec.options:
            assert f"`{option}`" in row, (name, option)


def test_main_writes_the_file(tmp_path):
    out = tmp_path / "reference.md"
    assert main([str(out)]) == 0
    assert out.read_text(encoding="utf-8") == reference_markdown()
