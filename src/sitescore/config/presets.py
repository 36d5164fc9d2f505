"""Scenario presets: partial configs (criteria, weights, sites) applied on top of a study's data.

The presets sitescore ships are package data (sitescore/presets/NAME.yaml), so a bare name works
from an installed wheel as from a checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from .yaml_loader import LineDict

#: What a preset may set: the scenario, never the study's data or area.
PRESET_KEYS = {"title", "description", "criteria", "constraints", "sites", "candidates", "weights",
               "aggregation", "sensitivity", "costs"}
#: Metrics of the candidate land itself (its layer is never read): a preset's criterion on the
#: land it selects measures a study's own candidates, such as a shortlist, instead.
CANDIDATE_METRICS = {"contiguous_acres", "land_pathway"}


def apply_preset(doc: dict, preset: dict, preset_name: str = "preset") -> tuple[dict, list[str]]:
    """A study config with a scenario preset applied: the preset's criteria and constraints replace
    the study's; sites, candidates, weights, aggregation and sensitivity are overridden key by
    key. Criteria needing a layer the study lacks are left out, each with a note."""
    if not isinstance(preset, dict):
        raise ConfigError("a preset must be a YAML mapping", file=preset_name)
    unknown = sorted(set(preset) - PRESET_KEYS)
    if unknown:
        raise ConfigError(f"a preset sets only {', '.join(sorted(PRESET_KEYS))}", file=preset_name,
                          key=unknown[0])
    for key, kind in (("criteria", dict), ("constraints", list)):
        if key in preset and not isinstance(preset[key], kind):
            raise ConfigError(f"must be a {'mapping' if kind is dict else 'list'}", key=key,
                              file=preset_name)
    out = LineDict(dict(doc), getattr(doc, "lines", {}))
    notes: list[str] = []
    for key, value in preset.items():
        if key in ("criteria", "constraints", "title", "description", "aggregation"):
            out[key] = value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    layers = set(doc["layers"]) if isinstance(doc.get("layers"), dict) else set()
    criteria = dict(out["criteria"]) if isinstance(out.get("criteria"), dict) else {}
    source = out["candidates"].get("source") if isinstance(out.get("candidates"), dict) else None
    for name, crit in list(criteria.items()):
        layer = crit.get("layer") if isinstance(crit, dict) else None
        metric = crit.get("metric") if isinstance(crit, dict) else None
        # a mistyped value (a list, a mapping) is the config check's to report, not a crash here
        if isinstance(metric, str) and metric in CANDIDATE_METRICS and isinstance(source, str) \
                and isinstance(layer, str) and layer not in layers and source in layers:
            # it measures the candidates themselves: a shortlist's sites count by their acres
            criteria[name] = crit = LineDict({**crit, "layer": source}, getattr(crit, "lines", {}))
            layer = source
        if isinstance(layer, str) and layer not in layers:
            notes.append(f"criterion '{name}' of preset {preset_name} left out: this study has no "
                         f"layer '{layer}'")
            del criteria[name]
    if isinstance(preset.get("costs"), dict) and isinstance(out.get("costs"), dict):
        out["costs"] = _costs_for_study(out["costs"], layers, criteria, notes, preset_name)
        if not out["costs"].get("connections"):
            del out["costs"]
    if isinstance(out.get("criteria"), dict):
        out["criteria"] = criteria
    if isinstance(out.get("constraints"), list):
        out["constraints"] = [c for c in out["constraints"] if not isinstance(c, dict)
                              or not isinstance(c.get("criterion"), str) or c["criterion"] in criteria]
    if isinstance(out.get("weights"), dict) and isinstance(out["weights"].get("pairwise"), dict):
        out["weights"] = dict(out["weights"])
        out["weights"]["pairwise"] = {a: {b: v for b, v in row.items() if b in criteria}
                                      if isinstance(row, dict) else row
                                      for a, row in out["weights"]["pairwise"].items() if a in criteria}
    out["study"] = f"{doc.get('study', 'study')}-{Path(str(preset_name)).stem}"
    return out, notes


def _costs_for_study(costs: dict, layers: set[str], criteria: dict, notes: list[str],
                     preset_name: str) -> dict:
    """The preset's costs section without the connections (and terrain) whose layer the study
    lacks, and without the readiness_cost criteria that would price them (each with a note)."""
    costs = dict(costs)
    conns: dict = costs["connections"] if isinstance(costs.get("connections"), dict) else {}
    gone = [n for n, c in conns.items() if isinstance(c, dict) and c.get("layer") not in layers]
    for name in gone:
        notes.append(f"costs connection '{name}' of preset {preset_name} left out: this study has "
                     f"no layer '{conns[name].get('layer')}'")
    costs["connections"] = {n: c for n, c in conns.items() if n not in gone}
    if isinstance(costs.get("terrain"), str) and costs["terrain"] not in layers:
        notes.append(f"costs terrain of preset {preset_name} left out: this study has no layer "
                     f"'{costs['terrain']}' (routes cost their length times the route factor)")
        gone += ["grading"] if costs.get("grading") else []
        costs.pop("terrain")
        costs.pop("grading", None)
    readiness = {n: c for n, c in criteria.items()
                 if isinstance(c, dict) and c.get("metric") == "readiness_cost"}
    for name, crit in readiness.items():
        component = _component(crit)
        if gone and (component == "total" or component in gone or not costs["connections"]):
            notes.append(f"criterion '{name}' of preset {preset_name} left out: its cost needs "
                         f"{', '.join(gone)}, which this study cannot route")
            del criteria[name]
    if "max_cost_musd" in costs and not any(n in criteria and _component(c) == "total"
                                            for n, c in readiness.items()):
        costs.pop("max_cost_musd")
        notes.append(f"costs.max_cost_musd of preset {preset_name} left out with its criterion")
    return costs


def _component(crit: dict) -> object:
    """The cost a readiness_cost criterion scores: `component`, inline or under `params`."""
    params: dict = crit["params"] if isinstance(crit.get("params"), dict) else {}
    return crit.get("component", params.get("component", "total"))


def _merged(base: dict, override: dict) -> dict:
    """`base` with `override` laid over it, nested mappings key by key."""
    out = dict(base)
    for k, v in override.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def shipped_presets() -> list[str]:
    """Names of the presets that come with sitescore."""
    folder = resources.files("sitescore").joinpath("presets")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str | Path, config_path: Path) -> Path:
    """The preset file `name` stands for: a path as given (relative to the config's folder, then
    to the current one); for a bare name, presets/NAME.yaml beside the config or in the current
    folder (a study's own), else the preset sitescore ships under that name."""
    p = Path(name).expanduser()
    candidates = [p] if p.is_absolute() else [config_path.parent / p, Path.cwd() / p]
    bare = p.suffix == "" and len(p.parts) == 1
    if bare:
        candidates += [base / "presets" / f"{p}.yaml" for base in (config_path.parent, Path.cwd())]
    for c in candidates:
        if c.exists():
            return c
    if bare:
        shipped = resources.files("sitescore").joinpath("presets", f"{p}.yaml")
        if shipped.is_file():
            return Path(str(shipped))
        known = f"; sitescore ships {', '.join(shipped_presets())}"
    else:
        known = ""
    raise ConfigError(f"preset not found (looked for {', '.join(str(c) for c in candidates[:4])}"
                      f"{known})", file=config_path, key="preset")
