"""Safe opening of local files: a reader never goes to the network, never waits forever on a
named pipe or device, and never follows a VRT to a remote source. `sitescore run` reads local
files only; only `sitescore fetch` downloads.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyogrio

from ..errors import DataError

#: How a PostGIS layer's `path` starts: it names the table for messages, it is no file.
POSTGIS_PREFIX = "postgis:"

#: GDAL paths and addresses that read over the network: its remote virtual file systems
#: (/vsicurl/, /vsis3/, ... also inside a chain such as /vsizip//vsicurl/), URLs, and the
#: connection strings of web drivers. `sitescore run` reads local files only.
_NETWORK = re.compile(
    r"/vsi(?:curl|s3|gs|az|adls|oss|swift|hdfs|webhdfs)\w*/"
    r"|\b(?:https?|ftps?|s3|gs|az|abfss?|wasbs?)://"
    r"|^\s*(?:WMS|WMTS|WCS|WFS|OAPIF|EEDAI?|PLScenes|DAAS|NGW|CSW|STACIT|ESRIJSON|PMTiles):",
    re.IGNORECASE)
#: XML roots of GDAL files that name other datasets (VRT) or that are web services themselves.
_REFERRING_ROOTS = {"VRTDataset", "OGRVRTDataSource"}
_SERVICE_ROOTS = {"GDAL_WMS", "GDAL_WMTS", "WCS_GDAL", "GDAL_WCS", "WMS_GDAL", "OGRWFSDataSource"}
#: Elements of a VRT that name a source dataset.
_SOURCE_TAGS = {"SourceFilename", "SrcDataSource", "SourceDataset"}
#: How deep VRTs naming VRTs are followed (GDAL itself stops nesting at a similar depth).
MAX_VRT_DEPTH = 8
#: GDAL settings while a reader runs: remote files are never fetched (no extension is allowed
#: to /vsicurl/ and its kin) and a VRT cannot run Python code.
LOCAL_ONLY_GDAL = {"CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".sitescore-reads-local-files-only",
                   "GDAL_HTTP_MAX_RETRY": "0", "GDAL_VRT_ENABLE_PYTHON": "NO"}


def is_network_path(text: str) -> bool:
    """Whether GDAL would go to the network for this path or connection string."""
    return bool(_NETWORK.search(text))


def path_status(path: Path) -> os.stat_result | None:
    """`os.stat` of a layer's path, None when it does not exist; a symbolic link loop or a path
    that cannot be looked at is the user's error, said as such (not 'file not found')."""
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        if exc.errno == errno.ELOOP:
            raise DataError("is a symbolic link loop (ELOOP): a link on this path points back to "
                            "itself; make it point at the real file", file=path) from None
        raise DataError(f"cannot be looked at ({exc.strerror})", file=path) from None


def require_file(path: Path) -> Path:
    """The path of a local file (or of a folder, for readers that take one: a .gdb, an
    extracted archive) that can be read without hanging or going to the network: no network
    path, no named pipe, device or socket, no empty file, no VRT with a remote source."""
    if str(path).startswith(POSTGIS_PREFIX):
        raise DataError("this reader reads files only (CSV, raster), not PostGIS tables", file=path)
    if is_network_path(str(path)):
        raise DataError("is a network address; `sitescore run` reads local files only (only "
                        "`sitescore fetch` downloads): download the file and give its path",
                        file=path)
    st = path_status(path)
    if st is None:
        raise DataError("file not found", file=path)
    if stat.S_ISDIR(st.st_mode):
        return path
    if not stat.S_ISREG(st.st_mode):
        raise DataError("is not a regular file (a named pipe, device or socket); reading it could "
                        "wait forever: give the path of a file", file=path)
    if st.st_size == 0:
        raise DataError("is empty (0 bytes); download or copy it again", file=path)
    refuse_network_sources(path)
    return path


