"""Opening the project's HTML pages in headless Chromium, offline.

- Chromium is Debian's (/usr/bin/chromium), driven by Playwright for Python through
  ``executable_path``; Playwright never downloads a browser here. ``tools/install_browser.sh``
  installs both; the tests fail (not skip) when either is missing, unless
  ``SITESCORE_SKIP_BROWSER=1``.
- folium pages load Leaflet & co. from CDNs, and this machine has no internet. The exact npm
  packages and versions the page references are installed once with ``npm install`` into
  ``.cache/webassets/`` under the repository (git-ignored), and a Playwright route answers the
  CDN URLs from there (jsDelivr's npm and GitHub URLs, cdnjs and code.jquery.com, each mapped to
  its npm package below). Map tile requests get a blank tile; any other request that leaves the
  machine is aborted and recorded, so a test can fail on it.
- ``open_page(..., offline=True)`` blocks everything but the page's own file: for the
  self-contained pages (``write_map(offline=True)``).
"""

from __future__ import annotations

import fcntl
import json
import mimetypes
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("SITESCORE_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ASSET_CACHE = Path(os.environ.get("SITESCORE_WEBASSETS", REPO / ".cache" / "webassets"))
TEST_OUTPUT = REPO / "test-output"
INSTALL_HINT = ("run `bash tools/install_browser.sh` (what `make test` does), "
                "or set SITESCORE_SKIP_BROWSER=1 to skip the browser tests on purpose")

#: Map tile servers: answered with a blank tile.
TILE_HOSTS = {
    "tile.openstreetmap.org", "server.arcgisonline.com", "basemap.nationalmap.gov",
    "basemaps.cartocdn.com", "a.basemaps.cartocdn.com", "b.basemaps.cartocdn.com",
    "c.basemaps.cartocdn.com", "d.basemaps.cartocdn.com", "a.tile.opentopomap.org",
    "b.tile.opentopomap.org", "c.tile.opentopomap.org",
}
#: cdnjs library -> (npm package, path of a file inside it given the cdnjs file name).
CDNJS = {
    "d3": ("d3", "{file}"),
    "Leaflet.awesome-markers": ("drmonty-leaflet-awesome-markers",
                                "{kind}/{file}"),  # css/ or js/ by extension
    "leaflet-minimap": ("leaflet-minimap", "{minimap}"),  # folium's MiniMap default
}
#: GitHub repositories on jsDelivr (cdn.jsdelivr.net/gh/OWNER/REPO@TAG/...) -> npm package of
#: the same version with the same files.
GITHUB = {
    "ljagis/leaflet-measure": "leaflet-measure",  # folium's MeasureControl default
}
#: Files folium references that no npm package ships; none is drawn by our pages, so an
#: empty stylesheet stands in.
STUBS = {
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css":
        "text/css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/"
    "leaflet.awesome.rotate.min.css": "text/css",
}


# --------------------------------------------------------------------------- availability

def require_browser() -> None:
    """Skip when asked to; otherwise fail loudly when Chromium or Playwright is missing."""
    if os.environ.get("SITESCORE_SKIP_BROWSER") == "1":
        pytest.skip("SITESCORE_SKIP_BROWSER=1")
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: {INSTALL_HINT}", pytrace=False)
    try:
        import playwright.sync_api
    except ImportError:
        pytest.fail(f"Playwright for Python is not installed: {INSTALL_HINT}", pytrace=False)
    del playwright
    if shutil.which("npm") is None:
        pytest.fail(f"npm not found (needed to cache Leaflet & co.): {INSTALL_HINT}",
                    pytrace=False)


# --------------------------------------------------------------------------- CDN -> npm

@dataclass(frozen=True)
class Asset:
    package: str      # npm name
    version: str      # exact version
    path: str         # file inside the package

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


def resolve(url: str) -> Asset | None:
    """The npm file a CDN URL stands for, or None."""
    clean = url.split("#")[0].split("?")[0]
    m = re.match(r"https://cdn\.jsdelivr\.net/npm/+((?:@[^/@]+/)?[^/@]+)@([^/]+)/(.+)$", clean)
    if m:
        return Asset(m.group(1), m.group(2), m.group(3))
    m = re.match(r"https://cdn\.jsdelivr\.net/gh/([^/@]+/[^/@]+)@([^/]+)/(.+)$", clean)
    if m and m.group(1) in GITHUB:
        return Asset(GITHUB[m.group(1)], m.group(2), m.group(3))
    m = re.match(r"https://code\.jquery\.com/jquery-(\d+\.\d+\.\d+)(\.min)?\.js$", clean)
    if m:
        return Asset("jquery", m.group(1), f"dist/jquery{m.group(2) or ''}.js")
    m = re.match(r"https://cdnjs\.cloudflare\.com/ajax/libs/([^/]+)/([^/]+)/(.+)$", clean)
    if m and m.group(1) in CDNJS:
        package, pattern = CDNJS[m.group(1)]
        file = m.group(3)
        kind = "css" if file.endswith(".css") or file.startswith("images/") else "js"
        # leaflet-minimap: the minified files and images are in dist/, the plain ones in src/
        minimap = f"dist/{file}" if ".min." in file or file.startswith("images/") \
            else f"src/{file}"
        return Asset(package, m.group(2), pattern.format(file=file, kind=kind, minimap=minimap))
    return None


def page_assets(html: str) -> tuple[list[Asset], list[str]]:
    """npm files behind the page's <script src> and <link href>, and URLs nothing serves."""
    assets, unknown = [], []
    for url in re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"', html):
        if url in STUBS:
            continue
        asset = resolve(url)
        if asset is None:
            unknown.append(url)
        elif asset not in assets:
            assets.append(asset)
    return assets, unknown


def _package_dir(asset: Asset) -> Path:
    return ASSET_CACHE / f"{asset.package.replace('/', '+')}@{asset.version}" / \
        "node_modules" / asset.package


def package_file(asset: Asset) -> Path:
    """The file an asset stands for in its installed package. jsDelivr minifies on the fly:
    a ``.min.js``/``.min.css`` a package does not ship is served from its plain file."""
    file = _package_dir(asset) / asset.path
    if not file.is_file():
        plain = re.sub(r"\.min\.(js|css)$", r".\1", asset.path)
        if plain != asset.path and (_package_dir(asset) / plain).is_file():
            return _package_dir(asset) / plain
    return file


def _installed_version(asset: Asset) -> str | None:
    try:
        return json.loads((_package_dir(asset) / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_assets(assets: list[Asset]) -> None:
    """npm-install (once) each package at its exact version, one folder per package@version."""
    ASSET_CACHE.mkdir(parents=True, exist_ok=True)
    ignore = ASSET_CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# downloaded by tests/browser_support.py\n*\n")
    with open(ASSET_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for spec in sorted({a.spec for a in assets}):
            asset = next(a for a in assets if a.spec == spec)
            if _installed_version(asset) == asset.version:
                continue
            final = ASSET_CACHE / f"{asset.package.replace('/', '+')}@{asset.version}"
            tmp = Path(tempfile.mkdtemp(dir=ASSET_CACHE, prefix=".install-"))
            cmd = ["npm", "install", "--prefix", str(tmp), "--no-audit", "--no-fund",
                   "--ignore-scripts", "--legacy-peer-deps", "--loglevel=error", spec]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                                      check=False)
            except subprocess.TimeoutExpired:
                shutil.rmtree(tmp, ignore_errors=True)
                pytest.fail(f"`{' '.join(cmd)}` timed out", pytrace=False)
            if proc.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                pytest.fail(f"`{' '.join(cmd)}` failed:\n{proc.stderr[-2000:]}", pytrace=False)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            if _installed_version(asset) != asset.version:
                pytest.fail(f"npm installed {_installed_version(asset)} for {spec}",
                            pytrace=False)
        for asset in assets:
            if not package_file(asset).is_file():
                pytest.fail(f"{asset.spec} has no file {asset.path}", pytrace=False)


def _blank_png() -> bytes:
    """A 1x1 light-grey PNG (Leaflet stretches it to a 256 px tile)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = zlib.compress(b"\x00\xee\xee\xea")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


BLANK_TILE = _blank_png()


# --------------------------------------------------------------------------- the page

@dataclass
class PageLog:
    """What happened while a page was open."""

    errors: list[str] = field(default_factory=list)     # page errors and console errors
    dialogs: list[str] = field(default_factory=list)    # alert/confirm/prompt fired
    served: list[str] = field(default_factory=list)     # CDN URLs answered from the cache
    tiles: int = 0
    blocked: list[str] = field(default_factory=list)    # requests that would leave the machine


def _local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about", "chrome"):
        return True
    return (parts.hostname or "") in ("localhost", "127.0.0.1", "::1", "[::1]")


def install_routes(page, log: PageLog) -> None:
    """Serve CDN files from the npm cache, blank tiles, and abort everything else external."""

    def handle(route, request) -> None:
        url = request.url
        if _local(url):
            route.continue_()
            return
        host = urlsplit(url).hostname or ""
        if host in TILE_HOSTS:
            log.tiles += 1
            route.fulfill(status=200, body=BLANK_TILE, content_type="image/png")
            return
        clean = url.split("#")[0].split("?")[0]
        if clean in STUBS:
            log.served.append(url)
            route.fulfill(status=200, body="", content_type=STUBS[clean],
                          headers={"Access-Control-Allow-Origin": "*"})
            return
        asset = resolve(url)
        if asset is not None:
            file = package_file(asset)
            if file.is_file():
                log.served.append(url)
                ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if file.suffix == ".js":
                    ctype = "application/javascript"
                route.fulfill(status=200, body=file.read_bytes(), content_type=ctype,
                              headers={"Access-Control-Allow-Origin": "*"})
                return
        log.blocked.append(url)
        route.abort("blockedbyclient")

    page.route("**/*", handle)


@contextmanager
def launch_chromium() -> Iterator:
    """Debian's Chromium under Playwright, headless: ``with launch_chromium() as browser``."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def block_all_routes(page, log: PageLog, own_url: str) -> None:
    """Abort (and record) every request but the page's own file: no CDN, no tiles, nothing."""

    def handle(route, request) -> None:
        if request.url.split("#")[0] == own_url:
            route.continue_()
            return
        log.blocked.append(request.url)
        route.abort("blockedbyclient")

    page.route("**/*", handle)


@contextmanager
def open_page(browser, html_path: Path, *, viewport=(1280, 860),
              offline: bool = False, **context: object) -> Iterator[tuple]:
    """Open a local HTML file offline: ``with open_page(browser, path) as (page, log)``.

    ``offline=True``: the page must be self-contained; every other request is blocked. Other
    keywords go to the browser context (``is_mobile=True, has_touch=True`` for a phone)."""
    html = html_path.read_text(encoding="utf-8")
    assets, unknown = page_assets(html)
    if offline and (assets or unknown):
        pytest.fail(f"the offline page references external files: {assets + unknown}",
                    pytrace=False)
    if unknown:
        pytest.fail(f"the page loads files no rule serves offline: {unknown}", pytrace=False)
    ensure_assets(assets)
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  device_scale_factor=1, service_workers="block",
                                  **context)
    page = context.new_page()
    log = PageLog()
    page.on("pageerror", lambda exc: log.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: log.errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error" else None)

    def on_dialog(dialog) -> None:
        log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    url = html_path.resolve().as_uri()
    if offline:
        block_all_routes(page, log, url)
    else:
        install_routes(page, log)
    try:
        page.goto(url, wait_until="load")
        yield page, log
    finally:
        context.close()
