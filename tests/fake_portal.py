"""A loopback stand-in for the public data portals `sitescore fetch` talks to.

A real HTTP/1.1 server (http.server.ThreadingHTTPServer) on 127.0.0.1, on a port the system
picks, run in a thread and stopped when the `with` block ends. It serves:

- files (bytes, or a real file read in place from ../shared/data), with ETag, Last-Modified and
  HTTP Range (206 + Content-Range, If-Range, 416), and injectable faults: the connection cut
  after K body bytes on the first request(s), a 5xx status on the first request(s), or the body
  trickled a few bytes at a time with a pause between (a server that never quite stalls);
- redirects (301/302/307/308 with a Location, to this portal or anywhere);
- fixed errors (404 on any unknown path, or any status on a chosen path);
- ArcGIS REST feature layers: `<layer>?f=json` (layer info with maxRecordCount and
  objectIdField) and `<layer>/query` (where=1=1, outFields, f=geojson|json, resultOffset /
  resultRecordCount paging with exceededTransferLimit, returnCountOnly, envelope or polygon
  geometry with inSR=4326 and esriSpatialRelIntersects), answering errors as ArcGIS does
  (HTTP 200 with an {"error": {...}} body);
- Census Data API answers (a JSON array of rows, the first row the header).

Every request is logged (path, query, headers, status, body bytes sent) so tests can count
requests and bytes. `refused_url()` gives a URL on a port nothing listens on.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qsl, unquote, urlsplit

import shapely
from shapely.geometry import shape

CHUNK = 64 * 1024


@dataclass
class Hit:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    bytes_sent: int = 0


@dataclass
class FileRoute:
    content: bytes | Path
    content_type: str = "application/octet-stream"
    cut_after: int | None = None      # close the connection after this many body bytes ...
    cut_times: int = 1                # ... on this many requests
    fail_status: int | None = None    # answer this status ...
    fail_times: int = 0               # ... on this many requests first
    ranges: bool = True
    trickle: float | None = None      # seconds between two writes of trickle_bytes ...
    trickle_bytes: int = 1
    trickle_times: int = 1            # ... on this many requests
    requests: int = 0
    _meta: tuple[int, str, str] | None = field(default=None, repr=False)

    def meta(self) -> tuple[int, str, str]:
        """size, ETag, Last-Modified"""
        if self._meta is None:
            if isinstance(self.content, Path):
                size = self.content.stat().st_size
                tag = f"{size:x}-{int(self.content.stat().st_mtime):x}"
            else:
                size = len(self.content)
                tag = hashlib.sha256(self.content).hexdigest()[:16]
            self._meta = (size, f'"{tag}"', formatdate(1_700_000_000, usegmt=True))
        return self._meta

    def read(self, start: int, length: int):
        if isinstance(self.content, Path):
            with open(self.content, "rb") as fh:
                fh.seek(start)
                while length > 0:
                    chunk = fh.read(min(CHUNK, length))
                    if not chunk:
                        return
                    length -= len(chunk)
                    yield chunk
        else:
            for i in range(start, start + length, CHUNK):
                yield self.content[i:min(i + CHUNK, start + length)]


@dataclass
class RedirectRoute:
    location: str
    status: int = 302


@dataclass
class StatusRoute:
    status: int
    body: bytes = b""


@dataclass
class ArcGISLayer:
    features: list[dict]
    max_record_count: int = 1000
    fields: list[dict] = field(default_factory=list)
    geometry_type: str = "esriGeometryPolyline"
    name: str = "Layer"
    oid: str = "OBJECTID"


@dataclass
class CensusRoute:
    rows: list[list]


class FakePortal:
    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.log: list[Hit] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle
    def __enter__(self) -> Self:
        portal = self

        class Handler(_Handler):
            pass

        Handler.portal = portal
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @staticmethod
    def refused_url(path: str = "/refused/file.zip") -> str:
        """A URL on a loopback port that was just free and is closed: connecting is refused."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return f"http://127.0.0.1:{port}{path}"

    # --- content
    def add_file(self, path: str, content: bytes | Path, **options) -> str:
        self.routes[path] = FileRoute(content, **options)
        return self.url(path)

    def add_redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = RedirectRoute(location, status)
        return self.url(path)

    def add_status(self, path: str, status: int, body: bytes = b"") -> str:
        self.routes[path] = StatusRoute(status, body)
        return self.url(path)

    def add_arcgis_layer(self, path: str, features: list[dict], **options) -> str:
        self.routes[path] = ArcGISLayer(features, **options)
        return self.url(path)

    def add_census(self, path: str, rows: list[list]) -> str:
        self.routes[path] = CensusRoute(rows)
        return self.url(path)

    # --- what was asked
    def hits(self, path: str | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self.log if path is None or h.path == path]

    def bytes_served(self, path: str) -> int:
        return sum(h.bytes_sent for h in self.hits(path))

    # --- serving
    def handle(self, h: _Handler, head: bool) -> None:
        split = urlsplit(h.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        hit = Hit(h.command, path, query, {k: v for k, v in h.headers.items()})
        with self._lock:
            self.log.append(hit)
        route = self.routes.get(path)
        if route is None and path.endswith("/query"):
            layer = self.routes.get(path[: -len("/query")])
            if isinstance(layer, ArcGISLayer):
                return _arcgis_query(h, hit, layer, query)
        if isinstance(route, FileRoute):
            return _serve_file(h, hit, route, head)
        if isinstance(route, StatusRoute):
            return _send(h, hit, route.status, route.body or f"{route.status}\n".encode(), "text/plain")
        if isinstance(route, RedirectRoute):
            return _send(h, hit, route.status, b"moved\n", "text/plain",
                         {"Location": route.location})
        if isinstance(route, ArcGISLayer):
            return _arcgis_info(h, hit, route, query)
        if isinstance(route, CensusRoute):
            return _census(h, hit, route, query)
        _send(h, hit, 404, b"Not Found\n", "text/plain")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client hanging up (a streamed 404 closed unread, a cut) is not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakePortal/1.0"
    portal: FakePortal

    def do_GET(self) -> None:
        self.portal.handle(self, head=False)

    def do_HEAD(self) -> None:
        self.portal.handle(self, head=True)

    def log_message(self, *args) -> None:
        pass


def _send(h: _Handler, hit: Hit, status: int, body: bytes, ctype: str,
          headers: dict[str, str] | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
        hit.bytes_sent += len(body)
    hit.status = status


def _send_json(h: _Handler, hit: Hit, doc, status: int = 200, ctype: str = "application/json") -> None:
    _send(h, hit, status, json.dumps(doc).encode(), ctype)


def _serve_file(h: _Handler, hit: Hit, route: FileRoute, head: bool) -> None:
    route.requests += 1
    if route.fail_status and route.requests <= route.fail_times:
        return _send(h, hit, route.fail_status, b"Service Unavailable\n", "text/plain")
    size, etag, modified = route.meta()
    start, end, status = 0, size - 1, 200
    rng = h.headers.get("Range")
    if rng and route.ranges and h.headers.get("If-Range") in (None, etag, modified):
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            if start >= size:
                return _send(h, hit, 416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            status = 206
    length = end - start + 1
    h.send_response(status)
    h.send_header("Content-Type", route.content_type)
    h.send_header("Content-Length", str(length))
    h.send_header("ETag", etag)
    h.send_header("Last-Modified", modified)
    if route.ranges:
        h.send_header("Accept-Ranges", "bytes")
    if status == 206:
        h.send_header("Content-Range", f"bytes {start}-{end}/{size}")
    h.end_headers()
    hit.status = status
    if head:
        return
    cut = route.cut_after if route.cut_after is not None and route.cut_times > 0 else None
    if cut is not None:
        route.cut_times -= 1
    if route.trickle is not None and route.trickle_times > 0:
        route.trickle_times -= 1
        return _trickle(h, hit, route, start, length)
    sent = 0
    for chunk in route.read(start, length):
        if cut is not None and sent + len(chunk) > cut:
            chunk = chunk[: cut - sent]
        h.wfile.write(chunk)
        sent += len(chunk)
        if cut is not None and sent >= cut:
            break
    hit.bytes_sent += sent
    if cut is not None:
        # the fault: the body stops short and the connection goes away
        h.close_connection = True
        try:
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _trickle(h: _Handler, hit: Hit, route: FileRoute, start: int, length: int) -> None:
    """The body a few bytes at a time with a pause between: the read timeout never fires. Ends
    with the body, or when the client hangs up."""
    assert route.trickle is not None
    data = b"".join(route.read(start, length))
    for i in range(0, len(data), route.trickle_bytes):
        piece = data[i:i + route.trickle_bytes]
        try:
            h.wfile.write(piece)
            h.wfile.flush()
        except OSError:
            h.close_connection = True
            return
        hit.bytes_sent += len(piece)
        time.sleep(route.trickle)


# --- ArcGIS REST

ESRI_TYPES = {"OBJECTID": "esriFieldTypeOID"}


def _arcgis_info(h: _Handler, hit: Hit, layer: ArcGISLayer, query: dict[str, str]) -> None:
    if query.get("f") not in ("json", "pjson"):
        return _send(h, hit, 200, b"<html>ArcGIS REST Services Directory</html>", "text/html")
    _send_json(h, hit, {
        "currentVersion": 11.1, "id": 0, "name": layer.name, "type": "Feature Layer",
        "geometryType": layer.geometry_type, "objectIdField": layer.oid,
        "maxRecordCount": layer.max_record_count, "supportedQueryFormats": "JSON, geoJSON, PBF",
        "capabilities": "Query",
        "advancedQueryCapabilities": {"supportsPagination": True, "supportsOrderBy": True},
        "fields": layer.fields or [{"name": layer.oid, "type": "esriFieldTypeOID"}],
    })


def _arcgis_error(h: _Handler, hit: Hit, message: str) -> None:
    _send_json(h, hit, {"error": {"code": 400, "message": message, "details": []}})


def _arcgis_query(h: _Handler, hit: Hit, layer: ArcGISLayer, q: dict[str, str]) -> None:
    if q.get("where") != "1=1" or "outFields" not in q or q.get("f") not in ("json", "geojson"):
        return _arcgis_error(h, hit, "Unable to complete operation: where, outFields and f "
                                     "(json or geojson) are required here")
    features = layer.features
    if q.get("geometry"):
        if q.get("inSR") != "4326" or q.get("spatialRel", "esriSpatialRelIntersects") != \
                "esriSpatialRelIntersects":
            return _arcgis_error(h, hit, "Invalid or missing input parameters: inSR/spatialRel")
        try:
            area = _esri_geometry(q["geometry"], q.get("geometryType", "esriGeometryEnvelope"))
        except (ValueError, KeyError, TypeError) as exc:
            return _arcgis_error(h, hit, f"Invalid geometry: {exc}")
        shapely.prepare(area)
        features = [f for f in features if area.intersects(shape(f["geometry"]))]
    if q.get("returnCountOnly") == "true":
        return _send_json(h, hit, {"count": len(features)})
    if q.get("orderByFields") not in (None, layer.oid, f"{layer.oid} ASC"):
        return _arcgis_error(h, hit, f"'{q['orderByFields']}' is not a field of this layer")
    page = min(int(q.get("resultRecordCount") or layer.max_record_count), layer.max_record_count)
    offset = int(q.get("resultOffset") or 0)
    chunk = features[offset: offset + page]
    more = offset + len(chunk) < len(features)
    if q["f"] == "geojson":
        doc = {"type": "FeatureCollection", "features": chunk}
        if more:                                  # where ArcGIS puts it in a GeoJSON answer
            doc["properties"] = {"exceededTransferLimit": True}
        return _send_json(h, hit, doc, ctype="application/geo+json")
    _arcgis_error(h, hit, "this fake answers features only as f=geojson")


def _esri_geometry(text: str, kind: str):
    if kind == "esriGeometryEnvelope":
        if text.lstrip().startswith("{"):
            d = json.loads(text)
            return shapely.box(d["xmin"], d["ymin"], d["xmax"], d["ymax"])
        west, south, east, north = (float(v) for v in text.split(","))
        return shapely.box(west, south, east, north)
    if kind == "esriGeometryPolygon":
        d = json.loads(text)
        return shapely.MultiPolygon([shapely.Polygon(r) for r in d["rings"]])
    raise ValueError(f"geometryType {kind} not supported here")


# --- Census Data API

def _census(h: _Handler, hit: Hit, route: CensusRoute, q: dict[str, str]) -> None:
    if "get" not in q or "for" not in q:
        return _send(h, hit, 400, b"error: missing 'get' or 'for' clause\n", "text/plain")
    header = route.rows[0]
    wanted = q["get"].split(",")
    unknown = [v for v in wanted if v not in header]
    if unknown:
        return _send(h, hit, 400, f"error: error: unknown variable '{unknown[0]}'\n".encode(),
                     "text/plain")
    rows = route.rows
    m = re.fullmatch(r"state:(\d\d)", q.get("in", ""))
    if m and "state" in header:
        i = header.index("state")
        rows = [header] + [r for r in rows[1:] if r[i] == m.group(1)]
    if len(rows) == 1:
        return _send(h, hit, 204, b"", "application/json")
    # the API writes one row per line
    body = "[" + ",\n".join(json.dumps(r) for r in rows) + "]"
    _send(h, hit, 200, body.encode(), "application/json;charset=utf-8")
