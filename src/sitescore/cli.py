"""The `sitescore` command. Every user mistake ends in one line naming the file, field or key,
with exit code 2."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import SitescoreError


def _friendly(func: Callable) -> Callable:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SitescoreError as exc:
            click.echo(f"sitescore: error: {exc}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sitescore")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def main(verbose: int, quiet: bool) -> None:
    """Find and rank the best federal land for large high-tech industrial parks."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else
                                           logging.INFO if verbose == 1 else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    if not quiet and not verbose:
        logging.getLogger("sitescore").setLevel(logging.WARNING)


_data_dir = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                         help="Where layer paths start (overrides the config's data_dir).")
_maps_dir = click.option("--maps-dir", type=click.Path(file_okay=False, path_type=Path),
                         help="Folder for maps (default: maps).")
_runs_dir = click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path),
                         help="Folder for tables and manifest (default: runs).")


def print_sites(result: Any, top: int = 10) -> None:
    sites = result.sites
    click.echo(f"\n{len(sites)} sites ranked; top {min(top, len(sites))}:")
    names = [c.split("__", 1)[1] for c in sites.columns if c.startswith("contribution__")]
    header = f"{'rank':>4}  {'score':>5}  {'acres':>7}  {'lon':>10} {'lat':>9}  name"
    click.echo(header)
    for _, s in sites.head(top).iterrows():
        click.echo(f"{int(s['rank']):>4}  {s['score']:.3f}  {s['acres']:>7.0f}  "
                   f"{s['lon']:>10.4f} {s['lat']:>9.4f}  {s['name']}")
    if len(sites):
        best = sites.iloc[0]
        parts = ", ".join(f"{n} {best[f'contribution__{n}']:.3f}" for n in names)
        click.echo(f"site 1 breakdown (contribution): {parts}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"\ntables: {result.run_dir}")
    if result.map_path:
        click.echo(f"map:    {result.map_path}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir
@_maps_dir
@_runs_dir
@click.option("--no-map", is_flag=True, help="Write tables only.")
@click.option("--top", default=10, show_default=True, help="How many sites to print.")
@_friendly
def run(config: Path, data_dir: Path | None, maps_dir: Path | None, runs_dir: Path | None,
        no_map: bool, top: int) -> None:
    """Score and rank candidate sites for a study config."""
    from .config import load_config
    from .pipeline import run as run_pipeline

    cfg = load_config(config)
    result = run_pipeline(cfg, data_dir=data_dir, maps_dir=maps_dir, runs_dir=runs_dir,
                          write_map=not no_map)
    print_sites(result, top)


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("data/demo"),
              show_default=True, help="Where the generated demo data go.")
@_maps_dir
@_runs_dir
@click.option("--seed", default=7, show_default=True, help="Seed of the generated region.")
@_friendly
def demo(out: Path, maps_dir: Path | None, runs_dir: Path | None, seed: int) -> None:
    """Generate a synthetic region (offline) and run the whole pipeline on it."""
    from .config import load_config
    from .demo import generate_demo
    from .pipeline import run as run_pipeline

    config_path = generate_demo(out, seed=seed)
    click.echo(f"synthetic demo data written to {out} (not real places)")
    result = run_pipeline(load_config(config_path), maps_dir=maps_dir, runs_dir=runs_dir)
    print_sites(result)


@main.group()
def config() -> None:
    """Check a config, or print its JSON Schema."""


@config.command("check")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir
@_friendly
def config_check(config_file: Path, data_dir: Path | None) -> None:
    """Validate a config and say which layer files are present."""
    from .config import load_config
    from .pipeline import layer_sources

    cfg = load_config(config_file)
    sources = layer_sources(cfg, data_dir)
    click.echo(f"{config_file}: valid ({len(cfg.criteria)} criteria, {len(cfg.layers)} layers)")
    missing = []
    for name, src in sources.items():
        ok = src.path.exists()
        flag = "ok" if ok else ("missing (optional)" if cfg.layers[name].optional else "MISSING")
        click.echo(f"  {name:<22} {flag:<19} {src.path}")
        if not ok and not cfg.layers[name].optional:
            missing.append(name)
    if missing:
        raise SitescoreError(f"required layer file(s) missing: {', '.join(missing)}",
                             file=sources[missing[0]].path)


@config.command("schema")
def config_schema() -> None:
    """Print the config's JSON Schema (for editor completion and checks)."""
    from .config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir
@_friendly
def layers(config_file: Path, data_dir: Path | None) -> None:
    """What each layer resolves to: file, reader, feature count, CRS."""
    import geopandas as gpd

    from .config import load_config
    from .pipeline import layer_sources
    from .readers import read_layer

    cfg = load_config(config_file)
    for name, src in layer_sources(cfg, data_dir).items():
        if not src.path.exists():
            state = "missing (optional)" if cfg.layers[name].optional else "MISSING"
            click.echo(f"{name:<22} {src.reader:<26} {state:<12} {src.path}")
            continue
        layer = read_layer(src, None)
        if isinstance(layer, gpd.GeoDataFrame):
            desc = f"{len(layer):>8} features  source CRS {_source_crs(src.path)} -> {layer.crs.to_string()}"
        else:
            desc = f"raster {layer.values.shape[1]}x{layer.values.shape[0]}  CRS {layer.crs.to_string()}"
        click.echo(f"{name:<22} {src.reader:<26} {desc}  {src.path}")


def _source_crs(path: Path) -> str:
    """The CRS a file declares (CSV point tables are lon/lat by their providers' definition)."""
    if path.suffix.lower() in (".csv", ".txt"):
        return "EPSG:4326 (lon/lat columns)"
    try:
        import pyogrio
        from pyproj import CRS

        wkt = pyogrio.read_info(str(path)).get("crs")
        if not wkt:
            return "none"
        crs = CRS.from_user_input(wkt)
        code = crs.to_epsg(min_confidence=70)
        return f"EPSG:{code}" if code else crs.name
    except Exception:  # informational only
        return "?"


if __name__ == "__main__":  # pragma: no cover
    main()
