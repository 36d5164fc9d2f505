"""PAD-US 4.0 Fee: the demo's land parcels, written as USGS publishes the GeoPackage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Point, Polygon, box

from .helpers import _poly
from .region import _FIXED_DATE, _TO_PADUS, PADUS_CRS_WKT, PADUS_LAYER, STATE


@dataclass
class _Parcel:
    unit: str
    own_type: str
    own_name: str
    mang_type: str
    mang_name: str
    des_tp: str
    gap: str
    shape: Any
    loc_own: str | None = None
    loc_mang: str | None = None
    loc_ds: str | None = None
    date_est: str | None = None
    pub_access: str = "OA"
    iucn: str = "Other Conservation Area"
    invalid: bool = False
    extra: dict = field(default_factory=dict)


def _bowtie(w: float, s: float, e: float, n: float) -> Polygon:
    """A block whose outline crosses itself near its west edge: the kind of digitising slip real
    PAD-US parcels carry (GEOS reports a self-intersection; make_valid repairs it)."""
    h = n - s
    return Polygon([(w, s), (e, s), (e, n), (w, n), (w, s + 0.55 * h), (w - 0.004, s + 0.45 * h),
                    (w - 0.004, s + 0.55 * h), (w, s + 0.45 * h), (w, s)])


def _section(w: float, s: float) -> Polygon:
    """One PLSS section (1 mile square) with its south-west corner at (w, s)."""
    return box(w, s, w + 0.01765, s + 0.01449)


#: Shared attributes of the BLM, Forest Service and state trust records.
_BLM: dict[str, Any] = {
    "own_type": "FED", "own_name": "BLM", "mang_type": "FED", "mang_name": "BLM",
    "loc_own": "Bureau of Land Management", "loc_mang": "Kingman Field Office"}
_FS: dict[str, Any] = {
    "own_type": "FED", "own_name": "USFS", "mang_type": "FED", "mang_name": "USFS",
    "loc_own": "U.S. Forest Service", "loc_mang": "Red Mesa National Forest"}
_STATE_TRUST: dict[str, Any] = {
    "own_type": "STAT", "own_name": "SLB", "mang_type": "STAT", "mang_name": "SLB",
    "loc_own": "Arizona State Land Department", "loc_mang": "Arizona State Land Department",
    "des_tp": "SOTH", "gap": "4", "pub_access": "RA", "iucn": "Unassigned"}


def _parcels() -> list[_Parcel]:
    """Every PAD-US record, highest precedence first: a record's land is what earlier records
    leave, so fee parcels never overlap (as in PAD-US's Fee layer)."""
    return [*_protected_parcels(), *_private_and_trust_parcels(), *_blm_parcels(),
            *_forest_parcels()]


def _protected_parcels() -> list[_Parcel]:
    """Parks, wilderness, refuges, reservations, the range: they win every overlap."""
    return [
        # protected cores first
        _Parcel("Red Mesa National Park", "FED", "NPS", "FED", "NPS", "NP", "1",
                _poly((-112.08, 35.33), (-111.98, 35.32), (-111.86, 35.345), (-111.85, 35.47),
                      (-111.97, 35.485), (-112.06, 35.46), (-112.09, 35.40)),
                loc_own="National Park Service", loc_mang="Red Mesa National Park",
                date_est="1931", iucn="II"),
        _Parcel("Granite Spires Wilderness", des_tp="WA", gap="1",
                shape=Point(-112.80, 34.925).buffer(0.032, quad_segs=6),
                date_est="1990", iucn="Ib", loc_ds="Wilderness Area", **_BLM),
        _Parcel("Sandy Wash Wilderness Study Area", des_tp="WSA", gap="2",
                shape=_poly((-112.885, 35.05), (-112.80, 35.05), (-112.795, 35.09),
                            (-112.81, 35.12), (-112.885, 35.12)),
                loc_ds="Wilderness Study Area", iucn="Other Conservation Area", **_BLM),
        _Parcel("Antelope Springs ACEC", des_tp="ACEC", gap="3",
                shape=box(-112.50, 35.06, -112.45, 35.10),
                loc_ds="Area of Critical Environmental Concern", **_BLM),
        _Parcel("Saddle Rock National Monument", des_tp="NM", gap="2",
                shape=box(-112.66, 35.38, -112.58, 35.45), date_est="2000", iucn="III",
                **{**_BLM, "loc_mang": "Saddle Rock National Monument"}),
        _Parcel("Cholla River National Wildlife Refuge", "FED", "FWS", "FED", "FWS", "NWR", "2",
                _poly((-112.31, 34.925), (-112.17, 34.975), (-112.17, 35.005),
                      (-112.31, 34.955), (-112.33, 34.94)),
                loc_own="U.S. Fish and Wildlife Service", date_est="1974", iucn="IV"),
        _Parcel("Cholla Lake State Park", "STAT", "SPR", "STAT", "SPR", "SP", "2",
                box(-112.12, 35.02, -112.06, 35.05), loc_own="Arizona State Parks",
                loc_mang="Arizona State Parks", date_est="1968", iucn="V"),
        _Parcel("The Nature Conservancy Cienega Preserve", "NGO", "NGO", "NGO", "NGO", "PCON",
                "2", box(-112.60, 34.845, -112.55, 34.875), loc_own="The Nature Conservancy",
                loc_mang="The Nature Conservancy", pub_access="RA", iucn="Unassigned"),
        _Parcel("Juniper Springs Indian Reservation", "TRIB", "TRIB", "TRIB", "TRIB", "TRIBL",
                "4", _poly((-112.42, 34.62), (-112.18, 34.62), (-112.17, 34.80),
                           (-112.30, 34.83), (-112.42, 34.81)),
                loc_own="Juniper Springs Tribe", loc_mang="Juniper Springs Tribe",
                pub_access="XA", iucn="Unassigned"),
        _Parcel("Camp Saddle Training Range", "FED", "DOD", "FED", "DOD", "MIL", "4",
                _poly((-113.0, 35.345), (-112.80, 35.35), (-112.78, 35.50), (-113.0, 35.50)),
                loc_own="U.S. Army", loc_mang="U.S. Army", pub_access="XA", iucn="Unassigned"),
        _Parcel("Cholla Dam Reclamation Withdrawal", "FED", "USBR", "FED", "USBR", "FOTH", "4",
                box(-112.17, 34.985, -112.13, 35.02), loc_own="Bureau of Reclamation",
                pub_access="RA", iucn="Unassigned"),
        _Parcel("Juniper Flats Open Space", "LOC", "CITY", "LOC", "CITY", "LP", "4",
                box(-112.295, 35.252, -112.268, 35.268), loc_own="City of Juniper Flats",
                loc_mang="City of Juniper Flats", iucn="Unassigned"),
    ]


def _private_and_trust_parcels() -> list[_Parcel]:
    """The ranch and state trust sections cut out of the BLM land that follows."""
    return [
        # private ranch inside the BLM expanse: a self-intersecting outline
        _Parcel("Saddle Ranch", "PVT", "PVT", "PVT", "PVT", "PCON", "3",
                _bowtie(-112.47, 34.88, -112.42, 34.92), loc_own="Saddle Ranch LLC",
                pub_access="XA", iucn="Unassigned", invalid=True),
        # state trust sections checkerboarded into the BLM land, and a larger trust block
        _Parcel("State Trust Land", shape=_section(-112.70, 35.03), **_STATE_TRUST),
        _Parcel("State Trust Land", shape=_section(-112.55, 34.94), **_STATE_TRUST),
        _Parcel("State Trust Land", shape=_section(-112.62, 35.10), **_STATE_TRUST),
        _Parcel("State Trust Land", shape=box(-112.36, 35.02, -112.25, 35.10), **_STATE_TRUST),
    ]


def _blm_parcels() -> list[_Parcel]:
    """The BLM land the demo scores: the blocks, then the large expanse."""
    return [
        # BLM blocks: near the city and near Westgate (good), in the mountains (steep), small
        _Parcel("Juniper Flats East Public Lands", des_tp="FOTH", gap="3",
                shape=_poly((-112.225, 35.148), (-112.165, 35.15), (-112.168, 35.192),
                            (-112.20, 35.195), (-112.226, 35.185)), **_BLM),
        _Parcel("Westgate Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.972, 35.198, -112.902, 35.252), **_BLM),
        _Parcel("Rimrock Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.10, 35.168, -112.04, 35.21), **_BLM),
        _Parcel("Cholla Range Public Lands", des_tp="FOTH", gap="3",
                shape=box(-111.95, 34.80, -111.88, 34.86), **_BLM),
        _Parcel("Granite Range Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.98, 34.62, -112.90, 34.68), **_BLM),
        _Parcel("Dry Fork Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.30, 34.838, -112.284, 34.849), **_BLM),
        _Parcel("Mesquite Flat Public Lands", des_tp="FOTH", gap="3",
                shape=_bowtie(-112.15, 34.86, -112.10, 34.90), invalid=True, **_BLM),
        _Parcel("Saddle North Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.755, 35.36, -112.70, 35.40), **_BLM),
        _Parcel("Juniper North Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.45, 35.38, -112.40, 35.42), **_BLM),
        # the large contiguous BLM expanse, in two field-office units
        _Parcel("Cholla Basin Public Lands", des_tp="FOTH", gap="3",
                shape=_poly((-112.88, 34.87), (-112.62, 34.862), (-112.62, 35.148),
                            (-112.74, 35.15), (-112.76, 35.135), (-112.88, 35.135)), **_BLM),
        _Parcel("Saddle Mesa Public Lands", des_tp="FOTH", gap="3",
                shape=_poly((-112.62, 34.862), (-112.46, 34.875), (-112.40, 34.90),
                            (-112.38, 35.00), (-112.39, 35.14), (-112.52, 35.15),
                            (-112.62, 35.148)), **{**_BLM, "loc_mang": "Hassayampa Field Office"}),
    ]


def _forest_parcels() -> list[_Parcel]:
    """National forests with their inholdings, and the last few non-federal blocks
    around them."""
    return [
        # inholdings and special areas inside the national forests
        _Parcel("Red Mesa Research Natural Area", des_tp="RNA", gap="1",
                shape=box(-112.22, 35.43, -112.17, 35.47), iucn="Ia",
                **{**_FS, "loc_ds": "Research Natural Area"}),
        _Parcel("Bear Spring Ranch", "PVT", "PVT", "PVT", "PVT", "PCON", "4",
                box(-111.93, 35.05, -111.90, 35.08), loc_own="Private",
                pub_access="XA", iucn="Unassigned"),
        _Parcel("Juniper Flats Municipal Watershed", "LOC", "CITY", "LOC", "CITY", "LOTH", "4",
                box(-112.24, 35.36, -112.20, 35.40), loc_own="City of Juniper Flats",
                loc_mang="City of Juniper Flats", pub_access="RA", iucn="Unassigned"),
        _Parcel("Cholla County Fairgrounds", "LOC", "CNTY", "LOC", "CNTY", "LREC", "4",
                box(-111.99, 34.98, -111.97, 35.0), loc_own="Cholla County",
                loc_mang="Cholla County", iucn="Unassigned"),
        # national forest around the park and on the east and south-west ranges
        _Parcel("Red Mesa National Forest", des_tp="NF", gap="3",
                shape=_poly((-112.26, 35.28), (-111.70, 35.28), (-111.70, 35.60),
                            (-112.26, 35.60)), date_est="1908", iucn="VI", **_FS),
        _Parcel("Cholla National Forest", des_tp="NF", gap="3",
                shape=_poly((-112.0, 34.55), (-111.70, 34.55), (-111.70, 35.16),
                            (-111.99, 35.15), (-112.01, 34.95)), date_est="1908", iucn="VI",
                **{**_FS, "loc_mang": "Cholla National Forest"}),
        _Parcel("Cholla National Forest - Granite Unit", des_tp="NF", gap="3",
                shape=_poly((-113.05, 34.55), (-112.66, 34.55), (-112.66, 34.765),
                            (-113.05, 34.76)), date_est="1908", iucn="VI",
                **{**_FS, "loc_mang": "Cholla National Forest"}),
        _Parcel("Saddle Valley State Trust Land", shape=box(-112.86, 35.22, -112.80, 35.27),
                **_STATE_TRUST),
        _Parcel("Sandstone State Wildlife Area", "STAT", "SFW", "STAT", "SFW", "SRMA", "3",
                box(-112.98, 34.84, -112.92, 34.90), loc_own="Arizona Game and Fish Department",
                loc_mang="Arizona Game and Fish Department", iucn="VI"),
        _Parcel("Juniper Flats Airport Lands", "LOC", "CITY", "LOC", "CITY", "LOTH", "4",
                box(-112.395, 35.19, -112.365, 35.21), loc_own="City of Juniper Flats",
                loc_mang="City of Juniper Flats", pub_access="XA", iucn="Unassigned"),
    ]


def _write_padus(path: Path, rng: np.random.Generator) -> None:
    import geopandas as gpd
    import pyogrio

    rows, geoms = [], []
    taken = None
    for i, parcel in enumerate(_parcels()):
        shape = parcel.shape
        if taken is not None and not parcel.invalid:
            shape = shapely.difference(shape, taken)
        if shape.is_empty:
            continue
        if not parcel.invalid:
            shape = shapely.set_precision(shape, 1e-7)
        taken = shapely.union(taken, shapely.make_valid(shape)) if taken is not None \
            else shapely.make_valid(shape)
        albers = shapely.transform(shape, lambda xy: np.column_stack(
            _TO_PADUS.transform(xy[:, 0], xy[:, 1])))
        polys = list(albers.geoms) if isinstance(albers, MultiPolygon) else [albers]
        albers = MultiPolygon(polys)
        area = float(shapely.area(shapely.make_valid(albers)))
        geoms.append(albers)
        src_year = str(int(rng.choice([2018, 2019, 2020, 2021, 2022, 2023])))
        rows.append({
            "FeatClass": "Fee", "Category": "Fee",
            "Own_Type": parcel.own_type, "Own_Name": parcel.own_name, "Loc_Own": parcel.loc_own,
            "Mang_Type": parcel.mang_type, "Mang_Name": parcel.mang_name,
            "Loc_Mang": parcel.loc_mang, "Des_Tp": parcel.des_tp, "Loc_Ds": parcel.loc_ds,
            "Unit_Nm": parcel.unit, "Loc_Nm": parcel.unit, "State_Nm": STATE,
            "Agg_Src": f"{parcel.mang_name}_{STATE}_{src_year}",
            "GIS_Src": f"Synthetic demo data ({parcel.mang_name})",
            "Src_Date": src_year, "GIS_Acres": round(area / 4046.8564224, 2),
            "Source_PAID": f"{parcel.mang_name}{STATE}{10000 + i}",
            "WDPA_Cd": None, "Pub_Access": parcel.pub_access,
            "Access_Src": "GAP - Default Value", "Access_Dt": "2024",
            "GAP_Sts": parcel.gap, "GAPCdSrc": "GAP - Default Value", "GAPCdDt": "2024",
            "IUCN_Cat": parcel.iucn, "IUCNCtSrc": "GAP - Default Value", "IUCNCtDt": "2024",
            "Date_Est": parcel.date_est, "Comments": "Synthetic demo data",
            "SHAPE_Length": round(float(shapely.length(albers)), 4),
            "SHAPE_Area": round(area, 4),
        })
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS.from_wkt(PADUS_CRS_WKT))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    with _gdal_config({"OGR_CURRENT_DATE": _FIXED_DATE}, pyogrio):
        pyogrio.write_dataframe(gdf, path, layer=PADUS_LAYER, driver="GPKG",
                                geometry_type="MultiPolygon",
                                layer_options={"SPATIAL_INDEX": "YES"})


class _gdal_config:
    """Set GDAL config options for a block, restoring what was there."""

    def __init__(self, options: dict[str, str], pyogrio_module: Any) -> None:
        self.options, self.pyogrio = options, pyogrio_module

    def __enter__(self) -> None:
        self.saved = {k: self.pyogrio.get_gdal_config_option(k) for k in self.options}
        self.pyogrio.set_gdal_config_options(self.options)

    def __exit__(self, *exc: object) -> None:
        self.pyogrio.set_gdal_config_options(self.saved)
