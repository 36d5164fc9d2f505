"""The scripts and stylesheets a page loads: their CDN URLs, the vendored copies, and inlining.

With ``offline=True`` the page needs no network at all: Leaflet and the plugins are inlined from
the files vendored in ``sitescore/assets/`` (their npm packages' dist files, with their
licences).
"""

from __future__ import annotations

import base64
import functools
import html
import re
from pathlib import Path

from sitescore.formatting import script_safe

# Only what the page uses: Leaflet, and jQuery for folium's popups (d3 comes with the branca
# legend). folium's other defaults (Bootstrap, Font Awesome, awesome-markers, glyphicons) would
# be four more CDN hosts for nothing this page draws.
MAP_JS = [
    ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"),
    ("jquery", "https://code.jquery.com/jquery-3.7.1.min.js"),
]
MAP_CSS = [
    ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"),
]
# The plugins, as files of their npm packages (folium's own URLs name a GitHub tag, cdnjs, or a
# minified file the package does not ship).
FULLSCREEN_JS = [("Control.Fullscreen.js",
                  "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.js")]
FULLSCREEN_CSS = [("Control.FullScreen.css",
                   "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css")]
MEASURE_JS = [("leaflet_measure_js",
               "https://cdn.jsdelivr.net/npm/leaflet-measure@2.1.7/dist/leaflet-measure.min.js")]
MEASURE_CSS = [("leaflet_measure_css",
                "https://cdn.jsdelivr.net/npm/leaflet-measure@2.1.7/dist/leaflet-measure.css")]
MINIMAP_JS = [("Control_MiniMap_js",
               "https://cdn.jsdelivr.net/npm/leaflet-minimap@3.6.1/dist/Control.MiniMap.min.js")]
MINIMAP_CSS = [("Control_MiniMap_css",
                "https://cdn.jsdelivr.net/npm/leaflet-minimap@3.6.1/dist/Control.MiniMap.min.css")]

#: The vendored copies (``offline=True``): src/sitescore/assets/<package>/<file in the package>.
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
#: CDN URL -> file under ASSETS_DIR, for every script and stylesheet a page can reference.
OFFLINE_ASSETS = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/dist/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/dist/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3/d3.min.js",
    FULLSCREEN_JS[0][1]: "leaflet.fullscreen/Control.FullScreen.js",
    FULLSCREEN_CSS[0][1]: "leaflet.fullscreen/Control.FullScreen.css",
    MEASURE_JS[0][1]: "leaflet-measure/dist/leaflet-measure.min.js",
    MEASURE_CSS[0][1]: "leaflet-measure/dist/leaflet-measure.css",
    MINIMAP_JS[0][1]: "leaflet-minimap/dist/Control.MiniMap.min.js",
    MINIMAP_CSS[0][1]: "leaflet-minimap/dist/Control.MiniMap.min.css",
}
#: Offline, the map's background where tiles would be.
OFFLINE_CSS = ".leaflet-container { background: #dfe6ec; }"


@functools.cache
def _asset_bytes(rel: str) -> bytes:
    return (ASSETS_DIR / rel).read_bytes()


def asset_text(rel: str) -> str:
    """A file under ASSETS_DIR as text (read once a process)."""
    return _asset_bytes(rel).decode("utf-8")


_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif"}


def _inline_css(rel: str) -> str:
    """A vendored stylesheet with every file it points at (images) as a data: URI."""
    base = (ASSETS_DIR / rel).parent

    def data_uri(m: re.Match) -> str:
        target = m.group(2)
        if target.startswith(("data:", "#")) or "://" in target:
            return m.group(0)
        file = (base / target).resolve()
        if ASSETS_DIR not in file.parents or not file.is_file():
            raise FileNotFoundError(f"webmap: {rel} needs {target}, not in {ASSETS_DIR}")
        mime = _MIME.get(file.suffix.lower(), "application/octet-stream")
        return f'url("data:{mime};base64,{base64.b64encode(file.read_bytes()).decode()}")'

    return _CSS_URL.sub(data_uri, asset_text(rel)).replace("</style", "<\\/style")


_SCRIPT_TAG = re.compile(r'<script src="([^"]+)"></script>')
_LINK_TAG = re.compile(r'<link rel="stylesheet" href="([^"]+)"\s*/?>')


def inline_assets(page: str) -> str:
    """The page with every CDN script and stylesheet replaced by its vendored copy, inline.

    Raises ValueError for a file that is not vendored (the page would need the network)."""
    def script(m: re.Match) -> str:
        url = html.unescape(m.group(1))
        if url not in OFFLINE_ASSETS:
            raise ValueError(f"webmap: {url} is not vendored in {ASSETS_DIR}")
        return f"<script>{script_safe(asset_text(OFFLINE_ASSETS[url]))}</script>"

    def link(m: re.Match) -> str:
        url = html.unescape(m.group(1))
        if url not in OFFLINE_ASSETS:
            raise ValueError(f"webmap: {url} is not vendored in {ASSETS_DIR}")
        return f"<style>{_inline_css(OFFLINE_ASSETS[url])}</style>"

    page = _SCRIPT_TAG.sub(script, page)
    page = _LINK_TAG.sub(link, page)
    left = re.search(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", page)
    if left:
        raise ValueError(f"webmap: the offline page still loads {left.group(0)!r}")
    return page
