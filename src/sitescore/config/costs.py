"""The `costs:` section: what it takes to make a site ready, and what that costs.

Each connection names the layer whose nearest qualifying feature a park must reach (a line of
the needed voltage, a river, a freeway, Class I rail), what is built along the route (a class of
the unit-cost table) and what is built where it meets the feature. Demand (MW, million gallons a
day, lanes) picks the row of each class. Distances are km, areas acres; stages convert once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What a route is built as: a class of the unit-cost table priced per length.
LinearKind = Literal["transmission_line", "water_pipeline", "road_lane", "rail_spur"]
#: What is built where a route meets its feature: a class of the unit-cost table priced each.
FixedKind = Literal["new_substation", "substation_bay", "interchange"]
#: Most cells of one friction raster (a 7,000 x 6,000 state grid is 42 million).
MAX_RASTER_CELLS = 60_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CorridorConfig(_Strict):
    """Existing linear infrastructure a new route may follow for less: a line beside an existing
    line's right-of-way, a road on an existing track. Pixels within `width_km` of its features
    cost `multiplier` times their friction."""

    layer: str = Field(description="Layer of the existing features (e.g. transmission_lines).")
    where: str | None = Field(default=None, description="Filter on the layer, e.g. 'voltage_kv >= 115'.")
    width_km: float = Field(default=0.5, gt=0, le=10,
                            description="Pixels this near a feature count as alongside it.")
    multiplier: float | None = Field(
        default=None, gt=0, le=1,
        description="Friction alongside (0 < m <= 1); default the unit-cost table's "
                    "corridor_multipliers row for the connection's build, with its low/high.")


class ConnectionConfig(_Strict):
    """One connection a park needs: a route to the nearest qualifying feature of a layer."""

    layer: str = Field(description="Layer whose features the route reaches (e.g. transmission_lines).")
    where: str | None = Field(default=None, description="Filter on the layer, e.g. 'voltage_kv >= 345'.")
    build: LinearKind = Field(description="Unit-cost class the route is built as.")
    at_feature: list[FixedKind] = Field(
        default_factory=list,
        description="Unit-cost classes built where the route meets the feature, e.g. "
                    "[new_substation] on a line, [substation_bay] at a substation, [interchange].")
    along: list[CorridorConfig] = Field(
        default_factory=list,
        description="Existing corridors the route is cheaper along (first match wins where they "
                    "overlap).")
    label: str | None = Field(default=None, description="Name in the tables, popups and report "
                                                        "(default: the connection's name).")


class CostsConfig(_Strict):
    """Connection routes over a friction surface and their capital cost (`sitescore.costs`)."""

    connections: dict[str, ConnectionConfig] = Field(
        description="Connection name (power, water, road, rail, ...) -> what it reaches and builds.")
    unit_costs: str | None = Field(
        default=None,
        description="A unit-cost YAML (the shipped data/unit_costs.yaml's shape) whose classes "
                    "replace or add to the shipped ones; relative to the config file.")
    terrain: str | None = Field(
        default=None,
        description="DEM layer for slope; without it a route costs its routed length times the "
                    "table's route factor (said in the notes).")
    resolution_km: float = Field(default=0.25, ge=0.01, le=10,
                                 description="Cell edge of the friction raster, km.")
    margin_km: float = Field(default=100.0, gt=0, le=1000,
                             description="The raster reaches this far beyond the candidate cells: "
                                         "features further away are not reachable.")
    excluded_land: Literal["impassable"] | float = Field(
        default="impassable",
        description="Excluded land on a route: impassable, or a friction multiplier (>= 1).")
    power_mw: float = Field(default=1000.0, gt=0, description="Load to connect, MW (picks the "
                                                               "line and substation voltage).")
    voltage_kv: float | None = Field(default=None, gt=0, description="Line voltage, kV, instead of "
                                                                     "the one power_mw picks.")
    water_mgd: float = Field(default=5.0, gt=0, description="Water demand, million gallons a day "
                                                            "(picks the pipeline row).")
    road_lanes: int = Field(default=2, ge=1, le=12, description="Lanes of the access road.")
    site_acres: float | None = Field(default=None, gt=0, description="Acres graded per site (default: "
                                                                     "sites.min_site_acres).")
    grading: bool = Field(default=False, description="Price site grading by slope (needs the "
                                                     "site_grading class and a terrain layer).")
    max_cost_musd: float | None = Field(default=None, gt=0,
                                        description="Cells whose readiness cost (base, million $) "
                                                    "is above this are excluded.")
    draws: int = Field(default=1000, ge=10, le=100_000,
                       description="Monte Carlo draws of the unit costs per site.")
    seed: int = Field(default=0, description="Seed of the unit-cost draws: the same seed gives the "
                                             "same percentiles.")
    max_raster_cells: int = Field(default=MAX_RASTER_CELLS, ge=1,
                                  description="Most cells the friction raster may have.")
    search: Literal["auto", "exact", "corridor"] = Field(
        default="auto",
        description="Least-cost search: exact over the whole raster, or coarse to fine (a coarse "
                    "search, then the exact one within a corridor around its routes: the least "
                    "cost within that corridor); auto: exact up to 4 million raster cells.")
    workers: int = Field(default=1, ge=1, le=64,
                         description="Processes that route the connections at once (where the "
                                     "platform forks; 1: one after the other in this process).")

    @field_validator("connections")
    @classmethod
    def _some(cls, v: dict[str, ConnectionConfig]) -> dict[str, ConnectionConfig]:
        if not v:
            raise ValueError("at least one connection is needed (e.g. power: {layer: ..., "
                             "build: transmission_line})")
        return v

    @field_validator("excluded_land")
    @classmethod
    def _multiplier(cls, v: str | float) -> str | float:
        if not isinstance(v, str) and v < 1:
            raise ValueError(f"a friction multiplier on excluded land must be at least 1, not {v:g}")
        return v

    def layer_keys(self) -> list[tuple[str, str]]:
        """(config key, layer) of every layer the section names."""
        keys = [(f"costs.connections.{n}.layer", c.layer) for n, c in self.connections.items()]
        keys += [(f"costs.connections.{n}.along[{i}].layer", a.layer)
                 for n, c in self.connections.items() for i, a in enumerate(c.along)]
        return keys + ([("costs.terrain", self.terrain)] if self.terrain else [])

    def layer_names(self) -> list[str]:
        """Every layer the section reads: the connections', their corridors' and the terrain."""
        names = [c.layer for c in self.connections.values()]
        names += [a.layer for c in self.connections.values() for a in c.along]
        return list(dict.fromkeys(names + ([self.terrain] if self.terrain else [])))
