"""The shared HTML/format module, and the web map package's structure (issue 17)."""

from __future__ import annotations

import ast
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sitescore.formatting import (
    cell_text,
    esc,
    fmt_number,
    fmt_pct,
    is_missing,
    is_true,
    js_json,
    script_safe,
    to_float,
    write_atomic,
)

SRC = Path(__file__).resolve().parent.parent / "src" / "sitescore"
#: The map's parts, each allowed to import only those listed before it.
WEBMAP_ORDER = [{"styles", "assets", "elements"}, {"popups"}, {"layers", "grid"},
                {"controls", "network", "routes"}, {"page"}, {"__init__"}]


# --------------------------------------------------------------------------- values

def test_one_percent_style_no_space_before_the_sign():
    assert fmt_pct(0.25) == "25%"
    assert fmt_pct(0.125) == "12.5%"
    assert fmt_pct(1 / 3) == "33.3%"
    assert fmt_pct(0.2500001) == "25%"  # whole to 0.05 points: no decimal
    assert fmt_pct(0.25, places=1) == "25.0%"
    assert fmt_pct(0.125, places=0) == "12%"
    assert fmt_pct(None) == "n/a" and fmt_pct(float("nan"), missing="-") == "-"
    assert fmt_pct("text") == "n/a"


def test_report_and_compare_format_weights_as_the_map_does():
    from sitescore import compare, report

    for w in (0.25, 0.125, 0.08, 1.0):
        assert report._pct(w) == fmt_pct(w)
        assert " %" not in report._pct(w)
    assert compare.share_text(0.25) == "25.0%" and compare.share_text(None) == "-"


@pytest.mark.parametrize("value,unit,expected", [
    (1234.5, "", "1,234"), (12, "km", "12 km"), (150.4, "", "150"), (12.34, "", "12.3"),
    (1.234, "MW", "1.23 MW"), (0, "", "0"), (0.01234, "", "0.0123"), (-2500, "", "-2,500"),
    (None, "kV", "n/a"), (float("inf"), "", "n/a"), ("abc", "", "n/a"),
    (np.float32(3.5), "", "3.50"),
])
def test_numbers_read_at_their_size(value, unit, expected):
    assert fmt_number(value, unit) == expected


def test_missing_values_and_cells():
    for missing in (None, float("nan"), np.nan, pd.NA, pd.NaT):
        assert is_missing(missing) and not is_true(missing) and to_float(missing) is None
    for present in (0, "", "x", [1, 2], False):
        assert not is_missing(present)
    assert to_float("2.5") == 2.5 and to_float(math.inf) is None and to_float(object()) is None
    assert is_true(np.bool_(True)) and not is_true(0)
    row = {"a": "x", "b": np.nan, "c": 3}
    assert cell_text(row, "a") == "x" and cell_text(row, "b") == "" and cell_text(row, "c") == "3"
    assert cell_text(row, "absent") == ""


# --------------------------------------------------------------------------- escaping

def test_escaping_for_html_and_folium_js_literals():
    assert esc("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert esc('a "b" \'c\' & d') == "a &quot;b&quot; &#x27;c&#x27; &amp; d"
    out = esc("Gila `${alert(2)}` C:\\units")
    assert not any(ch in out for ch in "`${}\\")
    assert esc(None) == "" and esc(float("nan")) == "" and esc(0) == "0"


def test_inline_json_and_scripts_cannot_close_their_element():
    text = js_json({"b": "</script><!-- & \u2028", "a": 1})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert text.startswith('{"a":1,')  # sorted and compact: same data, same bytes
    with pytest.raises(ValueError):
        js_json({"x": float("nan")})
    safe = script_safe("var s = '</script><!--';")
    assert "</script" not in safe and "<!--" not in safe


# --------------------------------------------------------------------------- files

def test_atomic_write_replaces_whole_or_keeps_the_old_file(tmp_path):
    path = tmp_path / "deep" / "index.html"
    write_atomic(path, b"first")
    assert path.read_bytes() == b"first"
    mode = path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # as a plain open() would create it, not mkstemp's 0600
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in path.parent.iterdir()) == ["index.html"]  # no temp left
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"


# --------------------------------------------------------------------------- structure

def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_formatting_imports_nothing_from_sitescore():
    for node in _imports(SRC / "formatting.py"):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        assert isinstance(node, ast.Import) or node.level == 0, "relative import"
        assert not any(str(n).startswith("sitescore") for n in names), names


def test_webmap_parts_import_each_other_in_one_direction():
    level = {name: i for i, names in enumerate(WEBMAP_ORDER) for name in names}
    parts = {p.stem for p in (SRC / "webmap").glob("*.py")}
    assert parts == set(level), "a part of the map is missing from WEBMAP_ORDER"
    for part in parts:
        for node in _imports(SRC / "webmap" / f"{part}.py"):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
            elif (node.module or "").startswith("sitescore.webmap"):
                targets = [node.module.split(".")[2] if node.module.count(".") > 1 else "__init__"]
            else:
                continue
            for target in targets:
                assert level[target] < level[part], f"{part} imports {target}"


def test_no_module_imports_private_names_of_the_map_or_formatting():
    for path in SRC.rglob("*.py"):
        for node in _imports(path):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            first = module.removeprefix("sitescore.").split(".")[0] \
                if node.level or module.startswith("sitescore.") else ""
            sibling = path.parent.name == "webmap" and node.level == 1
            if first not in {"webmap", "formatting"} and not sibling:
                continue
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{path.relative_to(SRC)} imports {private} from {module}"


def test_no_long_functions_in_the_map_or_formatting():
    for path in [*(SRC / "webmap").glob("*.py"), SRC / "formatting.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{path.name}:{node.name} is {length} lines"
