"""Read a state extract (New Mexico) from national-size files three ways and print a table:
the whole file, a bbox-filtered read of the source, and a bbox read of the prepared GeoParquet
cache. Medians over repeated runs.

    .venv/bin/python benchmarks/read_state_extract.py [--repeat 5]

Real national files come from ../shared/data when it is there; a national-size HIFLD-schema
transmission-line file (85,000 lines across the lower 48, from national_inputs.py) is generated
in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

# a sibling module: benchmarks/ is the running script's folder, so it is on sys.path
from national_inputs import national_transmission_lines
from sitescore.cache import prepare, read_cached
from sitescore.readers import LayerSource, read_layer
from sitescore.study_area import bbox_area

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEW_MEXICO = [-109.05, 31.33, -103.0, 37.0]


def median_seconds(func, repeat: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = len(func())
        times.append(time.perf_counter() - t0)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    area = bbox_area(NEW_MEXICO, "New Mexico")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = [("HIFLD-schema lines (generated, GPKG)", "hifld_transmission_lines",
                  national_transmission_lines(tmp / "lines.gpkg"), {})]
        if SHARED.is_dir():
            cases += [
                ("Census counties (GeoJSON)", "census_counties",
                 SHARED / "counties/us_counties_us_atlas_10m.geojson", {}),
                ("GPPD plants (CSV)", "gppd", SHARED / "power_plants/gppd_v1.3.0_usa_source.csv", {}),
                ("Class I rail (GeoJSON)", "rail_lines", SHARED / "rail/narn_class1_scgraph.geojson", {}),
                ("OurAirports (CSV)", "ourairports",
                 SHARED / "airports/ourairports_20221011_airports_US.csv", {}),
            ]
        header = (f"{'national file':<38} {'rows':>7} {'whole s':>8} {'bbox s':>8} {'nm rows':>7} "
                  f"{'cache s':>8} {'prep s':>7} {'whole/bbox':>10} {'whole/cache':>11}")
        print(f"New Mexico extract, median of {args.repeat} runs")
        print(header)
        print("-" * len(header))
        for label, reader, path, options in cases:
            src = LayerSource("layer", reader, path, path.parent, options=options)
            # partial binds this case's source now (a closure would look `src` up when called)
            whole, n_all = median_seconds(partial(read_layer, src, None), args.repeat)
            bbox, n_nm = median_seconds(partial(read_layer, src, area), args.repeat)
            t0 = time.perf_counter()
            prepare(src, tmp / "cache")
            prep = time.perf_counter() - t0
            cached, n_cached = median_seconds(partial(read_cached, src, area, tmp / "cache"), args.repeat)
            assert n_cached == n_nm, (label, n_cached, n_nm)
            print(f"{label:<38} {n_all:>7} {whole:>8.3f} {bbox:>8.3f} {n_nm:>7} {cached:>8.3f} "
                  f"{prep:>7.2f} {whole / bbox:>10.1f} {whole / cached:>11.1f}")


if __name__ == "__main__":
    main()
