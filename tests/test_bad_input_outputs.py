"""Output folders under hostile conditions, through the real command line: two runs sharing a
folder, a run killed between the renames that put its folders in place, Ctrl-C, read-only
folders, a full disk, folders that cannot be created, names too long for the file system, and
commands that used to print a traceback.

Each ends in one stderr line `sitescore: error: <where>: <what>` and exit 2 (or, for Ctrl-C, one
line and exit 130), with no partial outputs and the previous outputs as they were. Where a
signal or a kill matters, the run is a real process: a small harness (HARNESS below) starts the
installed command line with one pause, after the Nth rename of a study's final folders or after
its tables are written, and waits there for the test to kill, interrupt or release it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from badinput_support import land_study
from helpers import one_line_error
from sitescore import folders
from sitescore.cli import main
from sitescore.errors import SitescoreError
from test_bad_input import _no_outputs, run_cli

HARNESS = r'''
import os, signal, sys, time
from pathlib import Path

# Ctrl-C as in a terminal: a shell may start background jobs with SIGINT ignored, which Python
# then leaves ignored
signal.signal(signal.SIGINT, signal.default_int_handler)

flag, go = Path(os.environ["HARNESS_FLAG"]), Path(os.environ["HARNESS_GO"])


def pause():
    flag.write_text(str(os.getpid()))
    for _ in range(1200):  # at most a minute
        if go.exists():
            return
        time.sleep(0.05)


if "PAUSE_RENAME" in os.environ:  # after the Nth rename from or onto a final folder
    finals = {os.path.abspath(p) for p in os.environ["HARNESS_FINALS"].split(os.pathsep)}
    nth, seen, real = int(os.environ["PAUSE_RENAME"]), [0], os.replace

    def replace(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        if os.path.abspath(src) in finals or os.path.abspath(dst) in finals:
            seen[0] += 1
            if seen[0] == nth:
                pause()

    os.replace = replace
if "PAUSE_WRITE" in os.environ:  # once the tables are written into the temporary folder
    import sitescore.publish as publish
    real_write = publish.write_tables

    def write_tables(*args, **kwargs):
        written = real_write(*args, **kwargs)
        pause()
        return written

    publish.write_tables = write_tables

from sitescore.cli import main
main(sys.argv[1:], prog_name="sitescore")
'''


def _study(folder: Path, title: str = "First pass") -> Path:
    """The small grid study (one criterion, a map and a report), titled so runs can be told apart."""
    cfg = land_study(folder, dem=False)
    _retitle(cfg, title)
    return cfg


def _retitle(cfg: Path, title: str) -> None:
    text = cfg.read_text()
    if "\ntitle: " in text:
        text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("title: ")) + "\n"
    cfg.write_text(text.replace("study: land\n", f"study: land\ntitle: {title}\n"))


def _snapshot(*folders: Path) -> dict[Path, bytes]:
    """Every file's bytes, but the lock files (each run writes its pid into them)."""
    return {p: p.read_bytes() for f in folders for p in sorted(f.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


def _only_finals(folder: Path) -> None:
    """runs/ and maps/ hold the study's folder and its lock file, nothing else (no temporary,
    old or journal file)."""
    for kind in ("runs", "maps"):
        names = sorted(p.name for p in (folder / kind).iterdir())
        assert names == [".land.lock", "land"], f"{kind}/ holds {names}"


def _pair(folder: Path) -> tuple[str, str, str]:
    """The title each of runs/land (manifest), maps/land/index.html and report.html was made for."""
    def which(text: str) -> str:
        found = [t for t in ("First pass", "Second pass") if t in text]
        assert len(found) == 1, found
        return found[0]
    manifest = json.loads((folder / "runs/land/manifest.json").read_text(encoding="utf-8"))
    return (manifest["title"], which((folder / "maps/land/index.html").read_text(encoding="utf-8")),
            which((folder / "maps/land/report.html").read_text(encoding="utf-8")))


class Child:
    """The command line in a real process, through HARNESS, paused where `pause` says."""

    def __init__(self, folder: Path, args: list[str], **pause: str) -> None:
        self.flag, self.go = folder / "harness.flag", folder / "harness.go"
        for f in (self.flag, self.go):
            f.unlink(missing_ok=True)
        script = folder / "harness.py"
        script.write_text(HARNESS)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SITESCORE_", "PAUSE_"))}
        env.update(HARNESS_FLAG=str(self.flag), HARNESS_GO=str(self.go), **pause)
        self.proc = subprocess.Popen([sys.executable, str(script), *args], cwd=folder, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_pause(self) -> None:
        deadline = time.monotonic() + 120
        while not self.flag.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"ended before its pause: {self.proc.communicate()}")
            assert time.monotonic() < deadline, "never reached its pause"
            time.sleep(0.05)

    def release(self) -> None:
        self.go.write_text("go")

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, out, err


def _run_args(folder: Path, cfg: Path, runs: str = "runs", maps: str = "maps") -> list[str]:
    return ["run", str(cfg), "--runs-dir", str(folder / runs), "--maps-dir", str(folder / maps),
            "--cache-dir", str(folder / "cache")]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("SITESCORE_DATA_DIR", "SITESCORE_CACHE_DIR", "SITESCORE_CATALOG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


# --- item 1: one lock per output folder; nothing a live run owns is removed ------------------

def test_a_run_sharing_only_the_maps_folder_is_refused_and_the_first_run_completes(here):
    """The old lock sat beside the runs folder only: a second run with another --runs-dir (which
    the lock's message suggested) passed it and removed the first run's temporary map folder."""
    cfg = _study(here)
    child = Child(here, _run_args(here, cfg, runs="runs"), PAUSE_WRITE="1")
    child.wait_for_pause()  # the first run's temporary runs and maps folders exist
    temps = sorted(p.name for p in (here / "maps").iterdir() if ".tmp-" in p.name)
    assert len(temps) == 1
    second = CliRunner().invoke(main, _run_args(here, cfg, runs="other-runs"))
    line = one_line_error(second, str(here / "maps" / "land"), "another run of this study is in progress",
                     f"pid {child.proc.pid}", "--maps-dir")
    same_runs = CliRunner().invoke(main, _run_args(here, cfg, maps="other-maps"))
    one_line_error(same_runs, str(here / "runs" / "land"), f"pid {child.proc.pid}", "--runs-dir")
    assert sorted(p.name for p in (here / "maps").iterdir() if ".tmp-" in p.name) == temps
    # sharing no folder, a run goes ahead (tables only: the maps folder is not touched)
    alone = CliRunner().invoke(main, [*_run_args(here, cfg, runs="other-runs"), "--no-map"])
    assert alone.exit_code == 0, alone.output
    assert sorted(p.name for p in (here / "maps").iterdir() if ".tmp-" in p.name) == temps
    child.release()
    code, _, err = child.finish()
    assert code == 0 and err == "", err
    assert (here / "maps/land/index.html").exists() and (here / "maps/land/report.html").exists()
    assert _pair(here) == ("First pass", "First pass", "First pass")
    _only_finals(here)
    print(line)


def test_leftovers_of_a_live_process_are_never_removed(tmp_path):
    """Even under the folder's lock: a temporary folder named for a live process stays, one of a
    dead process (or of an older version, without a pid) goes."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        runs = tmp_path / "runs"
        (runs / "land").mkdir(parents=True)
        keep = runs / f".land.tmp-{live.pid}-abc123"
        gone = [runs / f".land.tmp-{dead.pid}-def456", runs / ".land.tmp-k9x_2q",
                runs / f".land.old-{dead.pid}"]
        for p in [keep, *gone]:
            p.mkdir()
        (runs / f".land.swap.json.tmp-{dead.pid}").write_text("{")
        other_study = runs / f".landmark.tmp-{dead.pid}-abc"  # another study's: not ours to clear
        other_study.mkdir()
        with folders.study_lock(runs / "land"):
            pass
        assert sorted(p.name for p in runs.iterdir()) == sorted(
            [".land.lock", "land", keep.name, other_study.name])
    finally:
        live.kill()
        live.wait()


def test_the_runs_and_maps_folders_must_differ(here):
    cfg = _study(here)
    result = CliRunner().invoke(main, ["run", str(cfg), "--runs-dir", "out", "--maps-dir", "out"])
    one_line_error(result, "out/land", "--runs-dir", "--maps-dir", "different folders")
    assert not (here / "out").exists() or list((here / "out").iterdir()) == []


# --- item 3: a kill between the renames of the swap is recovered, both folders new ----------

#: After the Nth rename of the swap, the folders are: 1 runs/land moved aside (missing),
#: 2 runs/land new and maps/land old, 3 maps/land moved aside (missing), 4 both new (journal and
#: old folders still there).
RIGHT_AFTER = {1: (False, True), 2: (True, True), 3: (True, False), 4: (True, True)}


def _kill_in_the_swap(folder: Path, nth: int) -> Path:
    cfg = _study(folder)
    first, _ = run_cli(folder, cfg)
    assert first.exit_code == 0, first.output
    _retitle(cfg, "Second pass")
    child = Child(folder, _run_args(folder, cfg), PAUSE_RENAME=str(nth),
                  HARNESS_FINALS=os.pathsep.join([str(folder / "runs/land"), str(folder / "maps/land")]))
    child.wait_for_pause()
    child.proc.send_signal(signal.SIGKILL)
    child.proc.wait(timeout=30)
    runs_there, maps_there = RIGHT_AFTER[nth]
    assert (folder / "runs/land").exists() == runs_there
    assert (folder / "maps/land").exists() == maps_there
    assert (folder / "runs/.land.swap.json").exists() and (folder / "maps/.land.swap.json").exists()
    return cfg


@pytest.mark.parametrize("nth", [1, 2, 3, 4])
@pytest.mark.parametrize("route", ["read the run (--verify)", "next lock of the maps folder",
                                   "explain"])
def test_a_swap_killed_between_its_renames_is_finished_by_the_next_reader_or_lock(here, nth, route):
    cfg = _kill_in_the_swap(here, nth)
    if route == "next lock of the maps folder":
        with folders.study_lock(here / "maps" / "land"):
            pass
    elif route == "explain":
        result = CliRunner().invoke(main, ["explain", str(cfg), "--runs-dir", str(here / "runs")])
        assert result.exit_code == 0, result.output
        assert "Site 1 of" in result.stdout
    else:
        result = CliRunner().invoke(main, ["run", str(cfg), "--verify", "--runs-dir", str(here / "runs")])
        assert result.exit_code == 0, result.output
        assert "input files match" in result.stdout
    assert _pair(here) == ("Second pass", "Second pass", "Second pass")
    _only_finals(here)


def test_the_next_run_after_a_killed_swap_starts_from_the_finished_pair(here):
    cfg = _kill_in_the_swap(here, 1)
    _retitle(cfg, "First pass")
    result, _ = run_cli(here, cfg)
    assert result.exit_code == 0, result.output
    assert _pair(here) == ("First pass", "First pass", "First pass")
    _only_finals(here)


def test_a_rename_that_fails_puts_the_previous_outputs_back(here, monkeypatch):
    """A rename of the swap itself fails (a folder another program holds, say): the folders
    already swapped go back, the previous pair stays, one line names the folder."""
    cfg = _study(here)
    assert run_cli(here, cfg)[0].exit_code == 0
    before = _snapshot(here / "runs", here / "maps")
    _retitle(cfg, "Second pass")
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.abspath(dst) == str(here / "maps" / "land") and ".tmp-" in str(src):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(src), None, str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    result, _ = run_cli(here, cfg)
    one_line_error(result, str(here / "maps" / "land"), "previous ones were kept",
              os.strerror(errno.EBUSY))
    monkeypatch.setattr(os, "replace", real)
    assert _snapshot(here / "runs", here / "maps") == before
    _only_finals(here)


# --- item 22: Ctrl-C says what was kept, exit 130 --------------------------------------------

def test_ctrl_c_while_writing_keeps_the_previous_outputs(here):
    cfg = _study(here)
    assert run_cli(here, cfg)[0].exit_code == 0
    before = _snapshot(here / "runs", here / "maps")
    _retitle(cfg, "Second pass")
    child = Child(here, _run_args(here, cfg), PAUSE_WRITE="1")
    child.wait_for_pause()
    child.proc.send_signal(signal.SIGINT)
    code, out, err = child.finish()
    assert code == 130, err
    assert err.splitlines() == ["sitescore: interrupted; the previous outputs of land were kept"], err
    assert "Aborted" not in out + err
    assert _snapshot(here / "runs", here / "maps") == before
    _only_finals(here)


def test_ctrl_c_during_the_swap_waits_for_it_and_says_the_outputs_are_new(here):
    cfg = _study(here)
    assert run_cli(here, cfg)[0].exit_code == 0
    _retitle(cfg, "Second pass")
    child = Child(here, _run_args(here, cfg), PAUSE_RENAME="2",
                  HARNESS_FINALS=os.pathsep.join([str(here / "runs/land"), str(here / "maps/land")]))
    child.wait_for_pause()  # runs/land is new, maps/land still old
    child.proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    child.release()
    code, _, err = child.finish()
    assert code == 130, err
    assert err.splitlines() == ["sitescore: interrupted; the new outputs of land are in place"], err
    assert _pair(here) == ("Second pass", "Second pass", "Second pass")
    _only_finals(here)


def test_ctrl_c_before_any_study_is_known(here, monkeypatch):
    cfg = _study(here)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sitescore.config.load_config", interrupted)
    result = CliRunner().invoke(main, ["run", str(cfg)])
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["sitescore: interrupted; the previous outputs were kept"]


# --- item 17: OS failures are one line naming the folder or file and the OS's reason --------

@pytest.mark.parametrize("kind", ["runs", "maps"])
def test_read_only_output_folder(here, monkeypatch, kind):
    """Simulated (tests run as root, where chmod does not stop writes): creating the temporary
    folder fails as it does in a folder the user may not write."""
    cfg = _study(here)
    assert run_cli(here, cfg)[0].exit_code == 0
    before = _snapshot(here / "runs", here / "maps")
    real = folders.tempfile.mkdtemp

    def mkdtemp(*args, dir=None, prefix="", **kwargs):
        if Path(dir) == here / kind:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES),
                                  os.path.join(dir, prefix + "x1y2z3"))
        return real(*args, dir=dir, prefix=prefix, **kwargs)

    monkeypatch.setattr(folders.tempfile, "mkdtemp", mkdtemp)
    result, _ = run_cli(here, cfg)
    one_line_error(result, f"{here / kind}: cannot write the outputs", "Permission denied")
    assert _snapshot(here / "runs", here / "maps") == before
    _only_finals(here)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_by_its_mode(here):
    cfg = _study(here)
    assert run_cli(here, cfg)[0].exit_code == 0
    before = _snapshot(here / "runs", here / "maps")
    os.chmod(here / "maps", 0o555)
    try:
        result, _ = run_cli(here, cfg)
    finally:
        os.chmod(here / "maps", 0o755)
    one_line_error(result, str(here / "maps"), "Permission denied")
    assert _snapshot(here / "runs", here / "maps") == before


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["tables", "map", "journal"])
def test_full_disk_during_a_run(here, monkeypatch, where):
    """ENOSPC as the OS gives it (a write fails, no file named) while the tables are written; as
    a writer that names its file (the map, inside the temporary folder: the message names it
    where it was going); and at the very end, while the swap's journal is written."""
    cfg = _study(here)
    assert run_cli(here, cfg)[0].exit_code == 0
    before = _snapshot(here / "runs", here / "maps")
    _retitle(cfg, "Second pass")
    if where == "tables":
        monkeypatch.setattr("geopandas.GeoDataFrame.to_parquet", _no_space)
        needles = (f"{here / 'runs' / 'land'}: cannot write the outputs",)
    elif where == "map":
        def write_map(path, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        monkeypatch.setattr("sitescore.webmap.write_map", write_map)
        needles = (f"{here / 'maps' / 'land' / 'index.html'}: cannot write the outputs",)
    else:
        real_journal = folders._write_journal

        def write_journal(path, doc):  # the runs folder's copy is written, the maps one is not
            if path.parent == here / "maps":
                _no_space()
            return real_journal(path, doc)

        monkeypatch.setattr(folders, "_write_journal", write_journal)
        needles = (f"{here / 'maps'}: cannot write the outputs",)
    result, _ = run_cli(here, cfg)
    line = one_line_error(result, *needles, "No space left on device")
    assert ".tmp-" not in line
    assert _snapshot(here / "runs", here / "maps") == before
    _only_finals(here)


def test_full_disk_in_data_prepare(here, monkeypatch):
    cfg = _study(here)
    cache = here / "cache"
    args = ["data", "prepare", str(cfg), "--cache-dir", str(cache)]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = _snapshot(cache)
    assert before
    os.utime(here / "lines.geojson", ns=(10**18, 10**18))  # a changed source: prepared again
    monkeypatch.setattr("geopandas.GeoDataFrame.to_parquet", _no_space)
    result = CliRunner().invoke(main, args)
    one_line_error(result, f"{cache}: cannot write the prepared layer 'transmission_lines'",
              "No space left on device")
    assert _snapshot(cache) == before


@pytest.mark.parametrize("option", ["--runs-dir", "--maps-dir"])
def test_output_folder_that_cannot_be_created(here, option):
    cfg = _study(here)
    (here / "afile").write_text("a file, not a folder")
    args = ["run", str(cfg), "--runs-dir", str(here / "runs"), "--maps-dir", str(here / "maps"),
            option, str(here / "afile" / "out")]
    one_line_error(CliRunner().invoke(main, args), str(here / "afile" / "out"), "cannot write the outputs",
              "Not a directory")
    assert (here / "afile").read_text() == "a file, not a folder"
    _no_outputs(here)


def test_output_folder_name_too_long(here):
    cfg = _study(here)
    long = here / ("r" * 300)
    one_line_error(CliRunner().invoke(main, ["run", str(cfg), "--runs-dir", str(long)]),
              str(long), "File name too long")


@pytest.mark.parametrize("what", ["study", "criterion"])
def test_names_too_long_for_the_file_system(here, what):
    """100 CJK characters: a name of at most 100 characters, but 300 bytes, more than a file
    name may have. Refused by the config's name rule or by the OS, it is one line either way."""
    name = "電" * 100
    cfg = land_study(here, dem=False, **({"study: land": f"study: {name}"} if what == "study"
                                         else {"  power_line:\n": f"  {name}:\n"}))
    result, _ = run_cli(here, cfg)
    line = one_line_error(result)
    assert "File name too long" in line or "config key" in line, line
    _no_outputs(here)


def test_a_file_name_too_long_inside_the_outputs_names_its_final_place(tmp_path):
    final = tmp_path / "maps" / "land"
    with pytest.raises(SitescoreError) as err, folders.study_lock(final), \
            folders.atomic_dirs(final) as (temp,):
        (temp / f"report_vf_{'電' * 100}.png").write_bytes(b"png")
    assert str(err.value).startswith(f"{final}/report_vf_電")
    assert "File name too long" in str(err.value)
    assert sorted(p.name for p in final.parent.iterdir()) == [".land.lock"]


# --- item 19: one handler for every command -------------------------------------------------

def test_data_list_on_a_missing_catalog(here, monkeypatch):
    monkeypatch.setenv("SITESCORE_CATALOG", str(here / "no-such-catalog.yaml"))
    result = CliRunner().invoke(main, ["data", "list", "--data-dir", str(here)])
    one_line_error(result, "no-such-catalog.yaml")
    assert result.stdout == ""  # not even the table's header


def test_data_list_on_a_damaged_manifest(here):
    (here / "MANIFEST.json").write_text('{"files": {"a": ')
    one_line_error(CliRunner().invoke(main, ["data", "list", "--data-dir", str(here)]),
              str(here / "MANIFEST.json"))


def test_an_os_error_in_any_command_is_one_line(here):
    (here / "MANIFEST.json").mkdir()  # a folder where the data folder's manifest should be
    for args in (["data", "list"], ["data", "status"]):
        one_line_error(CliRunner().invoke(main, [*args, "--data-dir", str(here)]),
                  str(here / "MANIFEST.json"))


# --- item 21: no glyph warnings on stderr -----------------------------------------------------

def test_non_latin_criterion_names_draw_without_warnings(here, capfd):
    cfg = land_study(here, dem=False, **{"  power_line:\n": "  電力:\n    label: 電力 Ελλάδα Россия\n"})
    result, caught = run_cli(here, cfg)
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and capfd.readouterr().err == ""
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
    assert (here / "maps/land/report_vf_電力.png").exists()


def test_sweep_charts_draw_greek_and_cjk_without_warnings_and_leave_no_global_filter(tmp_path):
    import matplotlib
    import pandas as pd

    from sitescore.sensitivity import sweep_charts

    sweeps = pd.DataFrame({"criterion": ["電力", "電力", "grid", "grid"], "factor": [0.5, 1.5] * 2,
                           "weight": [0.1, 0.2] * 2, "site_id": [1, 1, 1, 1],
                           "base_rank": [1, 1, 1, 1], "rank": [1, 2, 1, 1]})
    labels = {"電力": "電力 supply", "grid": "Ελλάδα grid"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = sweep_charts(sweeps, labels, tmp_path)
    assert [p.name for p in paths] == ["sweep_電力.png", "sweep_grid.png"]
    assert [str(w.message) for w in caught] == []
    # the silencing is local: no filter and no font setting outlives the drawing
    filters, family = list(warnings.filters), list(matplotlib.rcParams["font.family"])
    sweep_charts(sweeps, labels, tmp_path / "again")
    assert list(warnings.filters) == filters
    assert list(matplotlib.rcParams["font.family"]) == family
