"""The network run: roles -> one measuring study -> each role's pass -> candidate pool ->
problem -> exact solve (and the greedy answer, the reasons, the robustness draws) -> tables.

`compute_network` writes nothing; `run_network` computes under the output folders' locks and
writes through `outputs.write_network` inside the folders' atomic swap, as `pipeline.run` does.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from pydantic import ValidationError

from ..candidates import fill_states
from ..config import Config, SensitivityConfig
from ..errors import ConfigError, DataError, SitescoreError
from ..filters import parse_where
from ..folders import atomic_dirs, study_lock
from ..pipeline import StageTimer, StudyResult, layer_sources, score
from ..readers import READERS, read_layer
from ..schema import LAYERS, M_PER_KM
from ..study_area import StudyArea
from .candidates import CandidatePool, RoleScoring, candidate_pool, score_roles
from .checks import state_counts, violations
from .diagnose import families, infeasibility_message
from .explain import ParkReason, park_reasons
from .greedy import GreedyResult, greedy_network
from .model import NetworkModel, Solution, count_key
from .problem import NetworkProblem, build_problem, roles_from_config
from .roads import RoadGraph
from .robustness import Robustness, draw_scores, network_robustness
from .roles import RoleStudy, load_roles, measuring_config, network_of
from .tables import candidates_table, link_text, links_table, parks_table


@dataclass(repr=False)
class NetworkResult:
    """A network computed in memory: the parks, links and candidates (EPSG:5070), how it was
    solved, the greedy answer beside it, and the record the manifest keeps."""

    cfg: Config
    study: StudyResult
    roles: dict[str, RoleStudy]
    scorings: dict[str, RoleScoring]
    pool: CandidatePool
    problem: NetworkProblem
    solution: Solution
    greedy: GreedyResult
    reasons: list[ParkReason]
    robustness: Robustness | None
    parks: gpd.GeoDataFrame
    links: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    notes: list[str]
    record: dict[str, Any]
    timer: StageTimer
    road_graph: RoadGraph | None = None
    run_dir: Path | None = None
    map_path: Path | None = None
    report_path: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"NetworkResult(study={self.cfg.study!r}, parks={len(self.parks)}, "
                f"candidates={self.problem.n_sites}, status={self.solution.status!r})")


@contextmanager
def _located(cfg: Config) -> Iterator[None]:
    """A key found late still gets its file and YAML line."""
    try:
        yield
    except SitescoreError as exc:
        located = cfg.locate(exc)
        if located is exc:
            raise
        raise located from None


def compute_network(cfg: Config, *, data_dir: str | Path | None = None,
                    cache_dir: str | Path | None = None, draws: int | None = None,
                    allow_partial: bool = False) -> NetworkResult:
    """The network for `cfg` (its `network:` section), in memory. `draws` Monte Carlo weight
    draws (the config's `sensitivity` settings for spread and seed) measure how often each park
    stays; a role scoring below its preset's min_weight_kept stops the run unless
    `allow_partial`. An infeasible network raises a ConfigError naming the constraints that
    cannot hold together."""
    with _located(cfg):
        return _compute(cfg, data_dir=data_dir, cache_dir=cache_dir, draws=draws,
                        allow_partial=allow_partial)


def run_network(cfg: Config, *, data_dir: str | Path | None = None,
                maps_dir: str | Path | None = None, runs_dir: str | Path | None = None,
                cache_dir: str | Path | None = None, write_map: bool = True,
                write_report: bool = True, offline: bool = False, draws: int | None = None,
                allow_partial: bool = False) -> NetworkResult:
    """`compute_network`, then its files written atomically into runs/<study> (network.csv,
    network.gpkg, network_candidates.csv, network_links.csv, manifest.json) and, unless not
    `write_map`, maps/<study> (the network map, and the report unless not `write_report`)."""
    from .outputs import write_network

    run_dir = Path(runs_dir or cfg.outputs.runs_dir) / cfg.study
    map_dir = Path(maps_dir or cfg.outputs.maps_dir) / cfg.study if write_map else None
    with _located(cfg), study_lock(run_dir, map_dir):
        result = _compute(cfg, data_dir=data_dir, cache_dir=cache_dir, draws=draws,
                          allow_partial=allow_partial)
        with result.timer.stage("outputs"), \
                atomic_dirs(run_dir, *([map_dir] if map_dir else [])) as temps:
            result.manifest = write_network(result, temps[0], temps[1] if map_dir else None,
                                            report=write_report, offline=offline,
                                            final_dirs=(run_dir, map_dir))
    result.run_dir = run_dir
    result.map_path = map_dir / "index.html" if map_dir else None
    result.report_path = map_dir / "report.html" if map_dir and write_report else None
    return result


def _is_shortlist(cfg: Config, data_dir: str | Path | None) -> bool:
    reader = layer_sources(cfg, data_dir)[cfg.candidates.source].reader
    return READERS[reader].layer == "candidates"


def _compute(cfg: Config, *, data_dir: str | Path | None, cache_dir: str | Path | None,
             draws: int | None, allow_partial: bool) -> NetworkResult:
    net = network_of(cfg)
    timer = StageTimer()
    notes: list[str] = []
    with timer.stage("network roles"):
        roles = load_roles(cfg)
        _check_layers(cfg)
        for role in roles.values():
            notes += [f"role '{role.name}': {n}" for n in role.cfg.notes]
    study = score(measuring_config(cfg, roles), data_dir=data_dir, cache_dir=cache_dir,
                  allow_partial=True)
    timer.seconds.update({f"measure: {k}": v for k, v in study.timings.items()})
    notes += study.notes
    with timer.stage("network candidates"):
        scorings = score_roles(study, roles, allow_partial=allow_partial)
        for sc in scorings.values():
            notes += sc.notes
        pool = candidate_pool(study, roles, scorings, net, _is_shortlist(cfg, data_dir))
        pool.sites = _with_states(cfg, net, pool.sites, study, data_dir, notes)
    with timer.stage("network problem"):
        plants = _power_plants(cfg, study.area, data_dir) if net.constraints.power_share else None
        roads = _road_graph(cfg, study.area, data_dir, notes)
        spacing = {n: r.cfg.sites.min_spacing_km for n, r in roles.items()}
        problem = build_problem(pool.sites, pool.scores, pool.eligible,
                                roles_from_config(net, spacing), net, plants=plants, roads=roads)
        _check_counts(cfg, problem, pool, roles)
        model = NetworkModel(problem)
    with timer.stage("network solve"):
        solution = model.solve(time_limit_s=net.solver.time_limit_s,
                               mip_rel_gap=net.solver.mip_rel_gap)
    if not solution.feasible:
        if solution.status != "infeasible":
            raise SitescoreError(f"no network found within {net.solver.time_limit_s:g} s "
                                 f"({solution.status}); raise the limit or loosen the "
                                 "constraints", key="network.solver.time_limit_s")
        message, key = infeasibility_message(problem, net.solver.time_limit_s)
        raise ConfigError(message, key=key)
    broken = violations(problem, solution.chosen)
    assert not broken, broken  # the solver's network keeps every constraint
    with timer.stage("network greedy"):
        greedy = greedy_network(problem)
    reasons = park_reasons(problem, solution.chosen)
    robustness = None
    if draws:
        with timer.stage("network robustness"):
            base = cfg.sensitivity.model_dump() if cfg.sensitivity else {}
            try:
                sens = SensitivityConfig(**{**base, "draws": draws})
            except ValidationError as exc:
                raise ConfigError(exc.errors()[0]["msg"], key="draws") from None
            scores = draw_scores(pool.values, pool.weights, pool.methods, pool.roles, sens)
            robustness = network_robustness(model, solution.chosen, scores,
                                            time_limit_s=net.solver.time_limit_s,
                                            mip_rel_gap=net.solver.mip_rel_gap)
    parks = parks_table(problem, pool, solution.chosen, reasons, robustness)
    links = links_table(problem, pool, solution.chosen, roads if _any_freeway(problem) else None)
    parks["links"] = [link_text(links, int(k)) for k in parks["park"]]
    candidates = candidates_table(problem, pool, solution.chosen)
    record = _record(cfg, roles, scorings, problem, pool, solution, greedy, robustness, roads)
    return NetworkResult(cfg, study, roles, scorings, pool, problem, solution, greedy, reasons,
                         robustness, parks, links, candidates, notes, record, timer, roads)


def _any_freeway(problem: NetworkProblem) -> bool:
    return any(link.by == "freeway" for link in problem.links)


# --------------------------------------------------------------------------- layers


def _check_layers(cfg: Config) -> None:
    """The power and road layers the constraints name: configured, and of the right kind."""
    c = network_of(cfg).constraints
    if c.power_share is not None:
        _layer_kind(cfg, c.power_layer, "power_plants", "network.constraints.power_layer")


def _layer_kind(cfg: Config, name: str, kind: str, key: str) -> None:
    if name not in cfg.layers:
        raise ConfigError(f"layer '{name}' is not in 'layers'", key=key)
    reader = layer_sources(cfg)[name].reader
    if READERS[reader].layer != kind:
        raise ConfigError(f"layer '{name}' is read as {READERS[reader].layer}, not {kind}", key=key)


def _read_around(cfg: Config, name: str, area: StudyArea, margin_km: float,
                 data_dir: str | Path | None, key: str) -> gpd.GeoDataFrame:
    source = layer_sources(cfg, data_dir)[name]
    if source.postgis is None and not source.path.exists():
        raise DataError(f"layer '{name}' not found at {source.path}", key=key)
    where = StudyArea(area.label, shapely.buffer(area.geometry, margin_km * M_PER_KM, quad_segs=4)) \
        if area.geometry is not None else area
    layer = read_layer(source, where)
    if not isinstance(layer, gpd.GeoDataFrame):
        raise DataError(f"layer '{name}' is not a vector layer", key=key)
    return layer


def _filtered(layer: gpd.GeoDataFrame, expr: str | None, key: str, kind: str) -> gpd.GeoDataFrame:
    if not expr:
        return layer
    try:
        return layer[parse_where(expr, LAYERS[kind].columns)(layer)]
    except (ValueError, KeyError) as exc:
        raise ConfigError(str(exc.args[0] if exc.args else exc), key=key) from None


def _power_plants(cfg: Config, area: StudyArea, data_dir: str | Path | None) -> gpd.GeoDataFrame:
    c = network_of(cfg).constraints
    assert c.power_radius_km is not None
    plants = _read_around(cfg, c.power_layer, area, c.power_radius_km, data_dir,
                          "network.constraints.power_layer")
    return _filtered(plants, c.power_where, "network.constraints.power_where", "power_plants")


def _road_graph(cfg: Config, area: StudyArea, data_dir: str | Path | None,
                notes: list[str]) -> RoadGraph | None:
    """The road graph freeway links run on; None (links measured straight, said in the notes)
    when no road layer is configured or found."""
    c = network_of(cfg).constraints
    freeway = [link for link in c.links if link.by == "freeway"]
    if not freeway:
        return None
    name = c.road_layer
    source = layer_sources(cfg, data_dir).get(name)
    if source is None or (source.postgis is None and not source.path.exists()):
        notes.append(f"links by freeway are measured as straight lines: no road layer "
                     f"'{name}' {'is configured' if source is None else 'was found'}")
        return None
    if LAYERS[READERS[source.reader].layer].geometry != "line":
        raise ConfigError(f"layer '{name}' holds {READERS[source.reader].layer}, not lines",
                          key="network.constraints.road_layer")
    margin = max(link.max_km for link in freeway) / 2  # a route within L of two sites
    roads = _read_around(cfg, name, area, margin, data_dir, "network.constraints.road_layer")
    kind = READERS[source.reader].layer
    roads = _filtered(roads, c.road_where, "network.constraints.road_where", kind)
    return RoadGraph.from_lines(roads, where=f"layer '{name}'")


def _with_states(cfg: Config, net: Any, sites: gpd.GeoDataFrame, study: StudyResult,
                 data_dir: str | Path | None, notes: list[str]) -> gpd.GeoDataFrame:
    """Each candidate's state, from the states layer where its land names none (a shortlist)."""
    c = net.constraints
    needed = c.max_per_state is not None or c.min_states is not None
    missing = sites["state"].isna()
    if not needed or not missing.any():
        return sites
    key = "network.constraints.min_states" if c.min_states is not None else \
        "network.constraints.max_per_state"
    states = study.layers.get("states")
    if states is None:
        if "states" not in cfg.layers:
            raise ConfigError("needs each candidate site's state: add a 'states' layer "
                              "(dataset states)", key=key)
        states = read_layer(layer_sources(cfg, data_dir)["states"], None)
        study.layers["states"] = states  # the offline map's basemap too
    filled = fill_states(sites, states)
    left = int(filled["state"].isna().sum())
    if left:
        notes.append(f"{left} candidate site(s) lie in no state of the states layer: they count "
                     "toward no state limit")
    return filled


# --------------------------------------------------------------------------- checks, record


def _check_counts(cfg: Config, problem: NetworkProblem, pool: CandidatePool,
                  roles: dict[str, RoleStudy]) -> None:
    """A role needing more parks than sites qualify: say why the others do not."""
    for r, role in enumerate(problem.roles):
        n = int(problem.eligible[:, r].sum())
        if n >= role.count_min:
            continue
        why = Counter(str(x) for x in pool.why_not[:, r] if x is not None)
        said = "; ".join(f"{reason}: {k}" for reason, k in why.most_common(3))
        raise ConfigError(f"needs at least {role.count_min} {role.name} "
                          f"park{'s' if role.count_min != 1 else ''}, but {n} of the "
                          f"{problem.n_sites} candidate sites qualify under preset "
                          f"{roles[role.name].preset_name}" + (f" (left out: {said})" if said else ""),
                          key=count_key(role.name))


def improvement(exact: float | None, greedy: GreedyResult) -> str:
    """How much better the exact network is than the greedy one, in words."""
    if exact is None:
        return "n/a"
    if not greedy.chosen:
        return "greedy found no network"
    diff = exact - greedy.objective
    pct = f"{100 * diff / greedy.objective:+.1f}%" if greedy.objective > 0 else "n/a"
    tail = "" if greedy.feasible else " (and the greedy network breaks constraints)"
    return f"{pct} ({diff:+.4f}){tail}"


def _record(cfg: Config, roles: dict[str, RoleStudy], scorings: dict[str, RoleScoring],
            problem: NetworkProblem, pool: CandidatePool, solution: Solution,
            greedy: GreedyResult, robustness: Robustness | None,
            roads: RoadGraph | None) -> dict[str, Any]:
    """What the manifest keeps of the network: roles, constraints, model, solve, greedy."""
    net = network_of(cfg)
    chosen_roles = Counter(r for _, r in solution.chosen)
    out_roles = {}
    for k, (name, role) in enumerate(roles.items()):
        sc = scorings[name]
        out_roles[name] = {
            "preset": role.preset_name, "count": role.spec.count.model_dump(),
            "power_mw": role.spec.power_mw, "water_mgd": role.spec.water_mgd,
            "weight": role.spec.weight, "spacing_km": role.cfg.sites.min_spacing_km,
            "parks": chosen_roles.get(k, 0),
            "candidates_qualifying": int(problem.eligible[:, k].sum()),
            "criteria": list(sc.criteria), "weight_kept": round(sc.weight_kept, 6),
            "left_out": [x.record() for x in sc.left_out]}
    power = sum(problem.roles[r].power_mw for _, r in solution.chosen)
    water = sum(problem.roles[r].water_mgd for _, r in solution.chosen)
    return {
        "roles": out_roles,
        "objective": net.objective,
        "constraints": {f.key: f.text for f in families(problem)},
        "candidates": problem.n_sites,
        "solve": solution.record(),
        "greedy": {"objective": greedy.objective, "feasible": greedy.feasible,
                   "broken": [str(v) for v in greedy.broken],
                   "parks": [[int(problem.site_ids[i]), problem.roles[r].name]
                             for i, r in greedy.chosen],
                   "improvement": improvement(solution.objective, greedy)},
        "robustness": robustness.record() if robustness else None,
        "totals": {"power_mw": power, "water_mgd": water,
                   "states": state_counts(problem, solution.chosen)},
        "links": [{"key": link.key, "by": link.by, "pairs_in_reach": len(link.pair_from)}
                  for link in problem.links],
        "road_graph": {"vertices": roads.n_vertices, "km": round(roads.total_km, 1)}
        if roads is not None else None,
    }


def with_sites(study: StudyResult, parks: gpd.GeoDataFrame) -> StudyResult:
    """The measuring study seen around the parks (the map's input layers near them)."""
    return dataclasses.replace(study, sites=parks)

