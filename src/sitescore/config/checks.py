"""Checks of a validated config against the rest of sitescore: reader and dataset names, reader
options, metric names and parameters, `where` filters against the layer's columns, and the AHP
weights. Each error names the key and its YAML line.

The registries these check against sit in higher stages that import the config models, so they
are imported where they are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from ..mcda import ahp_weights
from ..schema import LAYERS
from .models import Config
from .yaml_loader import line_of


def pydantic_message(err: Any) -> str:
    """A pydantic error's message in the config's words."""
    if err["type"] == "finite_number":
        return "must be a finite number (not NaN or infinity)"
    return err["msg"].removeprefix("Value error, ")


def layer_schema(cfg: Config, layer: str) -> Any:
    """The canonical schema (schema.LayerSchema) a configured layer will have, None when its
    reader is not known yet."""
    from ..readers import READERS

    lc = cfg.layers[layer]
    reader = lc.reader
    if reader is None and lc.dataset is not None:
        try:
            from ..catalog import load_catalog
            reader = load_catalog().datasets[lc.dataset].reader
        except Exception:  # an unknown dataset is reported when the layer is read
            return None
    spec = READERS.get(reader) if reader else None
    return LAYERS.get(spec.layer) if spec is not None else None


def layer_columns(cfg: Config, layer: str) -> list[str]:
    """The canonical columns a configured layer will have ([] when its reader is not known
    yet, or it is a raster)."""
    schema = layer_schema(cfg, layer)
    return list(schema.columns) if schema is not None else []


def check_readers(cfg: Config, doc: Any, source: Path | str) -> None:
    """Reader names, and the options each layer gives its reader, are checked against the reader
    registry, with the YAML line."""
    from ..readers import READERS

    for name, layer in cfg.layers.items():
        if layer.reader is not None and layer.reader not in READERS:
            line = line_of(doc, ("layers", name, "reader"))
            where = f"{source}, line {line}" if line else f"{source}"
            raise ConfigError(f"unknown reader '{layer.reader}'; known: {', '.join(sorted(READERS))}",
                              file=where, key=f"layers.{name}.reader")
        if layer.dataset is not None:
            from ..catalog import load_catalog
            known = load_catalog().datasets
            if layer.dataset not in known:
                line = line_of(doc, ("layers", name, "dataset"))
                raise ConfigError(f"unknown dataset '{layer.dataset}'; known: {', '.join(sorted(known))}",
                                  file=f"{source}, line {line}" if line else f"{source}",
                                  key=f"layers.{name}.dataset")
        # options the reader does not take (a misspelt `z_unit`) would be ignored without a word
        reader = layer.reader
        if reader is None and layer.dataset is not None:
            from ..catalog import load_catalog
            reader = load_catalog().datasets[layer.dataset].reader
        if reader is not None and layer.options:
            from ..readers import check_options
            try:
                check_options(READERS[reader], name, layer.options)
            except ConfigError as exc:
                line = line_of(doc, tuple(exc.key.split("."))) if exc.key else None
                raise ConfigError(str(exc).split(": ", 1)[-1],
                                  file=f"{source}, line {line}" if line else f"{source}",
                                  key=exc.key) from None


def apply_ahp(cfg: Config, source: Path | str, doc: Any = None) -> None:
    """Criterion weights from the AHP matrix; the consistency ratio is kept for the manifest."""
    try:
        result = ahp_weights(list(cfg.criteria), cfg.weights.pairwise, cfg.weights.max_consistency_ratio)
    except ConfigError as exc:
        line = line_of(doc, tuple(exc.key.split("."))) if exc.key else None
        raise ConfigError(str(exc).split(": ", 1)[-1] if exc.key else str(exc),
                          file=f"{source}, line {line}" if line else source, key=exc.key) from None
    for name, crit in cfg.criteria.items():
        crit.weight = float(result.weights[name])
    cfg.ahp = {"weights": {k: round(float(v), 6) for k, v in result.weights.items()},
               "lambda_max": round(float(result.lambda_max), 6),
               "consistency_ratio": round(float(result.consistency_ratio), 6)}


def check_metrics(cfg: Config, doc: Any, source: Path | str) -> None:
    """Metric names and their parameters are checked against the metric registry."""
    from ..metrics import METRICS

    for name, crit in cfg.criteria.items():
        key = f"criteria.{name}"
        line = line_of(doc, ("criteria", name))
        where = f"{source}, line {line}" if line else f"{source}"
        spec = METRICS.get(crit.metric)
        if spec is None:
            raise ConfigError(f"unknown metric '{crit.metric}'; known: {', '.join(sorted(METRICS))}",
                              file=where, key=f"{key}.metric")
        unknown = sorted(set(crit.params) - set(spec.params.model_fields))
        if unknown:
            known = ", ".join(spec.params.model_fields) or "none"
            raise ConfigError(f"unknown parameter for metric '{crit.metric}' (its parameters: {known})",
                              file=where, key=f"{key}.{unknown[0]}")
        try:
            crit.params = spec.params.model_validate(crit.params).model_dump()
        except ValidationError as exc:
            err = exc.errors()[0]
            pkey = ".".join(str(p) for p in err["loc"])
            msg = "unknown parameter for this metric" if err["type"] == "extra_forbidden" \
                else pydantic_message(err)
            raise ConfigError(msg, file=where, key=f"{key}.{pkey}") from None
        column = crit.params.get("field")
        columns = layer_columns(cfg, crit.layer)
        if isinstance(column, str) and columns and column not in columns:
            fline = line_of(doc, ("criteria", name, "field")) or line
            raise ConfigError(f"layer '{crit.layer}' has no column '{column}' (its columns: "
                              f"{', '.join(columns)})", file=f"{source}, line {fline}" if fline
                              else f"{source}", key=f"{key}.field")
        if crit.where is not None:
            check_where(cfg, name, doc, source)


def check_where(cfg: Config, name: str, doc: Any, source: Path | str) -> None:
    """A criterion's filter parses, and fits its layer's canonical columns when they are known
    (a column it lacks, a literal of the wrong kind, a raster): errors carry the `where` line."""
    from ..filters import parse_where

    crit = cfg.criteria[name]
    if crit.where is None:
        return
    line = line_of(doc, ("criteria", name, "where"))
    where = f"{source}, line {line}" if line else f"{source}"
    key = f"criteria.{name}.where"
    schema = layer_schema(cfg, crit.layer)
    if schema is not None and schema.geometry == "raster":
        raise ConfigError(f"layer '{crit.layer}' is a raster: it has no columns to filter; "
                          "remove 'where'", file=where, key=key)
    try:
        parse_where(crit.where, schema.columns if schema is not None and schema.columns else None)
    except ValueError as exc:
        message = str(exc)
        if schema is not None and ": no column " in message:
            message = message.replace(": no column ", f": layer '{crit.layer}' has no column ", 1)
        raise ConfigError(message, file=where, key=key) from None



def pathway_table_path(cfg: Config, source: Path | str | None = None) -> Path | None:
    """The user's land-pathway table, relative to the config file (`source` while the config is
    being loaded); None: the shipped table only."""
    table = cfg.candidates.pathways.table
    if table is None:
        return None
    path = Path(table).expanduser()
    config_file = cfg.source_path or (Path(source) if source and source != "<config>" else None)
    if not path.is_absolute() and config_file is not None:
        path = config_file.parent / path
    return path


def check_pathways(cfg: Config, doc: Any, source: Path | str) -> None:
    """The land-pathway table (the user's too) reads whole; the instruments the limits name exist;
    the area layers and the shortlist's land layer are configured, with the right readers."""
    from ..pathways import load_pathway_table
    from ..readers import READERS

    pw = cfg.candidates.pathways
    base = ("candidates", "pathways")
    table = load_pathway_table(pathway_table_path(cfg, source))
    for i, code in enumerate(pw.exclude_pathways):
        if code.lower() not in table.instruments:
            line = line_of(doc, (*base, "exclude_pathways"))
            raise ConfigError(f"'{code}' is not an instrument of the land-pathway table (known: "
                              f"{', '.join(sorted(table.instruments))})",
                              file=f"{source}, line {line}" if line else f"{source}",
                              key=f"candidates.pathways.exclude_pathways.{i}")
    wanted = [(f"layers.{i}", n, "pathway_areas") for i, n in enumerate(pw.layers)]
    if pw.land is not None:
        wanted.append(("land", pw.land, "federal_land"))
    for key, name, kind in wanted:
        line = line_of(doc, (*base, key.split(".")[0]))
        where = f"{source}, line {line}" if line else f"{source}"
        if name not in cfg.layers:
            raise ConfigError(f"no layer '{name}' in layers (layers: {', '.join(cfg.layers)})",
                              file=where, key=f"candidates.pathways.{key}")
        schema = layer_schema(cfg, name)
        if schema is not None and schema.name != kind:
            readers = ", ".join(sorted(r for r, s in READERS.items() if s.layer == kind))
            raise ConfigError(f"layer '{name}' is read as {schema.name}; it needs a {kind} "
                              f"reader ({readers})", file=where, key=f"candidates.pathways.{key}")
