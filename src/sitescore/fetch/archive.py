"""Archives marked `unzip`: every member checked before anything is extracted (paths, links,
sizes, zip-bomb ratios, free space), then extracted into a hidden folder counting the bytes
really written and renamed into place."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

from .http import CHUNK
from .report import FetchError

MAX_MEMBER_BYTES = 64 << 30             # one archive member (a PAD-US .gdbtable is a few GB)
MAX_ARCHIVE_BYTES = 256 << 30           # all members together
MAX_MEMBERS = 10_000                    # members of one archive (a geodatabase: a few per table)
# Zip bombs: a member, or the whole archive, may unpack to at most MAX_RATIO times its packed
# size once it is over RATIO_FLOOR_BYTES (small, very compressible files such as a geodatabase's
# .gdbtablx, ~125:1, pass). Real archives stay far below: PAD-US state GDBs 1.3-1.5:1 overall,
# Natural Earth shapefiles 7.6:1 (45:1 for the .dbf).
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 16 << 20
FREE_SPACE_RESERVE_BYTES = 256 << 20    # left free on the disk after an archive is extracted


class UnsafeArchive(FetchError):
    pass


def check_members(infos: list[zipfile.ZipInfo], max_member_bytes: int = MAX_MEMBER_BYTES,
                  max_total_bytes: int = MAX_ARCHIVE_BYTES, *, archive_bytes: int | None = None,
                  max_members: int = MAX_MEMBERS, max_ratio: float = MAX_RATIO,
                  ratio_floor: int = RATIO_FLOOR_BYTES) -> int:
    """Refuse an archive with too many members, or any member that would land outside the
    folder (absolute path, drive letter, `..`), is a link, is encrypted, repeats a name, is too
    large or unpacks more than `max_ratio` times its packed size (over `ratio_floor` bytes);
    likewise the archive as a whole against `archive_bytes`. Returns the bytes it unpacks to."""
    if len(infos) > max_members:
        raise UnsafeArchive(f"unsafe archive: {len(infos):,} members, over the {max_members:,} "
                            "member limit; nothing was extracted and the download was deleted")
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        parts = [p for p in re.split(r"[\\/]", name) if p not in ("", ".")]
        why = None
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            why = "has an absolute path"
        elif ".." in parts:
            why = "has a '..' component"
        elif not parts:
            why = "has no name"
        elif stat.S_ISLNK(info.external_attr >> 16):
            why = "is a symbolic link"
        elif info.flag_bits & 0x1:
            why = "is encrypted"
        elif info.file_size > max_member_bytes:
            why = f"is {info.file_size:,} bytes, over the {max_member_bytes:,} byte limit"
        elif info.file_size > ratio_floor and info.file_size > max_ratio * max(info.compress_size, 1):
            why = (f"unpacks to {info.file_size:,} bytes from {info.compress_size:,} "
                   f"({info.file_size / max(info.compress_size, 1):,.0f}:1), over the "
                   f"{max_ratio:g}:1 limit for members over {ratio_floor:,} bytes (a zip bomb?)")
        elif "/".join(parts) in seen and not info.is_dir():
            why = "appears twice"
        if why:
            raise UnsafeArchive(f"unsafe archive: member '{name}' {why}; nothing was extracted "
                                "and the download was deleted")
        seen.add("/".join(parts))
        total += info.file_size
    if total > max_total_bytes:
        raise UnsafeArchive(f"unsafe archive: {total:,} bytes unpacked, over the "
                            f"{max_total_bytes:,} byte limit; nothing was extracted")
    if archive_bytes is not None and total > ratio_floor and total > max_ratio * max(archive_bytes, 1):
        raise UnsafeArchive(f"unsafe archive: it unpacks to {total:,} bytes from "
                            f"{archive_bytes:,} ({total / max(archive_bytes, 1):,.0f}:1), over the "
                            f"{max_ratio:g}:1 limit (a zip bomb?); nothing was extracted and the "
                            "download was deleted")
    return total


def _copy_member(src: Any, dst: Any, info: zipfile.ZipInfo) -> int:
    """Copy one member, counting the bytes really written: a member giving more than its header
    declares (headers can lie) stops the extraction."""
    written = 0
    while chunk := src.read(CHUNK):
        written += len(chunk)
        if written > info.file_size:
            raise UnsafeArchive(f"unsafe archive: member '{info.filename}' unpacks to more than "
                                f"the {info.file_size:,} bytes its header declares; extraction "
                                "was stopped, nothing was kept and the download was deleted")
        dst.write(chunk)
    return written


def _extract(archive: Path, dest: Path, max_member_bytes: int) -> Path:
    """Extract a verified archive next to `dest` (named like the archive without .zip) and
    return the main item: the one top-level entry, else a folder named after the archive;
    inside it the single .gdb, .gpkg, .shp, .tif ... if there is one."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise FetchError(f"not a valid zip archive ({exc}); the download was deleted") from None
    stem = dest.name[:-4] if dest.name.lower().endswith(".zip") else dest.name + ".d"
    with zf:
        infos = zf.infolist()
        total = check_members(infos, max_member_bytes, archive_bytes=archive.stat().st_size)
        free = shutil.disk_usage(dest.parent).free
        if free < total + FREE_SPACE_RESERVE_BYTES:
            raise FetchError(f"not enough free space to extract: it unpacks to {total:,} bytes and "
                             f"{FREE_SPACE_RESERVE_BYTES:,} more are kept free, but only "
                             f"{free:,} are free in {dest.parent}; nothing was extracted and the "
                             "download was deleted")
        tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.extracting-", dir=dest.parent))
        try:
            os.chmod(tmp, 0o777 & ~_umask())
            for info in infos:
                parts = [p for p in re.split(r"[\\/]", info.filename) if p not in ("", ".")]
                out = tmp.joinpath(*parts)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    _copy_member(src, dst, info)
            tops = list(tmp.iterdir())
            if len(tops) == 1:
                item, final = tops[0], dest.parent / tops[0].name
            else:
                item, final = tmp, dest.parent / stem
            _replace(item, final)
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, ValueError) as exc:
            raise FetchError(f"corrupt zip archive ({exc}); nothing was extracted and the "
                             "download was deleted") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return _main_item(final)


def _replace(src: Path, final: Path) -> None:
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.is_dir():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(src, final)
        shutil.rmtree(old, ignore_errors=True)
        return
    os.replace(src, final)


def _main_item(final: Path) -> Path:
    if final.is_file():
        return final
    gdbs = sorted(p for p in final.rglob("*.gdb") if p.is_dir())
    if final.suffix.lower() == ".gdb":
        return final
    if len(gdbs) == 1:
        return gdbs[0]
    for ext in (".gpkg", ".shp", ".tif", ".tiff", ".geojson", ".csv", ".xlsx"):
        hits = sorted(p for p in final.rglob(f"*{ext}") if p.is_file())
        if len(hits) == 1:
            return hits[0]
    return final


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
