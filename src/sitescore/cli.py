"""The `sitescore` command. Every user mistake ends in one line naming the file, field or key,
with exit code 2."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__
from .errors import SitescoreError

#: `ctx.meta` key: the studies a command is writing, named when Ctrl-C stops it.
STUDIES = "sitescore.studies"


class _OneLineErrors(click.Group):
    """The `sitescore` group. Every command runs inside its `invoke`, so no command can lack the
    handling: a user's mistake (SitescoreError) and an OS failure (read-only folder, full disk,
    name too long) end in one stderr line and exit 2; Ctrl-C in one line saying which outputs
    were kept, and exit 130 (the shell's code for SIGINT)."""

    def invoke(self, ctx: click.Context) -> Any:
        from . import folders

        installed_before = len(folders.INSTALLED)
        try:
            return super().invoke(ctx)
        except SitescoreError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:
            where = f"sitescore {ctx.invoked_subcommand}" if exc.filename is None \
                else os.fsdecode(exc.filename)
            if exc.filename2 is not None:
                where += f" -> {os.fsdecode(exc.filename2)}"
            _fail(f"{where}: {exc.strerror or exc}", 2)
        except KeyboardInterrupt:
            what = _after_interrupt(ctx.meta.get(STUDIES, []), folders.INSTALLED[installed_before:])
            click.echo(f"sitescore: interrupted; {what}", err=True)
            raise click.exceptions.Exit(130) from None


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"sitescore: error: {' '.join(message.split())}", err=True)
    raise click.exceptions.Exit(code)


def _after_interrupt(studies: list[str], installed: list[Path]) -> str:
    """What an interrupted command left: a study's outputs are new only once its swap is done
    (a Ctrl-C during the swap waits for it), else its previous outputs are as they were."""
    new = [s for s in studies if any(p.name == s for p in installed)]
    kept = [s for s in studies if s not in new]
    parts = ([f"the new outputs of {', '.join(new)} are in place"] if new else []) + \
        ([f"the previous outputs of {', '.join(kept)} were kept"] if kept else [])
    return "; ".join(parts) or "the previous outputs were kept"


def _writing(*studies: str) -> None:
    """Name the studies this command writes, for the line Ctrl-C prints."""
    click.get_current_context().meta[STUDIES] = list(studies)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
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
_preset = click.option("--preset", metavar="NAME|FILE",
                       help="Scenario preset (a name sitescore ships, or a file) on this study.")
_cache_dir = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                          help="Prepared layer cache (default: data/cache or SITESCORE_CACHE_DIR).")
_runs_dir = click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path),
                         help="Folder for tables and manifest (default: runs).")
_allow_partial = click.option("--allow-partial", is_flag=True,
                              help="Run even when the criteria scored carry less than the "
                                   "config's min_weight_kept of its weight (said on stderr and in "
                                   "the manifest, map and report).")


def _engine_options(func: Callable) -> Callable:
    """--engine, --scheduler, --workers, --partitions: the config's `engine` for this run."""
    for option in reversed([
        click.option("--engine", "engine_kind", type=click.Choice(["local", "dask"]),
                     help="Where candidates and metrics run (default: the config's engine.kind)."),
        click.option("--scheduler", metavar="ADDRESS", help="A running Dask scheduler, e.g. "
                     "tcp://host:8786 (implies --engine dask)."),
        click.option("--workers", type=int, help="Processes of the local Dask cluster started for "
                     "the run when no scheduler is given (implies --engine dask)."),
        click.option("--partitions", type=int, help="Strips and partitions the cells are split "
                     "into on Dask (default: one per worker thread)."),
    ]):
        func = option(func)
    return func


