"""Loading a config: YAML file (and preset) -> validated `Config`, every mistake one ConfigError
naming the key and its YAML line."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .checks import apply_ahp, check_metrics, check_pathways, check_readers, pydantic_message
from .models import Config, KeyedError
from .presets import apply_preset, preset_path
from .yaml_loader import LineDict, line_of, read_yaml


def load_config(path: str | Path, preset: str | Path | None = None) -> Config:
    """Read and validate a YAML config file (safe loader only), with a scenario preset applied
    when the config names one or `preset` is given (a path, or the name of a shipped preset)."""
    path = Path(path)
    doc = read_yaml(path)
    notes: list[str] = []
    chosen = preset or (doc.get("preset") if isinstance(doc, dict) else None)
    if chosen is not None and not isinstance(chosen, (str, Path)):
        line = line_of(doc, ("preset",))
        raise ConfigError(f"must be a preset name or file, got {chosen!r}", key="preset",
                          file=f"{path}, line {line}" if line else path)
    if chosen:
        found = preset_path(chosen, path)
        doc, notes = apply_preset(doc, read_yaml(found, "preset"), str(found))
        doc["preset"] = str(found)
    cfg = parse_config(doc, path)
    cfg.source_path = path.resolve()
    cfg.notes = notes
    return cfg


def parse_config(doc: Any, source: Path | str = "<config>") -> Config:
    """Validate an already-parsed YAML document; errors name the key and YAML line."""
    try:
        return _parse_config(doc, source)
    except ConfigError as exc:
        text = str(exc)
        if text.isprintable():
            raise
        # a key or name from the file holding a line break or control character: escaped, so
        # the error stays one line
        clean = ConfigError("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))
        clean.file, clean.key, clean.field = exc.file, exc.key, exc.field
        raise clean from None


def _parse_config(doc: Any, source: Path | str) -> Config:
    if doc is None:
        raise ConfigError("the config is empty; it needs at least study, layers and criteria",
                          file=source)
    if not isinstance(doc, dict):
        raise ConfigError(f"the config must be a YAML mapping (key: value lines), not a "
                          f"{_yaml_kind(doc)}", file=source)
    try:
        cfg = Config.model_validate(doc)
    except ValidationError as exc:
        raise _located(exc, doc, source) from None
    check_readers(cfg, doc, source)
    check_metrics(cfg, doc, source)
    check_pathways(cfg, doc, source)
    if cfg.weights.method == "ahp":
        apply_ahp(cfg, source, doc)
    cfg.key_lines = _key_lines(doc)
    return cfg


def _located(exc: ValidationError, doc: Any, source: Path | str) -> ConfigError:
    """The one error a planner sees for a failed validation: its key, YAML line and message."""
    errors = exc.errors()
    # an unknown (misspelt) key also makes its right spelling "missing": name the cause
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    raw = tuple(err["loc"])
    loc, _ = _walk(raw)
    msg = pydantic_message(err)
    ctx_exc = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_exc, KeyedError):
        key = ctx_exc.key
        loc = ctx_exc.loc or tuple(int(p[1:-1]) if p.startswith("[") else p
                                   for p in key.replace("[", ".[").split(".") if p)
    elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # the value function's kind: missing, or none of the kinds
        loc = (*loc, "kind")
        key = _key_of(loc)
        _, kinds = _walk(raw, tags=True)
        *first, last = (repr(k) for k in kinds)
        msg = "Field required" if err["type"] == "union_tag_not_found" else \
            f"Input should be {', '.join(first)} or {last}"
    else:
        key = _key_of(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        known = _walk(raw[:-1])[1]
        close = difflib.get_close_matches(str(raw[-1]), known, n=1, cutoff=0.6) if raw else []
        msg = (f"unknown key (did you mean '{close[0]}'?)" if close else
               f"unknown key (known here: {', '.join(known)})" if known else
               "unknown key (check the spelling)")
    line = line_of(doc, loc)
    return ConfigError(msg, file=f"{source}, line {line}" if line else f"{source}", key=key)


def _key_of(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _key_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """The YAML line of every key, by dotted path ('layers.dem.options.band', 'constraints[0]')."""
    out: dict[str, int] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(node, LineDict) and k in node.lines:
                out[key] = node.lines[k]
            out.update(_key_lines(v, key))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(_key_lines(v, f"{prefix}[{i}]"))
    return out


def _yaml_kind(doc: Any) -> str:
    return {list: "list", str: "single value", int: "number", float: "number",
            bool: "true/false"}.get(type(doc), type(doc).__name__)


def _walk(loc: tuple, tags: bool = False) -> tuple[tuple, list[str]]:
    """Follow a pydantic error location through the config's types: the location without the
    tags pydantic puts in it for a discriminated union (a value function's kind), and the keys
    allowed where it ends, for 'did you mean' ([] where unknown). With `tags`, the kinds the
    union there may take instead of its keys."""
    tp: Any = Config
    clean: list[Any] = []
    for part in loc:
        tp, members = _unwrap(tp)
        if part in members:
            tp = members[part]
            continue
        clean.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            tp = field.annotation if field is not None else None
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        else:
            tp = None
    tp, members = _unwrap(tp)
    if tags:
        return tuple(clean), list(members)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tuple(clean), [n for n, f in tp.model_fields.items() if not f.exclude]
    return tuple(clean), []


def _unwrap(tp: Any) -> tuple[Any, dict[str, Any]]:
    """A type without Optional / Annotated; for a union of tagged models (each with a Literal
    `kind`), None and its members by tag."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tagged = {_tag(a): a for a in args}
            if len(args) > 1 and None not in tagged:
                return None, {t: a for t, a in tagged.items() if t is not None}
            tp = args[0] if args else None
        else:
            return tp, {}


def _tag(tp: Any) -> str | None:
    """The Literal `kind` a model class is tagged with, or None."""
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)) or "kind" not in tp.model_fields:
        return None
    values = typing.get_args(tp.model_fields["kind"].annotation)
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None
