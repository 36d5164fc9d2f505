"""Output folders: one lock per folder, and the atomic, journalled swap that puts a run's new
folders in place together, never half-written.

A run writes into temporary sibling folders (`atomic_dirs`) that are renamed into place at the
end, so a failed or interrupted run leaves the previous outputs as they were; a swap a killed
run left half done is finished by the next holder of the folders' locks (`study_lock`,
`recover_outputs`). What goes into the folders is not this module's business.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import SitescoreError

#: Final folders `atomic_dirs` has put in place in this process, oldest first: after a Ctrl-C the
#: command line says which studies' outputs are already the new ones.
INSTALLED: list[Path] = []

#: What may lie beside a final folder <name>: a run's temporary folder (.<name>.tmp-<pid>-<random>),
#: the previous outputs moved aside during a swap (.<name>.old-<pid>) and a journal being written
#: (.<name>.swap.json.tmp-<pid>). Older versions named temporary folders without the pid.
_LEFTOVER = (r"\.{name}\.(?:tmp-(?:(?P<tmp>\d+)-)?[A-Za-z0-9_]+|old-(?P<old>\d+)"
             r"|swap\.json\.tmp-(?P<journal>\d+))")


@dataclass(frozen=True)
class _Swap:
    """One folder of a swap: the new outputs (temp) replace the final folder, whose previous
    contents wait at `old` until every folder of the swap is in place."""

    final: Path
    temp: Path
    old: Path


def _lock_file(final: Path) -> Path:
    return final.parent / f".{final.name}.lock"


def _journal(final: Path) -> Path:
    return final.parent / f".{final.name}.swap.json"


def _lock_key(final: Path) -> str:
    return os.path.abspath(_lock_file(final))


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def cannot_write(exc: OSError, where: Path | str, what: str = "cannot write the outputs", *,
                 exact_path: bool = True) -> SitescoreError:
    """An OS failure (read-only folder, full disk, name too long) as the one-line error: the
    folder or file, and the OS's reason (and, with `exact_path`, the path the OS names, where
    that is another one)."""
    detail = ""
    if exact_path and exc.filename is not None and \
            os.path.abspath(os.fsdecode(exc.filename)) != os.path.abspath(where):
        detail = f" ({os.fsdecode(exc.filename)})"
    return SitescoreError(f"{what}: {_reason(exc)}{detail}", file=where)


def _try_lock(final: Path) -> IO[str] | str:
    """The final folder's lock, held (the open lock file), or who holds it."""
    import fcntl

    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fh = open(_lock_file(final), "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
    except OSError as exc:
        raise cannot_write(exc, final.parent) from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        owner = fh.read().strip() or "another process"
        fh.close()
        return owner
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
    except OSError as exc:
        fh.close()
        raise cannot_write(exc, final.parent) from None
    return fh


@contextmanager
def study_lock(*finals: Path | None,
               options: Sequence[str] = ("--runs-dir", "--maps-dir")) -> Iterator[None]:
    """Hold the lock of each of a study's output folders (runs, maps) for a whole run; refuse a
    second run that shares any of them while the first holds it.

    Each folder has its own lock file beside it (`.<study>.lock`), so a run given another
    --runs-dir but the same maps folder still meets the first at the maps lock. The locks are
    taken in one fixed order (by path) so two runs never wait on each other crosswise. Under
    them, a swap that a killed run left half done is finished, and leftovers of dead runs
    beside these folders are removed: only a holder of a folder's lock writes beside it, and
    nothing a live process owns is ever removed. `options` name the folders in messages."""
    named = [(Path(f), options[i] if i < len(options) else "output folder")
             for i, f in enumerate(finals) if f is not None]
    seen: dict[str, str] = {}
    for final, option in list(named):
        other = seen.setdefault(os.path.abspath(final), option)
        if other != option:
            raise SitescoreError(f"is the folder of both {other} and {option}; give them different "
                                 "folders", file=final)
    named = list({os.path.abspath(f): (f, o) for f, o in named}.values())
    held: dict[str, IO[str]] = {}
    try:
        for final, option in sorted(named, key=lambda fo: _lock_key(fo[0])):
            fh = _try_lock(final)
            if isinstance(fh, str):
                raise SitescoreError(f"another run of this study is in progress ({fh}); wait for it "
                                     f"to finish, or give this run another {option}", file=final)
            held[_lock_key(final)] = fh
        for final, _ in named:
            _recover(final, held)
            _remove_leftovers(final)
        yield
    finally:
        for fh in held.values():
            fh.close()


def recover_outputs(*finals: Path) -> None:
    """Finish a swap that a killed run left half done, before a reader (explain, compare,
    --verify) looks at the outputs. Does nothing when there is nothing to finish, when a run
    holds the folder (it finished the swap as it started) or when the folder is not ours to
    write (someone else's outputs, read-only): the reader then reports what it finds."""
    todo = [Path(f) for f in finals if _interrupted(Path(f))]
    if not todo:
        return
    try:
        with study_lock(*todo, options=["output folder"] * len(todo)):
            pass
    except SitescoreError:
        pass


def _interrupted(final: Path) -> bool:
    if not final.parent.is_dir():
        return False
    return _journal(final).exists() or (not final.exists() and any(
        _leftover_owner(p, final.name) is not None and ".old-" in p.name
        for p in final.parent.iterdir()))


def _leftover_owner(path: Path, name: str) -> int | None:
    """-1 for a leftover beside the final folder `name` whose owner is unknown, its owner's pid
    where the name has one, None for anything else."""
    m = re.fullmatch(_LEFTOVER.format(name=re.escape(name)), path.name)
    if m is None:
        return None
    pid = m.group("tmp") or m.group("old") or m.group("journal")
    return int(pid) if pid else -1


def _alive(pid: int) -> bool:
    """Another live process (our own pid is not: under the lock, what we left is ours to clear)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recover(final: Path, held: dict[str, IO[str]]) -> None:
    """A swap's journal beside the final folder: finish it. No journal, the final folder missing
    and its previous outputs moved aside (a run of an older version killed mid-swap): put them
    back."""
    if _journal(final).exists():
        _finish_swap(_journal(final), held)
    olds = sorted((p for p in final.parent.iterdir()
                   if ".old-" in p.name and _leftover_owner(p, final.name) is not None),
                  key=lambda p: p.stat().st_mtime)
    if olds and not os.path.lexists(final):
        os.replace(olds[-1], final)


def _remove_leftovers(final: Path) -> None:
    for path in list(final.parent.iterdir()):
        owner = _leftover_owner(path, final.name)
        if owner is None or _alive(owner):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _finish_swap(journal: Path, held: dict[str, IO[str]]) -> None:
    """Roll a swap forward: its new folders were complete before its journal was written, so
    each one still waiting (its temp folder exists) goes into place, under the lock of its own
    folder (taken here if this run does not hold it). The result is the new pair, never a mix."""
    try:
        doc = json.loads(journal.read_text(encoding="utf-8"))
        entries = [_Swap(Path(e["final"]), Path(e["temp"]), Path(e["old"])) for e in doc["entries"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SitescoreError(f"not a readable record of an interrupted swap ({exc}); look at the "
                             "folders beside it, then move it away", file=journal) from None
    pending = [e for e in entries if e.temp.is_dir()]
    extra: dict[str, IO[str]] = {}
    try:
        for e in sorted(entries, key=lambda e: _lock_key(e.final)):
            if _lock_key(e.final) in held or _lock_key(e.final) in extra:
                continue
            try:
                fh = _try_lock(e.final)
            except SitescoreError:  # a folder we cannot write: fatal only if it is still to come
                fh = "a folder this process cannot write"
            if isinstance(fh, str):
                if e in pending:
                    raise SitescoreError(f"a killed run left {e.final} to be put in place, and it "
                                         f"cannot be now ({fh}); try again when that is over",
                                         file=journal)
                continue  # already in place: its leftovers are its next holder's to clear
            extra[_lock_key(e.final)] = fh
        try:
            for e in pending:
                _install(e)
        except OSError as exc:
            raise cannot_write(exc, journal, "cannot finish the swap an interrupted run left") from None
        for e in entries:  # what lies in folders this process does not hold is left to their holders
            if _lock_key(e.final) in held or _lock_key(e.final) in extra:
                shutil.rmtree(e.old, ignore_errors=True)
                _journal(e.final).unlink(missing_ok=True)
    finally:
        for fh in extra.values():
            fh.close()


def _install(e: _Swap) -> None:
    if os.path.lexists(e.final):
        if os.path.lexists(e.old):
            shutil.rmtree(e.old)
        os.replace(e.final, e.old)
    os.replace(e.temp, e.final)


def _write_journal(path: Path, doc: dict[str, Any]) -> Path:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C during a swap takes effect once the swap is done: a user's interrupt never leaves a
    study's runs and maps folders mismatched (a kill can; the journal is for that). Only the
    main thread can set signal handlers; elsewhere the journal alone covers it."""
    import signal
    import threading

    caught: list[int] = []
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        try:
            previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
        except ValueError:  # not the main interpreter
            previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):
        previous(signal.SIGINT, None)
    elif caught and previous == signal.SIG_DFL:
        signal.raise_signal(signal.SIGINT)