def _with_engine(cfg: Any, kind: str | None, scheduler: str | None, workers: int | None,
                 partitions: int | None) -> None:
    """The command line's engine options over the config's `engine` (validated the same way)."""
    given = {k: v for k, v in (("scheduler", scheduler), ("workers", workers),
                               ("partitions", partitions)) if v is not None}
    if kind is None and not given:
        return
    from pydantic import ValidationError

    from .config import EngineConfig
    fields: dict[str, Any]  # checked by EngineConfig below
    if kind == "local":
        fields = {"kind": "local", **given}
    else:
        fields = cfg.engine.model_dump() | {"kind": "dask"}
        if scheduler is not None:  # a running cluster instead of the config's local one
            fields["workers"] = None
        fields |= given
    try:
        cfg.engine = EngineConfig(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        keyed = getattr((err.get("ctx") or {}).get("error"), "key", None)
        key = keyed or ".".join(["engine", *(str(p) for p in err["loc"])])
        option = "--engine" if key == "engine.kind" else "--" + key.split(".")[-1]
        raise SitescoreError(err["msg"].removeprefix("Value error, "), file=option, key=key) from None


def _say_left_out(result: Any) -> None:
    """The criteria a run left out and the weight it kept, on the terminal; a partial run
    (--allow-partial below min_weight_kept) says so on stderr too."""
    from .safe_text import terminal_text

    summary = result.left_out_summary()
    if summary:
        click.echo(f"criteria: {terminal_text(summary)}")
    if result.partial:
        click.echo(f"sitescore: warning: partial run (--allow-partial): {terminal_text(summary)}",
                   err=True)


def print_sites(result: Any, top: int = 10) -> None:
    """The ranked sites as a table on the terminal; names and notes come from the data, so their
    control characters and escape sequences are stripped first."""
    from .safe_text import terminal_text

    sites = result.sites
    click.echo(f"\n{len(sites)} sites ranked; top {min(top, len(sites))}:")
    names = [c.split("__", 1)[1] for c in sites.columns if c.startswith("contribution__")]
    header = f"{'rank':>4}  {'score':>5}  {'acres':>7}  {'lon':>10} {'lat':>9}  name"
    click.echo(header)
    for _, s in sites.head(top).iterrows():
        click.echo(f"{int(s['rank']):>4}  {s['score']:.3f}  {s['acres']:>7.0f}  "
                   f"{s['lon']:>10.4f} {s['lat']:>9.4f}  {terminal_text(s['name'])}")
    if len(sites):
        best = sites.iloc[0]
        parts = ", ".join(f"{n} {best[f'contribution__{n}']:.3f}" for n in names)
        click.echo(f"site 1 breakdown (contribution): {terminal_text(parts)}")
    _say_left_out(result)
    for note in result.notes:
        click.echo(f"note: {terminal_text(note)}")
    click.echo(f"\ntables: {result.run_dir}")
    if result.map_path is None:
        click.echo("map and report: not written (--no-map); the maps folder is as it was")
        return
    click.echo(f"map:    {result.map_path}")
    click.echo(f"report: {result.report_path}" if result.report_path
               else "report: not written (--no-report)")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir
@_maps_dir
@_runs_dir
@click.option("--no-map", is_flag=True, help="Write the tables and manifest only: no web map and "
              "no report (both live in the maps folder, which is left as it was).")
@click.option("--no-report", is_flag=True, help="Write the web map but not the printable report "
              "(report.html and its figures).")
@click.option("--offline", is_flag=True, help="Self-contained map: scripts inlined, state "
              "outlines instead of basemap tiles; opens with no network.")
@click.option("--top", default=10, show_default=True, help="How many sites to print.")
@click.option("--verify", is_flag=True, help="Only check the last run's inputs against their "
              "recorded checksums (exit 2 if any changed); run nothing.")
@click.option("--preset", "presets", multiple=True, metavar="NAME|FILE",
              help="Scenario preset (a name sitescore ships, or a file) on this study; repeat "
                   "it for several, each its own study <study>-<preset>, run side by side on "
                   "the engine.")
@click.option("--weights", "weights_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="FILE",
              help="Criterion weights from a YAML file (`criteria: {name: {weight: w}}`, what "
                   "the map's 'Export weights' writes) instead of the config's; criteria it does "
                   "not name keep theirs.")
@_cache_dir
@_allow_partial
@_engine_options
def run(config: Path, data_dir: Path | None, maps_dir: Path | None, runs_dir: Path | None,
        no_map: bool, no_report: bool, offline: bool, top: int, verify: bool,
        presets: tuple[str, ...], weights_file: Path | None,
        cache_dir: Path | None, allow_partial: bool, engine_kind: str | None,
        scheduler: str | None, workers: int | None, partitions: int | None) -> None:
    """Score and rank candidate sites for a study config."""
    from .config import load_config
    from .pipeline import run as run_pipeline
    from .pipeline import run_many

    if len(set(presets)) < len(presets):
        raise SitescoreError("each preset once", key="--preset")
    cfgs = [load_config(config, preset=p) for p in presets] or [load_config(config)]
    if weights_file is not None:
        for cfg in cfgs:
            _apply_weights(cfg, weights_file)
    _writing(*(cfg.study for cfg in cfgs if not verify))
    for cfg in cfgs:
        _with_engine(cfg, engine_kind, scheduler, workers, partitions)
    if verify:
        for cfg in cfgs:
            _verify(Path(runs_dir or cfg.outputs.runs_dir) / cfg.study)
        return
    if len(cfgs) == 1:
        result = run_pipeline(cfgs[0], data_dir=data_dir, maps_dir=maps_dir, runs_dir=runs_dir,
                              write_map=not no_map, write_report=not no_report,
                              cache_dir=cache_dir, offline=offline, allow_partial=allow_partial)
        print_sites(result, top)
        return
    results = run_many(cfgs, keep_cells=False, data_dir=data_dir, maps_dir=maps_dir,
                       runs_dir=runs_dir, write_map=not no_map, write_report=not no_report,
                       cache_dir=cache_dir, offline=offline, allow_partial=allow_partial)
    for cfg, outcome in zip(cfgs, results, strict=True):
        click.echo(f"\n== {cfg.study} ==")
        if isinstance(outcome, SitescoreError):
            click.echo("not run: see the error below; its previous outputs are as they were")
        else:
            print_sites(outcome, top)
    failed = [r for r in results if isinstance(r, SitescoreError)]
    if failed:
        raise failed[0]


def _apply_weights(cfg: Any, path: Path) -> None:
    """The criteria's weights from a weights file (the map's export): each named criterion takes
    the weight given, as a direct weight (an AHP study's matrix is set aside, with a note)."""
    import math

    from .config.yaml_loader import line_of, read_yaml
    from .errors import ConfigError

    doc = read_yaml(Path(path), "weights")

    def where(*loc: str) -> str:
        line = line_of(doc, loc)
        return f"{path}, line {line}" if line else str(path)

    criteria = doc.get("criteria") if isinstance(doc, dict) else None
    if not isinstance(criteria, dict) or not criteria:
        raise ConfigError("a weights file needs `criteria:` with one `name: {weight: w}` per "
                          "criterion", file=path, key="criteria")
    given: dict[str, float] = {}
    for name, entry in criteria.items():
        key = f"criteria.{name}"
        if name not in cfg.criteria:
            raise ConfigError(f"'{name}' is not a criterion of study '{cfg.study}'; known: "
                              f"{', '.join(cfg.criteria)}", file=where("criteria", name), key=key)
        value = entry.get("weight") if isinstance(entry, dict) else entry
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value < 0:
            raise ConfigError(f"must be a finite weight >= 0, not {value!r}",
                              file=where("criteria", name), key=f"{key}.weight")
        given[name] = float(value)
    if not any(w > 0 for w in [given.get(n, c.weight or 0.0) for n, c in cfg.criteria.items()]):
        raise ConfigError("at least one weight must be > 0", file=path, key="criteria")
    if cfg.weights.method == "ahp":
        cfg.notes.append(f"weights from {Path(path).name} (--weights) replace the AHP matrix's")
    for name, w in given.items():
        cfg.criteria[name].weight = w
    cfg.weights.method = "direct"
    cfg.notes.append(f"weights of {len(given)} criteria from {Path(path).name} (--weights)")


def _verify(run_dir: Path) -> None:
    from .folders import recover_outputs
    from .outputs import verify_inputs

    recover_outputs(run_dir)
    path = run_dir / "manifest.json"
    if not path.exists():
        raise SitescoreError("no manifest: this study has not been run here yet", file=path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SitescoreError(f"not a readable manifest ({exc})", file=path) from None
    changed = verify_inputs(manifest)
    for line in changed:
        click.echo(line)
    if changed:
        raise SitescoreError(f"{len(changed)} input file(s) differ from the last run's; rerun to "
                             "update the results", file=path)
    n = sum(1 + len(r.get("joined_files", [])) for r in manifest.get("inputs", []) if "sha256" in r)
    click.echo(f"all {n} input files match the checksums recorded by the last run")


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("data/demo"),
              show_default=True, help="Where the generated demo data go.")
@_maps_dir
@_runs_dir
@click.option("--seed", default=7, show_default=True, help="Seed of the generated region.")
def demo(out: Path, maps_dir: Path | None, runs_dir: Path | None, seed: int) -> None:
    """Generate a synthetic region (offline) and run the whole pipeline on it."""
    from .config import load_config
    from .demo import generate_demo
    from .pipeline import run as run_pipeline

    config_path = generate_demo(out, seed=seed)
    click.echo(f"synthetic demo data written to {out} (not real places)")
    cfg = load_config(config_path)
    _writing(cfg.study)
    result = run_pipeline(cfg, maps_dir=maps_dir, runs_dir=runs_dir)
    print_sites(result)


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--draws", type=int, help="Monte Carlo draws (default 1000 or the config's).")
@click.option("--seed", type=int, help="Random seed: the same seed gives the same numbers.")
@click.option("--spread", type=float, help="Coefficient of variation of each weight.")
@click.option("--weights", "weight_mode", type=click.Choice(["dirichlet", "uniform"]),
              help="Dirichlet around the configured weights, or uniform on the simplex.")
@click.option("--thresholds", type=float, help="Relative jitter of value-function thresholds.")
@click.option("--top-k", type=int, help="The top k whose membership is counted.")
@_data_dir
@_maps_dir
@_runs_dir
@_preset
@_cache_dir
@_allow_partial
@_engine_options
def sensitivity(config_file: Path, draws: int | None, seed: int | None, spread: float | None,
                weight_mode: str | None, thresholds: float | None, top_k: int | None,
                data_dir: Path | None, maps_dir: Path | None, runs_dir: Path | None,
                preset: str | None, cache_dir: Path | None, allow_partial: bool,
                engine_kind: str | None, scheduler: str | None, workers: int | None,
                partitions: int | None) -> None:
    """How stable is the ranking under weight (and threshold) doubt: a run with Monte Carlo
    draws, one-at-a-time weight sweeps and the smallest weight changes that move sites."""
    from pydantic import ValidationError

    from .config import SensitivityConfig, load_config
    from .pipeline import run as run_pipeline

    cfg = load_config(config_file, preset=preset)
    _writing(cfg.study)
    given = {"draws": draws, "seed": seed, "spread": spread, "weights": weight_mode,
             "thresholds": thresholds, "top_k": top_k}
    base = cfg.sensitivity.model_dump() if cfg.sensitivity else {}
    try:
        cfg.sensitivity = SensitivityConfig(**{**base, **{k: v for k, v in given.items() if v is not None}})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SitescoreError(err["msg"], key="--" + str(err["loc"][0]).replace("_", "-")) from None
    _with_engine(cfg, engine_kind, scheduler, workers, partitions)
    result = run_pipeline(cfg, data_dir=data_dir, maps_dir=maps_dir, runs_dir=runs_dir,
                          cache_dir=cache_dir, allow_partial=allow_partial)
    from .safe_text import terminal_text

    sc = cfg.sensitivity
    col = f"p_top_{sc.top_k}"
    click.echo(f"{sc.draws} draws ({sc.weights}, spread {sc.spread:g}"
               f"{f', thresholds ±{sc.thresholds:g}' if sc.thresholds else ''}; seed {sc.seed}), "
               f"{cfg.aggregation}")
    click.echo(f"{'rank':>4}  {'score':>5}  {col:>9}  {'median':>6}  {'90 % interval':>13}  name")
    for _, s in result.sites.head(max(sc.top_k, 10)).iterrows():
        if col not in s:
            continue
        click.echo(f"{int(s['rank']):>4}  {s['score']:.3f}  {s[col]:>9.2f}  {s['median_rank']:>6.0f}  "
                   f"{int(s['rank_p05']):>6}–{int(s['rank_p95']):<6}  {terminal_text(s['name'])}")
    _say_left_out(result)
    click.echo(f"\ntables: {result.run_dir} (sensitivity.csv, weight_sweeps.csv, weight_changes.csv)")
    if result.map_path:
        click.echo(f"map:    {result.map_path} (charts in {result.map_path.parent / 'sensitivity'})")


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--site", "site", type=int, default=1, show_default=True, help="Site rank.")
@click.option("--top-k", default=10, show_default=True, help="The top-k the weight changes aim at.")
@_preset
@_runs_dir
@click.option("--network", "network", is_flag=True, help="Why each park of the study's network "
              "(`sitescore network`) was chosen over the best site left out for its role.")
def explain(config_file: Path, site: int, top_k: int, preset: str | None, runs_dir: Path | None,
            network: bool) -> None:
    """Why a site ranks where it does (reads the study's last run)."""
    from .config import load_config
    from .explain import explain_site, read_run
    from .folders import recover_outputs

    cfg = load_config(config_file, preset=preset)
    recover_outputs(Path(runs_dir or cfg.outputs.runs_dir) / cfg.study)
    if network:
        from .network.explain import explain_network
        from .network.outputs import read_network

        written = read_network(Path(runs_dir or cfg.outputs.runs_dir) / cfg.study)
        click.echo(explain_network(written.parks, written.record))
        return
    tables = read_run(Path(runs_dir or cfg.outputs.runs_dir) / cfg.study)
    click.echo(explain_site(cfg, tables, site, top_k))


@main.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir
@_maps_dir
@_runs_dir
@_cache_dir
@click.option("--no-map", is_flag=True, help="Write the tables and manifest only (no map, no report).")
@click.option("--no-report", is_flag=True, help="Write the network map but not the report.")
@click.option("--offline", is_flag=True, help="Self-contained map (scripts inlined, no tiles).")
@click.option("--draws", type=click.IntRange(min=10), help="Monte Carlo weight draws (10 or more): how often "
              "each park stays in the optimal network (spread and seed from the config's "
              "sensitivity section).")
@_allow_partial
def network(config_file: Path, data_dir: Path | None, maps_dir: Path | None,
            runs_dir: Path | None, cache_dir: Path | None, no_map: bool, no_report: bool,
            offline: bool, draws: int | None, allow_partial: bool) -> None:
    """Choose a network of parks (the config's `network:` section) exactly: each candidate
    site scored under every role's preset, one mixed-integer programme, the greedy answer beside."""
    from .config import load_config
    from .network.outputs import summary_lines
    from .network.run import run_network
    from .safe_text import terminal_text

    cfg = load_config(config_file)
    _writing(cfg.study)
    result = run_network(cfg, data_dir=data_dir, maps_dir=maps_dir, runs_dir=runs_dir,
                         cache_dir=cache_dir, write_map=not no_map, write_report=not no_report,
                         offline=offline, draws=draws, allow_partial=allow_partial)
    click.echo(f"\nnetwork of {len(result.parks)} parks from {result.problem.n_sites} candidate "
               "sites:")
    click.echo(f"{'park':>4}  {'role':<16} {'score':>5}  {'state':<5} name")
    for _, p in result.parks.iterrows():
        stay = f"  stays {p['p_stay']:.0%}" if "p_stay" in p else ""
        click.echo(f"{int(p['park']):>4}  {terminal_text(str(p['role']))[:16]:<16} "
                   f"{p['score']:.3f}  {terminal_text(str(p['state'] or '')):<5} "
                   f"{terminal_text(str(p['name']))}{stay}")
    for label, value in summary_lines(result.record):
        click.echo(f"{label + ':':<18} {terminal_text(value)}")
    for v in result.greedy.broken:
        click.echo(f"greedy breaks:     {terminal_text(str(v))}")
    for note in result.notes:
        click.echo(f"note: {terminal_text(note)}")
    click.echo(f"\ntables: {result.run_dir} (network.csv, network.gpkg, network_links.csv, "
               "network_candidates.csv)")
    if result.map_path is not None:
        click.echo(f"map:    {result.map_path}")
    if result.report_path is not None:
        click.echo(f"report: {result.report_path}")


@main.group()
def config() -> None:
    """Check a config, or print its JSON Schema."""


@config.command("check")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir
def config_check(config_file: Path, data_dir: Path | None) -> None:
    """Validate a config and say which layer files are present."""
    from .config import load_config
    from .pipeline import layer_sources

    cfg = load_config(config_file)
    sources = layer_sources(cfg, data_dir)
    click.echo(f"{config_file}: valid ({len(cfg.criteria)} criteria, {len(cfg.layers)} layers)")
    from .readers.base import path_status

    missing = []
    for name, src in sources.items():
        ok = src.postgis is not None or path_status(src.path) is not None  # a link loop says so
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
def layers(config_file: Path, data_dir: Path | None) -> None:
    """What each layer resolves to: file, reader, feature count, CRS."""
    import geopandas as gpd

    from .config import load_config
    from .pipeline import layer_sources
    from .readers import read_layer

    cfg = load_config(config_file)
    for name, src in layer_sources(cfg, data_dir).items():
        if src.postgis is None and not src.path.exists():
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


def _data_root(data_dir: Path | None) -> Path:
    import os
    return Path(data_dir or os.environ.get("SITESCORE_DATA_DIR") or "data/raw")


def _dataset_ids(only: str | None) -> list[str] | None:
    return [x.strip() for x in only.split(",") if x.strip()] if only else None


@main.command()
@click.option("--states", multiple=True, metavar="XX",
              help="Two-letter state codes (repeat or space-separate).")
@click.option("--bbox", nargs=4, type=float, metavar="W S E N", help="Lon/lat box.")
@click.option("--only", metavar="ID,ID", help="Catalog dataset ids (default: all).")
@click.option("--dry-run", is_flag=True, help="Say what would be downloaded, and how big.")
@_data_dir
def fetch(states: tuple[str, ...], bbox: tuple[float, ...] | None, only: str | None, dry_run: bool,
          data_dir: Path | None) -> None:
    """Download official public data into the data folder (verified, resumable)."""
    from .catalog import load_catalog
    from .fetch import describe_plan, plan_fetch, probe_sizes, run_fetch
    from .schema import STATE_FIPS

    codes = [c.upper() for part in states for c in part.replace(",", " ").split()]
    unknown = [c for c in codes if c not in STATE_FIPS]
    if unknown:
        raise SitescoreError(f"unknown state code(s): {', '.join(unknown)}", key="--states")
    catalog = load_catalog()
    ids = _dataset_ids(only)
    for ds in ids or []:
        catalog.get(ds, key="--only")
    plan = plan_fetch(catalog, only=ids, states=codes or None, bbox=tuple(bbox) if bbox else None)
    root = _data_root(data_dir)
    if dry_run:
        click.echo(describe_plan(probe_sizes(plan)))
        click.echo(run_fetch(plan, root, dry_run=True).summary())
        return
    report = run_fetch(plan, root, progress=sys.stderr.isatty())
    click.echo(report.summary())
    if not report.ok:
        raise SitescoreError("some datasets could not be fetched (see above); nothing half-written "
                             "was kept", file=root)


@main.group()
def data() -> None:
    """The local data folder: catalog, status, import by hand."""


@data.command("list")
@_data_dir
def data_list(data_dir: Path | None) -> None:
    """Every dataset in the catalog, and whether it is here."""
    from .catalog import load_catalog
    from .datastore import dataset_paths

    here = dataset_paths(_data_root(data_dir))
    catalog = load_catalog()  # read before the header: a bad catalog prints its one line only
    click.echo(f"{'dataset':<22} {'here':<5} {'layer':<19} {'version':<12} {'size':<10} provider / licence")
    for ds in catalog.datasets.values():
        mark = "yes" if ds.id in here else "-"
        click.echo(f"{ds.id:<22} {mark:<5} {ds.layer:<19} {ds.version[:12]:<12} "
                   f"{(ds.expected_size or '?')[:10]:<10} {ds.provider} / {ds.licence}")


@data.command("status")
@_data_dir
@click.option("--no-verify", is_flag=True, help="Skip re-hashing files.")
def data_status(data_dir: Path | None, no_verify: bool) -> None:
    """Present, missing or modified, against the manifest's checksums."""
    from .catalog import load_catalog
    from .datastore import status

    rows = status(_data_root(data_dir), load_catalog(), verify=not no_verify)
    for r in rows:
        click.echo(f"{r.dataset:<22} {r.state:<10} {r.path or '':<60} {r.detail}")
    if any(r.state == "modified" for r in rows):
        raise SitescoreError("some files differ from what was fetched or imported",
                             file=_data_root(data_dir) / "MANIFEST.json")


@data.command("import")
@click.argument("dataset")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--link", is_flag=True, help="Symlink instead of copying (large files).")
@_data_dir
def data_import(dataset: str, path: Path, link: bool, data_dir: Path | None) -> None:
    """Register a file obtained by hand as a catalog dataset."""
    from .catalog import load_catalog
    from .datastore import import_file

    ds = load_catalog().get(dataset, key="DATASET")
    target = import_file(_data_root(data_dir), ds, path, link=link)
    click.echo(f"{ds.id}: {path} -> {target} ({'linked' if link else 'copied'}, checksummed)")


@data.command("prepare")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir
@_cache_dir
def data_prepare(config_file: Path, data_dir: Path | None, cache_dir: Path | None) -> None:
    """Read each vector layer of a config once into the GeoParquet cache, so runs read only
    their study area from it."""
    import time

    from .cache import default_cache_dir, prepare
    from .config import load_config
    from .folders import cannot_write
    from .pipeline import layer_sources
    from .readers import READERS
    from .schema import LAYERS

    cfg = load_config(config_file)
    target = cache_dir or default_cache_dir()
    for name, src in layer_sources(cfg, data_dir).items():
        if not src.path.exists() or LAYERS[READERS[src.reader].layer].geometry == "raster":
            continue
        t0 = time.perf_counter()
        try:
            path = prepare(src, target)
        except OSError as exc:  # a full disk or a read-only cache: the source files are untouched
            raise cannot_write(exc, target, f"cannot write the prepared layer '{name}'") from None
        click.echo(f"{name:<22} {path} ({time.perf_counter() - t0:.1f} s)")


@main.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for compare.csv and compare.html (default: runs/compare-<A>-vs-<B>).")
@click.option("--top", type=click.IntRange(min=1), default=None,
              help="Only sites ranked in the top N of either run (default: all).")
def compare(run_a: Path, run_b: Path, out: Path | None, top: int | None) -> None:
    """What changed between two runs: sites gained, lost and moved, and the criteria behind it."""
    from .compare import PRINT_ROWS, compare_runs, format_report, write_outputs
    from .folders import recover_outputs
    from .safe_text import terminal_text

    recover_outputs(*(p.parent if p.is_file() else p for p in (run_a, run_b)))
    comparison = compare_runs(run_a, run_b, top=top)
    csv_path, html_path = write_outputs(comparison, out)
    for line in format_report(comparison, limit=None if top else PRINT_ROWS):
        click.echo(terminal_text(line))  # site names and notes come from the data
    click.echo(f"\ntable: {csv_path}\nmap:   {html_path}")


@main.command()
@click.argument("cases", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@_preset
@click.option("--random-per-state", metavar="N", help="Random comparison points drawn in each "
              "state the cases lie in (default 50).")
@click.option("--seed", metavar="N", help="Seed of the comparison points: the same seed, the same "
              "points (default 1).")
@click.option("--radius-km", metavar="KM", help="Each case and point is scored as a circle of this "
              "radius (default 1).")
@click.option("--allow-partial", is_flag=True, help="Go on when the criteria scored keep less of the "
              "configured weight than the study's min_weight_kept (said in the output).")
@_data_dir
@_runs_dir
@_cache_dir
def validate(cases: Path, config_file: Path, preset: str | None, random_per_state: str | None,
             seed: str | None, radius_km: str | None, allow_partial: bool, data_dir: Path | None,
             runs_dir: Path | None, cache_dir: Path | None) -> None:
    """Score your own past decisions (CASES.csv: lon, lat, chosen yes/no, optional group, id,
    name) against random points per state: how a preset would have ranked what you chose."""
    from . import validate as v
    from .config import load_config
    from .safe_text import terminal_text

    per_state = v.parse_count(random_per_state, "--random-per-state", v.DEFAULT_RANDOM_PER_STATE, least=1)
    seed_n = v.parse_count(seed, "--seed", v.DEFAULT_SEED)
    radius = v.parse_km(radius_km, "--radius-km", v.DEFAULT_RADIUS_KM)
    cfg = load_config(config_file, preset=preset)
    _writing(f"{cfg.study}-validate")
    result = v.validate(cases, cfg, random_per_state=per_state, seed=seed_n, radius_km=radius,
                        data_dir=data_dir, cache_dir=cache_dir, runs_dir=runs_dir,
                        allow_partial=allow_partial)
    for line in v.report_lines(result):
        click.echo(terminal_text(line))  # case names, groups and notes come from the data


if __name__ == "__main__":  # pragma: no cover
    main()
