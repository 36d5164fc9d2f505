"""The study area: the mask every reader filters on, so a national file is never loaded whole."""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from .schema import CRS


@dataclass(frozen=True)
class StudyArea:
    """A polygon in EPSG:5070 (or None for 'everywhere the data reach')."""

    label: str
    geometry: BaseGeometry | None = None

    def bounds_in(self, crs: object) -> tuple[float, float, float, float] | None:
        """The area's bounding box in another CRS, densified so curved edges are covered."""
        if self.geometry is None:
            return None
        target = ProjCRS.from_user_input(crs)
        w, s, e, n = self.geometry.bounds
        if target.equals(ProjCRS.from_user_input(CRS)):
            return w, s, e, n
        transformer = Transformer.from_crs(CRS, target, always_xy=True)
        return transformer.transform_bounds(w, s, e, n, densify_pts=21)

    def clip_mask(self, gdf):
        """Rows of a canonical (EPSG:5070) GeoDataFrame that touch the area."""
        if self.geometry is None or len(gdf) == 0:
            return gdf
        prepared = self.geometry
        shapely.prepare(prepared)
        keep = shapely.intersects(prepared, gdf.geometry.values)
        return gdf.loc[keep]


def bbox_area(bbox: list[float], label: str | None = None) -> StudyArea:
    """A lon/lat box (west, south, east, north) as a study area in EPSG:5070."""
    west, south, east, north = bbox
    transformer = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    ring = shapely.box(west, south, east, north).exterior
    # densify so the Albers outline follows the box's parallels
    dense = shapely.segmentize(shapely.Polygon(ring), 0.05)
    xs, ys = transformer.transform(*shapely.get_coordinates(dense).T)
    polygon = shapely.Polygon(list(zip(xs, ys, strict=True)))
    return StudyArea(label or f"bbox {west},{south},{east},{north}", polygon)
