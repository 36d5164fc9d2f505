"""Road distance on the freeway network: the road layer's lines as a weighted graph.

Each line's consecutive vertices are joined by an edge as long as the segment between them;
vertices closer than `SNAP_M` (lines that meet without sharing a vertex exactly) are joined too.
A site reaches the network at its nearest vertex by a straight leg, so the road distance of two
sites is leg + shortest path + leg (scipy.sparse.csgraph's Dijkstra, cut off at the link's
length). Lengths are EPSG:5070 metres, as every distance in sitescore.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..errors import DataError

#: Vertices of different lines closer than this are taken as one junction, metres (the
#: digitising tolerance of 1:100k-class road lines is some tens of metres).
SNAP_M = 50.0
#: Dijkstra rows computed at once (each row holds every vertex: memory = rows x vertices).
ROWS_PER_CHUNK = 256


@dataclass
class RoadGraph:
    """The road lines as a graph: vertex coordinates and symmetric edge lengths (metres)."""

    vertices: np.ndarray
    graph: csr_matrix
    tree: cKDTree
    total_km: float

    @classmethod
    def from_lines(cls, lines: gpd.GeoDataFrame, snap_m: float = SNAP_M,
                   where: str = "road layer") -> RoadGraph:
        """The graph of `lines` (EPSG:5070 line geometries; other kinds are ignored)."""
        geoms = lines.geometry.values
        geoms = geoms[np.isin(shapely.get_type_id(geoms), (1, 5))]  # LineString, MultiLineString
        parts = shapely.get_parts(geoms)
        if len(parts) == 0:
            raise DataError("has no lines to route on", file=where)
        coords, part = shapely.get_coordinates(parts, return_index=True)
        vertices, vid = np.unique(np.round(coords, 1), axis=0, return_inverse=True)
        vid = vid.ravel()
        same = part[1:] == part[:-1]
        a, b = vid[:-1][same], vid[1:][same]
        tree = cKDTree(vertices)
        near = tree.query_pairs(snap_m, output_type="ndarray")
        a = np.concatenate([a, near[:, 0]])
        b = np.concatenate([b, near[:, 1]])
        keep = a != b
        a, b = a[keep], b[keep]
        length = np.hypot(*(vertices[a] - vertices[b]).T)
        # a zero-length edge would be dropped by the sparse matrix; keep it as a tiny one
        length = np.maximum(length, 1e-3)
        n = len(vertices)
        graph = coo_matrix((np.r_[length, length], (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
        graph.sum_duplicates()
        total_km = float(shapely.length(parts).sum()) / 1000.0
        return cls(vertices, graph, tree, total_km)

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    def nearest(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's nearest vertex and the straight leg to it (metres)."""
        leg, v = self.tree.query(np.asarray(xy, dtype=float).reshape(-1, 2))
        return np.asarray(v, dtype=np.int64), np.asarray(leg, dtype=float)

    def distances(self, src_xy: np.ndarray, dst_xy: np.ndarray, limit_m: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (source, destination) pair at most `limit_m` apart by road: their indices and
        the metres (leg + path + leg). Sources sharing a nearest vertex share one Dijkstra run."""
        sv, sleg = self.nearest(src_xy)
        dv, dleg = self.nearest(dst_xy)
        out_i, out_j, out_m = [], [], []
        start_vertices, start_of = np.unique(sv, return_inverse=True)
        for lo in range(0, len(start_vertices), ROWS_PER_CHUNK):
            rows = start_vertices[lo:lo + ROWS_PER_CHUNK]
            dist = dijkstra(self.graph, directed=False, indices=rows, limit=limit_m)
            for k in range(len(rows)):
                sources = np.flatnonzero(start_of == lo + k)
                path = dist[k, dv]  # to each destination's vertex
                for i in sources:
                    total = sleg[i] + path + dleg
                    ok = np.flatnonzero(total <= limit_m)
                    out_i.append(np.full(len(ok), i, dtype=np.int64))
                    out_j.append(ok)
                    out_m.append(total[ok])
        if not out_i:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_m)

    def route(self, a_xy: np.ndarray, b_xy: np.ndarray) -> tuple[shapely.LineString, float]:
        """The road route from a to b as a line (leg, path, leg) and its length in metres."""
        (va,), (la,) = self.nearest(a_xy)
        (vb,), (lb,) = self.nearest(b_xy)
        dist, pred = dijkstra(self.graph, directed=False, indices=int(va), return_predecessors=True)
        if not np.isfinite(dist[vb]):
            line = shapely.LineString([tuple(a_xy), tuple(b_xy)])
            return line, float("inf")
        path = [int(vb)]
        while path[-1] != va:
            path.append(int(pred[path[-1]]))
        points = [tuple(a_xy), *map(tuple, self.vertices[path[::-1]]), tuple(b_xy)]
        return shapely.LineString(points), float(la + dist[vb] + lb)


def straight_pairs(src_xy: np.ndarray, dst_xy: np.ndarray, limit_m: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (source, destination) pair at most `limit_m` apart as the crow flies."""
    src = np.asarray(src_xy, dtype=float).reshape(-1, 2)
    dst = np.asarray(dst_xy, dtype=float).reshape(-1, 2)
    found = cKDTree(src).sparse_distance_matrix(cKDTree(dst), limit_m, output_type="ndarray")
    order = np.lexsort((found["j"], found["i"]))
    found = found[order]
    return found["i"].astype(np.int64), found["j"].astype(np.int64), found["v"].astype(float)
