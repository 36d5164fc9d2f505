"""compare.csv and compare.html written into the comparison's folder."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from ..formatting import write_atomic
from ..safe_text import write_csv
from .model import Comparison
from .page import write_compare_map


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "run"


def default_out_dir(comp: Comparison, runs_dir: Path = Path("runs")) -> Path:
    return Path(runs_dir) / f"compare-{_safe_name(comp.study_a)}-vs-{_safe_name(comp.study_b)}"


def write_compare_csv(comp: Comparison, path: Path) -> Path:
    """compare.csv, written atomically (temp file in the same folder, renamed into place); names
    from the data cannot become spreadsheet formulas (`safe_text.write_csv`)."""

    path = Path(path)
    text = write_csv(comp.table(), index=False, float_format="%.6g", lineterminator="\n")
    write_atomic(path, text.encode("utf-8"))
    return path


def write_outputs(comp: Comparison, out_dir: Path | None = None) -> tuple[Path, Path]:
    """compare.csv and compare.html into ``out_dir`` (default runs/compare-<A>-vs-<B>)."""
    out = Path(out_dir) if out_dir is not None else default_out_dir(comp)
    if out.exists() and not out.is_dir():
        raise DataError("--out is a file, not a folder", file=out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the output folder ({exc.strerror})", file=out) from None
    return write_compare_csv(comp, out / "compare.csv"), write_compare_map(comp, out / "compare.html")
