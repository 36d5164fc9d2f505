"""Pathways on the candidate land: parcels split where a user's areas say more, and the land the
study's pathway limits remove (unavailable, an excluded instrument, too many months).

Areas overlapping one another are taken in the order given (the first layer, then the file's
order wins), so each piece of land has exactly one answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.models import PathwaysConfig
from ..errors import DataError
from ..schema import CRS
from .resolve import PATHWAY_COLUMNS, UnknownCodes, resolve_pathways, typical_months
from .table import PathwayTable

_AREA_COLUMNS = ("name", "pathway", "mode", "months_low", "months_high", "source")


@dataclass
class LandPathways:
    """What a grid study needs to put pathways on its land: the table, the user's areas (layer
    name -> canonical `pathway_areas` frame) and the limits of the config."""

    table: PathwayTable
    config: PathwaysConfig = field(default_factory=PathwaysConfig)
    areas: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)


@dataclass
class PathwaySplit:
    kept: gpd.GeoDataFrame       # the parcels' pieces still candidate land, with PATHWAY_COLUMNS
    removed: gpd.GeoDataFrame    # pieces the limits removed, with `reason`
    unknown: UnknownCodes
    area_acres: dict[str, float]  # acres of candidate land each area layer spoke for


def check_areas(areas: dict[str, gpd.GeoDataFrame], table: PathwayTable) -> None:
    """Every polygon's instrument is one the table defines: else one line naming file and row."""
    for name, frame in areas.items():
        bad = ~frame["pathway"].isin(list(table.instruments))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            row = int(frame["row"].iloc[i]) if "row" in frame.columns else i + 1
            known = ", ".join(sorted(table.instruments))
            raise DataError(f"row {row}: pathway {frame['pathway'].iloc[i]!r} is not an "
                            f"instrument of the land-pathway table ({known})",
                            file=frame.attrs.get("path", name), field="pathway")


