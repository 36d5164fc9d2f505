"""The folium pieces every page here is made of, and the deterministic build they need.

folium names each element with a random id; :func:`deterministic_build` swaps in a counter (and
compact, sorted JSON) while a page is built and rendered, so the same inputs give the same bytes.
The compare page uses these too.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import folium
from branca.element import Element, MacroElement
from folium.template import Template
from folium.utilities import JsCode

from sitescore.formatting import js_json


class Raw(Element):
    """Pre-escaped HTML/CSS/JS emitted as is (the content is data, never template source)."""

    _template = Template("{{ this.content }}")

    def __init__(self, content: str):
        super().__init__()
        self._name = "Raw"
        self.content = content


class Script(MacroElement):
    """A script run in the map's script section, after the elements added before it."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.js }}{% endmacro %}")

    def __init__(self, js: Callable[[], str]):
        super().__init__()
        self._name = "SitescoreScript"
        self._js = js

    def render(self, **kwargs):
        self.js = self._js()  # late: names of elements created after this one are known now
        super().render(**kwargs)


_BUILD_LOCK = threading.RLock()


@contextmanager
def deterministic_build() -> Iterator[None]:
    """Counter ids instead of folium's random ones, and compact JSON, while a map is built."""
    counter = itertools.count(1)
    env = folium.GeoJson._template.environment
    with _BUILD_LOCK:
        original = Element.__dict__["_generate_id"]
        old_policy = env.policies.get("json.dumps_kwargs")
        Element._generate_id = classmethod(  # type: ignore[method-assign, assignment]
            lambda cls: f"{next(counter):05d}")
        env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
        try:
            yield
        finally:
            Element._generate_id = original  # type: ignore[method-assign]
            env.policies["json.dumps_kwargs"] = old_policy


def geojson_layer(collection: dict, on_each_feature: str, *, points: bool = False,
                  **options: Any) -> folium.GeoJson:
    """A GeoJson whose per-feature style and tooltip come from a small JS function.

    folium's own per-feature styles would write a switch case for every feature; here each
    feature carries an index into a style table instead.
    """
    return folium.GeoJson(
        collection,
        style_function=lambda feature: {},
        on_each_feature=JsCode(on_each_feature),
        marker=folium.CircleMarker(radius=4, fill=True) if points else None,
        **options,
    )


def table_layer_js(styles: list[dict]) -> str:
    """on_each_feature for features carrying a style index ``s`` and tooltip HTML ``t``."""
    return (
        "function(feature, layer) {"
        f" var styles = {js_json(styles)}; var p = feature.properties;"
        " layer.setStyle(styles[p.s]);"
        " if (p.t) { layer.bindTooltip(p.t, {sticky: true}); } }"
    )
