"""What a fetch did: one FetchResult per planned file, the FetchReport summing them per
dataset, and FetchError, the one-line reason a source gave no verified file."""

from __future__ import annotations

from dataclasses import dataclass, field


class FetchError(Exception):
    """One source could not give a verified file (one line, no URL: the caller adds it)."""

    def __init__(self, message: str, *, not_found: bool = False):
        super().__init__(message)
        self.not_found = not_found


def _human(n: int | None) -> str:
    """A byte count in decimal units, as the report and --dry-run print it."""
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


@dataclass
class FetchResult:
    dataset: str
    status: str          # downloaded, present, failed, absent (tile not published), planned
    target: str          # the file recorded (or planned), relative to the data root
    url: str             # the source used, or the first one tried
    bytes: int | None = None
    reason: str = ""     # for failed / absent: one line


@dataclass
class FetchReport:
    results: list[FetchResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def _with(self, status: str) -> list[FetchResult]:
        return [r for r in self.results if r.status == status]

    @property
    def downloaded(self) -> list[FetchResult]:
        return self._with("downloaded")

    @property
    def present(self) -> list[FetchResult]:
        return self._with("present")

    @property
    def failed(self) -> list[FetchResult]:
        return self._with("failed")

    @property
    def planned(self) -> list[FetchResult]:
        return self._with("planned")

    @property
    def ok(self) -> bool:
        return not self.failed

    def by_dataset(self) -> dict[str, list[FetchResult]]:
        out: dict[str, list[FetchResult]] = {}
        for r in self.results:
            out.setdefault(r.dataset, []).append(r)
        return out

    def lines(self) -> list[str]:
        """One line per dataset: what was downloaded, already present, not published, and the
        first failure (source URL, reason, and the `data import` way round it)."""
        out = []
        words = {"downloaded": "downloaded", "present": "already present", "planned": "to download",
                 "absent": "not published"}
        for ds_id, rs in self.by_dataset().items():
            parts = []
            for status, word in words.items():
                n = [r for r in rs if r.status == status]
                if n:
                    size = sum(r.bytes or 0 for r in n)
                    parts.append(f"{word} {len(n)} file{'s' if len(n) != 1 else ''}"
                                 + (f" ({_human(size)})" if size else ""))
            failed = [r for r in rs if r.status == "failed"]
            if failed:
                more = f" (and {len(failed) - 1} more file{'s' if len(failed) > 2 else ''})" \
                    if len(failed) > 1 else ""
                parts.append(f"FAILED {failed[0].reason}{more}; download it by hand and run "
                             f"`sitescore data import {ds_id} <file>`")
            out.append(f"{ds_id}: " + "; ".join(parts))
        for ds_id, why in self.skipped:
            out.append(f"{ds_id}: left out: {why}")
        return out

    def summary(self) -> str:
        return "\n".join(self.lines())
