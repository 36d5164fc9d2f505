"""The demo study's config: `study.yaml` in this package with the region's box, file paths and
PAD-US layer filled in, so the YAML stays data and its paths cannot drift from `FILES`."""

from __future__ import annotations

from importlib import resources
from string import Template

from .region import BBOX, FILES, PADUS_LAYER


def demo_config_text() -> str:
    """The demo's config (YAML text): every layer of the demo region, the standard criteria.

    `study.yaml` names its substitutions `$west`, `$south`, `$east`, `$north`, `$padus_layer`
    and one `$<key>` per entry of `FILES`; a name missing on either side raises at once."""
    template = resources.files(__package__).joinpath("study.yaml").read_text(encoding="utf-8")
    w, s, e, n = BBOX
    values = {"west": w, "south": s, "east": e, "north": n, "padus_layer": PADUS_LAYER, **FILES}
    return Template(template).substitute({k: str(v) for k, v in values.items()})
