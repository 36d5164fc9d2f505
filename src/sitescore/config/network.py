"""The `network:` section: a network of specialised parks chosen together (issue 14).

Each role names a scenario preset (how its sites are scored), how many parks it needs and what
each park asks of the grid; the constraints tie the parks together (states, spacing, shared
generation, links by road). `sitescore network CONFIG` solves the choice exactly (a
mixed-integer programme); the models here only say what a config may write.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Longest link a config may ask for, km: coast to coast by road is about 4,500 km.
MAX_LINK_KM = 5000.0
#: Longest reach of shared generation, km (the longest distance any radius may be elsewhere).
MAX_POWER_RADIUS_KM = 1000.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


def _keyed(key: str, message: str) -> ValueError:
    """A validation error naming its full config key (the loader gives it its YAML line)."""
    from .models import KeyedError  # models imports this module: imported when first needed

    return KeyedError(key, message)


class RoleCount(_Strict):
    """How many parks of a role the network holds: a number, or a range."""

    min: int = Field(ge=0, description="Fewest parks of this role.")
    max: int = Field(ge=1, description="Most parks of this role.")

    @model_validator(mode="after")
    def _ordered(self) -> RoleCount:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is more than max ({self.max})")
        return self


class RoleConfig(_Strict):
    """One kind of park: the preset its sites are scored by, how many, and what each asks."""

    preset: str = Field(description="Scenario preset scoring this role's sites: a name sitescore "
                                    "ships (semiconductor_fab, supply_chain_park, data_center, "
                                    "eo14141) or a preset file. Its criteria, constraints, "
                                    "candidate agencies and site size apply to this role.")
    count: RoleCount = Field(description="Parks of this role: a number (exactly that many) or "
                                         "{min, max}.")
    power_mw: float = Field(default=0.0, ge=0, description="Electric load of one park, MW (counted "
                            "against the generation around it: constraints.power_share).")
    water_mgd: float = Field(default=0.0, ge=0, description="Water use of one park, million "
                             "gallons a day (reported per park, state and in total).")
    weight: float = Field(default=1.0, gt=0, description="Weight of this role's scores in the "
                          "objective `weighted_by_role` (ignored by `sum_of_scores`).")

    @field_validator("count", mode="before")
    @classmethod
    def _number_or_range(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("a count is a whole number or {min, max}")
        if isinstance(v, int):
            if v < 1:
                raise ValueError(f"a role needs at least 1 park, not {v}")
            return {"min": v, "max": v}
        return v


class LinkConfig(_Strict):
    """Every park of role `from` has a park of role `to` within `max_km`."""

    from_role: str = Field(alias="from", description="The role whose every park needs the link.")
    to_role: str = Field(alias="to", description="The role one of whose parks must be in reach.")
    max_km: float = Field(gt=0, le=MAX_LINK_KM, description="Farthest the two parks may be, km.")
    by: Literal["freeway", "straight_line"] = Field(
        default="freeway",
        description="freeway: along the road layer (constraints.road_layer) as a graph, each park "
                    "joined to its nearest freeway vertex by a straight leg; straight_line: as "
                    "the crow flies. Without a road layer freeway links are measured straight "
                    "(said in the notes).")


class NetworkConstraints(_Strict):
    """What ties the parks together. Each is left out when not set."""

    max_per_state: int | None = Field(default=None, ge=1, description="Most parks in one state.")
    min_states: int | None = Field(default=None, ge=1, description="Fewest states the parks "
                                                                   "spread over.")
    power_share: float | None = Field(
        default=None, gt=0, le=1,
        description="For every park, the parks within power_radius_km of it (itself included) "
                    "together ask at most this share of the generating capacity within "
                    "power_radius_km of it (nameplate MW of the power layer).")
    power_radius_km: float | None = Field(default=None, gt=0, le=MAX_POWER_RADIUS_KM,
                                          description="Reach of shared generation, km (with "
                                                      "power_share).")
    power_layer: str = Field(default="power_plants", description="Layer of generating plants "
                             "(canonical capacity_mw) the power budget counts.")
    power_where: str | None = Field(default=None, description="Filter on the power layer, e.g. "
                                    "\"fuel_class == 'firm'\".")
    road_layer: str = Field(default="roads", description="Line layer freeway links run on.")
    road_where: str | None = Field(default=None, description="Filter on the road layer, e.g. "
                                   "\"road_class in ['interstate', 'freeway']\" (default: every "
                                   "line).")
    min_spacing_km: float | None = Field(
        default=None, ge=0, le=MAX_POWER_RADIUS_KM,
        description="Least distance between any two parks, edge to edge, km. Unset: two parks "
                    "keep the larger of their roles' `sites.min_spacing_km` (from the presets). "
                    "Parks never share land.")
    links: list[LinkConfig] = Field(default_factory=list, description="Parks of one role that need "
                                    "a park of another in reach.")

    @model_validator(mode="after")
    def _power_pair(self) -> NetworkConstraints:
        if self.power_share is not None and self.power_radius_km is None:
            raise _keyed("network.constraints.power_radius_km", "needed with power_share (the "
                         "reach of the generation the parks share)")
        if self.power_radius_km is not None and self.power_share is None:
            raise _keyed("network.constraints.power_share", "needed with power_radius_km")
        return self


class SolverConfig(_Strict):
    """How long the exact solver may search, and how close to the optimum it must prove."""

    time_limit_s: float = Field(default=120.0, gt=0, le=86_400, description="Wall-time limit of one "
                                "solve, s; at the limit the best network found is reported with "
                                "its gap.")
    mip_rel_gap: float = Field(default=1e-6, ge=0, lt=1, description="Relative gap to the proven "
                               "bound at which a network counts as optimal.")


class NetworkConfig(_Strict):
    """A distributed network of specialised parks, chosen together (`sitescore network`)."""

    roles: dict[str, RoleConfig] = Field(description="Each kind of park by name (fab, "
                                         "supply_chain, data_center, ...).")
    constraints: NetworkConstraints = Field(default_factory=NetworkConstraints)
    objective: Literal["sum_of_scores", "weighted_by_role"] = Field(
        default="sum_of_scores",
        description="Maximise the parks' summed scores (each under its role's preset), or the "
                    "sum weighted by each role's `weight`.")
    sites_per_role: int = Field(default=40, ge=1, le=5000, description="Candidate sites grown "
                                "under each role's preset (its best ones, spaced as the preset "
                                "says); every candidate is then scored under every role.")
    solver: SolverConfig = Field(default_factory=SolverConfig)

    @field_validator("roles")
    @classmethod
    def _some_roles(cls, v: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        if not v:
            raise ValueError("at least one role is needed")
        from .models import check_name

        for name in v:
            try:
                check_name(name, "role")
            except ValueError as exc:
                raise _keyed(f"network.roles.{name}", str(exc)) from None
        return v

    @model_validator(mode="after")
    def _links_name_roles(self) -> NetworkConfig:
        for i, link in enumerate(self.constraints.links):
            for attr, key in (("from_role", "from"), ("to_role", "to")):
                role = getattr(link, attr)
                if role not in self.roles:
                    raise _keyed(f"network.constraints.links[{i}].{key}",
                                 f"'{role}' is not a role (roles: {', '.join(self.roles)})")
            if link.from_role == link.to_role:
                raise _keyed(f"network.constraints.links[{i}].to", "a link joins two different roles")
        n_max = sum(r.count.max for r in self.roles.values())
        c = self.constraints
        if c.min_states is not None and c.min_states > n_max:
            raise _keyed("network.constraints.min_states", f"{c.min_states} states need at least "
                         f"as many parks, and the roles allow at most {n_max}")
        return self
