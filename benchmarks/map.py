"""The web map's weight and load time: page size and seconds until the page is ready in headless
Chromium (cells unpacked, scored, drawn), for the demo, the real New Mexico run and a synthetic
page of about a million cells; the medians over repeated loads, against the page of features
the map wrote before (the issue's figures for New Mexico: 12.1 MB, 13 s).

    .venv/bin/python benchmarks/map.py [--repeat 3] [--side 1000] [--shared ../shared/data]

Each page is written once; "load" is from navigation to SITESCORE.ready (every cell's score
computed and the visible tiles painted), "regrow" the time a weight change takes to score every
cell again, grow the sites and repaint (median of `--repeat` slider moves). New Mexico needs the
shared public files (`--shared`, default ../shared/data beside the repository); the row is
left out without them. Needs Chromium and Playwright (`make browser`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from browser_support import launch_chromium, open_page  # noqa: E402
from helpers import SHARED_IMPORTS  # noqa: E402
from sitescore.cli import main  # noqa: E402
from sitescore.config import SitesConfig  # noqa: E402
from sitescore.scoring import CriterionInfo, aggregate_scores  # noqa: E402
from sitescore.webmap import write_map  # noqa: E402

#: The page of features (GeoJSON) the map wrote for New Mexico before, as the issue measured it.
BASELINE = {"page_mb": 12.1, "load_s": 13.0, "cells": 37_601}


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    if result.exit_code != 0:
        raise SystemExit(f"sitescore {' '.join(args[:2])} failed: {result.output}")


def demo_page(root: Path) -> Path:
    cli("demo", "--out", str(root / "demo"), "--maps-dir", str(root / "maps"), "--runs-dir",
        str(root / "runs"))
    return root / "maps" / "demo" / "index.html"


def new_mexico_page(root: Path, shared: Path) -> Path | None:
    if not shared.is_dir():
        return None
    for dataset, rel in SHARED_IMPORTS:
        cli("data", "import", dataset, str(shared / rel), "--link", "--data-dir", str(root / "raw"))
    cli("run", str(REPO / "configs" / "new_mexico.yaml"), "--data-dir", str(root / "raw"),
        "--maps-dir", str(root / "maps"), "--runs-dir", str(root / "runs"), "--cache-dir",
        str(root / "cache"), "--allow-partial", "--no-report")
    return root / "maps" / "new-mexico" / "index.html"


def synthetic_page(root: Path, side: int) -> Path:
    """side x side 1 km cells in Nevada with 8 random criterion values (smooth fields plus
    noise, as real distances are), 2% excluded, scored and with the run's site rules."""
    rng = np.random.default_rng(3)
    n, size = side * side, 1000.0
    col, row = np.divmod(np.arange(n), side)
    x0, y0 = -1_900_000.0, 1_700_000.0
    geoms = shapely.box(x0 + col * size, y0 + row * size, x0 + (col + 1) * size,
                        y0 + (row + 1) * size)
    names = [f"c{j}" for j in range(8)]
    w = np.full(len(names), 1 / len(names))
    u, v = col / side, row / side
    values = np.column_stack([np.clip(0.5 + 0.4 * np.sin(6 * u * (j + 1) + 3 * v)
                                      + 0.05 * rng.standard_normal(n), 0, 1) for j in range(8)])
    excluded = rng.random(n) < 0.02
    cells = gpd.GeoDataFrame({"cell_id": [f"g{c:04d}_{r:04d}" for c, r in zip(col, row,
                                                                             strict=True)],
                              "score": aggregate_scores(values, w, "weighted_sum"),
                              "excluded": excluded,
                              "exclusion_reason": np.where(excluded, "wilderness area (WA)", None),
                              "eligible_acres": np.full(n, 247.1), "agency": "BLM",
                              "unit_name": "Basin Field Office", "state": "NV"},
                             geometry=geoms, crs="EPSG:5070")
    for j, c in enumerate(names):
        cells[f"raw__{c}"] = 50 * values[:, j]
        cells[f"value__{c}"] = values[:, j]
    criteria = [CriterionInfo(c, f"Criterion {c}", "km", "distance_to", c, float(w[j]), "")
                for j, c in enumerate(names)]
    path = root / "million" / "index.html"
    path.parent.mkdir(parents=True)
    write_map(path, title=f"{n:,} synthetic cells", cells=cells,
              sites=gpd.GeoDataFrame(geometry=[], crs="EPSG:5070"), criteria=criteria,
              layers={}, synthetic=True, site_rules=SitesConfig(min_site_acres=1000,
                                                                min_spacing_km=15,
                                                                max_sites=20))
    return path


MOVE_JS = """
async (k) => {
  const els = document.querySelectorAll('#sitescore-title .ss-slider');
  els[k % els.length].value = String((Number(els[k % els.length].value) + 37) % 100);
  const t0 = performance.now();
  els[0].dispatchEvent(new Event('input', {bubbles: true}));
  await new Promise((done) => {
    const check = () => (SITESCORE.idle ? done() : requestAnimationFrame(check));
    requestAnimationFrame(check);
  });
  return (performance.now() - t0) / 1000;
}
"""


def measure(browser, path: Path, repeat: int) -> dict:
    loads, moves, cells = [], [], 0
    for _ in range(repeat):
        with open_page(browser, path) as (page, log):
            page.wait_for_function("() => window.SITESCORE && SITESCORE.ready", timeout=600_000)
            loads.append(page.evaluate("() => SITESCORE.readyMs") / 1000)  # from navigation
            cells = page.evaluate("() => SITESCORE.grid ? SITESCORE.grid.n : 0")
            if page.locator(".ss-slider").count():
                moves.append(page.evaluate(MOVE_JS, len(moves)))
            if log.errors:
                raise SystemExit(f"{path.name}: {log.errors[:3]}")
    return {"mb": path.stat().st_size / 1e6, "load": statistics.median(loads),
            "move": statistics.median(moves) if moves else float("nan"), "cells": cells}


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", type=int, default=1000, help="synthetic page: side x side cells")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pages = {"demo": demo_page(root), "New Mexico (real data)": new_mexico_page(root, args.shared)}
        t0 = time.perf_counter()
        pages[f"synthetic {args.side ** 2:,} cells"] = synthetic_page(root, args.side)
        written = time.perf_counter() - t0
        rows = []
        with launch_chromium() as browser:
            for name, path in pages.items():
                if path is None:
                    print(f"(no {name}: shared data not found at {args.shared})")
                    continue
                rows.append((name, measure(browser, path, args.repeat)))
    print(f"\nMap pages in headless Chromium, median of {args.repeat} loads "
          f"(the synthetic page took {written:.0f} s to write)\n")
    print("| page | cells | page size | load (s) | weight change: rescore, regrow, repaint (s) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| New Mexico, before (GeoJSON features; the issue's figures) | "
          f"{BASELINE['cells']:,} | {BASELINE['page_mb']:.1f} MB | {BASELINE['load_s']:.1f} | |")
    for name, r in rows:
        print(f"| {name} | {r['cells']:,} | {r['mb']:.1f} MB | {r['load']:.2f} | "
              f"{r['move']:.2f} |")


if __name__ == "__main__":
    main_()