def refuse_network_sources(path: Path, depth: int = 0, seen: set[Path] | None = None) -> None:
    """A GDAL VRT (raster or vector) whose sources, or its VRTs' sources, are remote would make
    GDAL download them; a web-service description (GDAL_WMS, ...) is remote by nature. Both are
    refused, naming the file; other files are left alone (only their first bytes are read)."""
    root = _xml_root(path)
    if root is None:
        return
    if root in _SERVICE_ROOTS:
        raise DataError(f"is a GDAL web-service description ({root}); `sitescore run` reads local "
                        "files only: download the data and give its path", file=path)
    if root not in _REFERRING_ROOTS:
        return
    seen = set() if seen is None else seen
    seen.add(path.resolve())
    for name, relative in _vrt_sources(path):
        if is_network_path(name):
            shown = name if len(name) <= 120 else name[:120] + "…"
            raise DataError(f"is a VRT with a network source ({shown}); `sitescore run` reads "
                            "local files only: download the source and point the VRT at it",
                            file=path)
        source = Path(name)
        if relative and not source.is_absolute():
            source = path.parent / source
        try:
            st = path_status(source)
        except DataError:
            st = None  # a source GDAL cannot open either: its error names it
        if st is None or stat.S_ISDIR(st.st_mode):
            continue  # missing sources, or driver syntax ('NITF_IM:0:x'), are GDAL's to report
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"is a VRT whose source {name} is not a regular file (a named pipe, "
                            "device or socket); reading it could wait forever", file=path)
        if source.resolve() in seen:
            continue
        if depth >= MAX_VRT_DEPTH:
            raise DataError(f"nests VRTs more than {MAX_VRT_DEPTH} deep", file=path)
        refuse_network_sources(source, depth + 1, seen)


def _xml_root(path: Path) -> str | None:
    """The root element's name when the file is XML, else None."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None  # unreadable: the reader says so
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        return None
    match = re.search(rb"<([A-Za-z_][\w.-]*)[\s>/]", re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"",
                                                          text, flags=re.DOTALL))
    return match.group(1).decode("ascii", "replace") if match else None


def _vrt_sources(path: Path) -> Iterator[tuple[str, bool]]:
    """(source name, relative to the VRT?) of every source element of a VRT, streamed."""
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag in _SOURCE_TAGS and elem.text and elem.text.strip():
                yield elem.text.strip(), elem.get("relativeToVRT", "0").strip() == "1"
            elem.clear()
    except ET.ParseError as exc:
        raise DataError(f"is not a readable VRT (XML error: {exc})", file=path) from None


#: pyogrio's GDAL settings are process-wide: readers running at once (runs on threads) share
#: one `local_only` setting, made by the first and undone by the last.
_LOCAL_ONLY_LOCK = threading.Lock()
_local_only_state: dict[str, Any] = {"depth": 0, "saved": {}}


@contextmanager
def local_only() -> Iterator[None]:
    """GDAL set, in both the raster (rasterio) and vector (pyogrio) libraries, so that nothing a
    reader opens can fetch a remote file, whatever a file names (`LOCAL_ONLY_GDAL`); the
    previous settings come back afterwards."""
    import rasterio

    with _LOCAL_ONLY_LOCK:
        if _local_only_state["depth"] == 0:
            _local_only_state["saved"] = {k: pyogrio.get_gdal_config_option(k)
                                          for k in LOCAL_ONLY_GDAL}
            pyogrio.set_gdal_config_options(LOCAL_ONLY_GDAL)
        _local_only_state["depth"] += 1
    try:
        with rasterio.Env(**LOCAL_ONLY_GDAL):
            yield
    finally:
        with _LOCAL_ONLY_LOCK:
            _local_only_state["depth"] -= 1
            if _local_only_state["depth"] == 0:
                pyogrio.set_gdal_config_options(_local_only_state["saved"])


def first_line(exc: Exception) -> str:
    """The first line of a library's error, short enough for the one-line message the user
    sees; a damaged SQLite file (GeoPackage) is said to be damaged."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "disk image is malformed" in text or "file is not a database" in text:
        return "the SQLite/GeoPackage file is damaged: " + text.rsplit("; ", 1)[-1].rsplit(": ", 1)[-1]
    return text if len(text) <= 240 else text[:240] + "…"