@contextmanager
def atomic_dirs(*finals: Path) -> Iterator[list[Path]]:
    """Yield temporary folders; on success each replaces its final folder, on error all vanish.

    The folders are swapped in together: a journal beside each final folder lists the swap
    before the first rename, so if the process is killed between two renames the next holder of
    any of these folders' locks (`study_lock`, `recover_outputs`) completes it, giving the new
    pair. An OS failure (full disk, read-only folder, name too long) is a one-line error naming
    the final folder or file."""
    finals = tuple(Path(f) for f in finals)
    temps: list[Path] = []
    try:
        for final in finals:
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                temp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{os.getpid()}-",
                                             dir=final.parent))
                temps.append(temp)
                os.chmod(temp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs are shared
            except OSError as exc:
                raise cannot_write(exc, final.parent) from None
        try:
            yield temps
        except OSError as exc:
            raise cannot_write(exc, _as_final(exc.filename, finals, temps), exact_path=False) from None
    except BaseException:
        for t in temps:
            shutil.rmtree(t, ignore_errors=True)
        raise
    _swap([_Swap(f, t, f.parent / f".{f.name}.old-{os.getpid()}")
           for f, t in zip(finals, temps, strict=True)])


def _as_final(filename: Any, finals: Sequence[Path], temps: Sequence[Path]) -> Path:
    """Where a failed write was going, as the user will know it: inside the final folder, not
    inside its temporary one."""
    if filename is None:
        return finals[0]
    name = os.path.abspath(os.fsdecode(filename))
    for final, temp in zip(finals, temps, strict=True):
        if name == os.path.abspath(temp) or name.startswith(os.path.abspath(temp) + os.sep):
            return final / os.path.relpath(name, os.path.abspath(temp))
    return Path(os.fsdecode(filename))


def _swap(entries: list[_Swap]) -> None:
    doc = {"pid": os.getpid(), "entries": [
        {k: os.path.abspath(getattr(e, k)) for k in ("final", "temp", "old")} for e in entries]}
    journals: list[Path] = []
    with _interrupts_deferred():
        try:
            for e in entries:
                journals.append(_write_journal(_journal(e.final), doc))
        except OSError as exc:
            _drop(journals, entries)
            raise cannot_write(exc, e.final.parent) from None
        done: list[_Swap] = []
        try:
            for e in entries:
                _install(e)
                done.append(e)
        except OSError as exc:
            _undo(entries, done, exc)
        for e in entries:
            shutil.rmtree(e.old, ignore_errors=True)
        for j in journals:
            j.unlink(missing_ok=True)
        INSTALLED.extend(e.final for e in entries)


def _drop(journals: list[Path], entries: list[_Swap]) -> None:
    for j in journals:
        j.unlink(missing_ok=True)
    for e in entries:
        shutil.rmtree(e.temp, ignore_errors=True)


def _undo(entries: list[_Swap], done: list[_Swap], exc: OSError) -> None:
    """A rename of the swap failed: put the previous outputs back, or (if even that fails) leave
    the journal, so the next run finishes the swap instead."""
    failed = entries[len(done)]
    try:
        if not os.path.lexists(failed.final) and os.path.lexists(failed.old):
            os.replace(failed.old, failed.final)
        for e in reversed(done):
            os.replace(e.final, e.temp)
            if os.path.lexists(e.old):
                os.replace(e.old, e.final)
    except OSError:
        raise cannot_write(exc, failed.final, "cannot put the new outputs in place; the next run "
                           "of this study finishes it") from None
    _drop([_journal(e.final) for e in entries], entries)
    raise cannot_write(exc, failed.final, "cannot put the new outputs in place (the previous ones "
                       "were kept)") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