def _disjoint_areas(areas: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """All areas in order, each cut by those before it, with the layer they came from."""
    frames = [f.assign(layer=name)[["layer", *_AREA_COLUMNS, "geometry"]]
              for name, f in areas.items() if len(f)]
    if not frames:
        return gpd.GeoDataFrame({c: [] for c in ("layer", *_AREA_COLUMNS)}, geometry=[], crs=CRS)
    allof = pd.concat(frames, ignore_index=True)
    geoms = np.array(allof.geometry.values, dtype=object)
    taken = None
    for i, g in enumerate(geoms):
        cut = g if taken is None else shapely.difference(g, taken)
        taken = g if taken is None else shapely.union(taken, g)
        geoms[i] = cut
    out = gpd.GeoDataFrame(allof.drop(columns="geometry"), geometry=list(geoms), crs=CRS)
    return out[~shapely.is_empty(out.geometry.values)].reset_index(drop=True)


def _apply_area(row: pd.Series, table: PathwayTable) -> tuple:
    """A piece's PATHWAY_COLUMNS once its area has spoken: `override` replaces the pathway; `add`
    offers one more instrument, taken as the pathway when it is faster (never on closed land)."""
    inst = table.instruments[row["area_pathway"]]
    given = (row["area_months_low"], row["area_months_high"])
    low, high = given if np.isfinite(given[0]) else (inst.months or (np.nan, np.nan))
    rule = f"area {row['area_layer']}: {row['area_name']}"
    others = [c for c in str(row["pathway_instruments"] or "").split() if c != row["area_pathway"]]
    mine = (row["area_pathway"], inst.label, rule, inst.kind != "none", inst.nepa, float(low),
            float(high), " ".join([row["area_pathway"], *others]))
    if row["area_mode"] == "override" or row["pathway"] is None or pd.isna(row["pathway"]):
        return mine
    current = tuple(row[c] for c in PATHWAY_COLUMNS)
    if row["pathway_available"] is False:
        return (*current[:-1], " ".join([*str(current[-1]).split(), row["area_pathway"]]))
    faster = (low + high) / 2 < (row["pathway_months_low"] + row["pathway_months_high"]) / 2
    if faster or not np.isfinite(row["pathway_months_low"]):
        return mine
    return (*current[:-1], " ".join([*str(current[-1]).split(), row["area_pathway"]]))


def split_land(parcels: gpd.GeoDataFrame, land: LandPathways) -> PathwaySplit:
    """The parcels' pieces with their pathways (split by the user's areas), and the pieces the
    config's limits remove with the reason for each."""
    resolved, unknown = resolve_pathways(parcels, land.table)
    pieces = gpd.GeoDataFrame(pd.concat([parcels.drop(columns=[c for c in PATHWAY_COLUMNS
                                                               if c in parcels.columns]),
                                         resolved], axis=1), geometry="geometry", crs=CRS)
    area_acres: dict[str, float] = {}
    areas = _disjoint_areas(land.areas)
    if len(areas) and len(pieces):
        check_areas(land.areas, land.table)
        renamed = areas.rename(columns={c: f"area_{c}" for c in ("layer", *_AREA_COLUMNS)})
        pieces = gpd.overlay(pieces, renamed, how="identity", keep_geom_type=True)
        inside = pieces["area_pathway"].notna().to_numpy()
        if inside.any():
            values = [_apply_area(r, land.table) for _, r in pieces[inside].iterrows()]
            for j, col in enumerate(PATHWAY_COLUMNS):
                column = pieces[col].to_numpy(dtype=object).copy()
                column[inside] = [v[j] for v in values]
                pieces[col] = column
            acres = shapely.area(pieces.geometry.values[inside]) / 4046.8564224
            for name, a in pd.Series(acres).groupby(pieces["area_layer"][inside].to_numpy()).sum().items():
                area_acres[str(name)] = round(float(a), 1)
        pieces = pieces.drop(columns=[c for c in pieces.columns if c.startswith("area_")])
        for col in ("pathway_months_low", "pathway_months_high"):
            pieces[col] = pd.to_numeric(pieces[col], errors="coerce").astype(float)
    reasons = _limit_reasons(pieces, land.config)
    hit = reasons.notna().to_numpy()
    removed = gpd.GeoDataFrame({"reason": reasons[hit].to_numpy(dtype=object)},
                               geometry=pieces.geometry.values[hit], crs=CRS)
    kept = pieces[~hit].reset_index(drop=True)
    return PathwaySplit(kept, removed, unknown, area_acres)


def _limit_reasons(pieces: pd.DataFrame, cfg: PathwaysConfig) -> pd.Series:
    """Why each piece leaves the candidate land (None where it stays): unavailable first, then an
    excluded instrument, then the months limit."""
    reasons = pd.Series([None] * len(pieces), index=pieces.index, dtype=object)
    if not len(pieces):
        return reasons
    pathway = pieces["pathway"]
    if cfg.exclude_unavailable:
        closed = pieces["pathway_available"].map(lambda v: v is False).astype(bool)
        reasons[closed] = [f"land not available ({rule})" for rule in pieces.loc[closed, "pathway_rule"]]
    if cfg.exclude_pathways:
        codes = {c.lower() for c in cfg.exclude_pathways}
        hit = pathway.isin(codes) & reasons.isna()
        reasons[hit] = [f"land pathway {p} excluded" for p in pathway[hit]]
    if cfg.max_months is not None:
        months = typical_months(pieces["pathway_months_low"].to_numpy(dtype=float),
                                pieces["pathway_months_high"].to_numpy(dtype=float),
                                cfg.months_basis)
        slow = (months > cfg.max_months) & reasons.isna().to_numpy()
        reasons[slow] = [f"land pathway {p} takes {m:g} months > max {cfg.max_months:g}"
                         for p, m in zip(pathway[slow], months[slow], strict=True)]
    return reasons


def pathways_at_sites(cells: gpd.GeoDataFrame, land_layer: gpd.GeoDataFrame,
                      land: LandPathways) -> tuple[gpd.GeoDataFrame, UnknownCodes]:
    """A shortlist's sites with the pathway of the land under each one's centre (the user's
    areas applied; the limits remove nothing: the sites are the planner's own). A site on no
    parcel of the layer has no pathway."""
    split = split_land(land_layer, LandPathways(land.table, PathwaysConfig(
        exclude_unavailable=False), land.areas))
    pieces = split.kept
    out = cells.copy()
    found = np.full(len(cells), -1)
    if len(pieces) and len(cells):
        src, dst = shapely.STRtree(pieces.geometry.values).query(
            shapely.point_on_surface(cells.geometry.values), predicate="intersects")
        order = np.lexsort((dst, src))
        src, dst = src[order], dst[order]
        first = np.r_[True, src[1:] != src[:-1]]
        found[src[first]] = dst[first]
    for col in PATHWAY_COLUMNS:
        values = pieces[col].to_numpy(dtype=object) if len(pieces) else np.array([], dtype=object)
        out[col] = [values[i] if i >= 0 else None for i in found]
    for col in ("pathway_months_low", "pathway_months_high"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out, split.unknown


def pathway_record(cells: gpd.GeoDataFrame, unknown: UnknownCodes | None,
                   area_acres: dict[str, float], land: LandPathways) -> dict:
    """What the manifest says of the run's pathways: the tables read, candidate acres by
    pathway, what each area layer set, the codes the table could not judge."""
    if "pathway" in cells.columns and len(cells):
        key = cells["pathway"].astype(object).where(cells["pathway"].notna(), "unknown")
        acres = cells["eligible_acres"].astype(float).groupby(key.to_numpy()).sum()
        by_pathway = {str(k): round(float(v), 1) for k, v in acres.sort_values(
            ascending=False, kind="stable").items()}
    else:
        by_pathway = {}
    return {"tables": list(land.table.sources),
            "months_basis": land.config.months_basis,
            "limits": {"exclude_unavailable": land.config.exclude_unavailable,
                       "exclude_pathways": list(land.config.exclude_pathways),
                       "max_months": land.config.max_months},
            "candidate_acres_by_pathway": by_pathway,
            "area_layers_acres": dict(area_acres),
            "unknown": unknown.record() if unknown is not None else None,
            "unknown_parcels": unknown.total() if unknown is not None else 0}
