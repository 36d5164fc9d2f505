"""Each role's study (the config with its preset applied), and the one study that measures what
every role needs: each distinct metric (metric, layer, filter, parameters) once, so a metric two
presets share is computed once for both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config, CriterionConfig, SitesConfig, WeightsConfig, load_config
from ..config.network import NetworkConfig, RoleConfig
from ..errors import ConfigError, SitescoreError


@dataclass
class RoleStudy:
    """One role: its settings, the study config with its preset applied, and for each of its
    criteria the name of the measured metric (the shared study's criterion) it reads."""

    name: str
    spec: RoleConfig
    cfg: Config
    jobs: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"network.roles.{self.name}"

    @property
    def preset_name(self) -> str:
        return Path(self.spec.preset).stem


def network_of(cfg: Config) -> NetworkConfig:
    """The config's `network:` section, or the one-line error saying it has none."""
    if cfg.network is None:
        raise ConfigError("the config has no 'network:' section (roles, counts, constraints); "
                          "see README 'Networks of parks'", file=cfg.source_path, key="network")
    return cfg.network


def load_roles(cfg: Config) -> dict[str, RoleStudy]:
    """Each role's study: the network config's file loaded again with the role's preset."""
    net = network_of(cfg)
    if cfg.source_path is None:
        raise ConfigError("a network applies each role's preset to its config file: load the "
                          "config with load_config", key="network")
    roles: dict[str, RoleStudy] = {}
    for name, spec in net.roles.items():
        key = f"network.roles.{name}.preset"
        try:
            role_cfg = load_config(cfg.source_path, preset=spec.preset)
        except ConfigError as exc:
            if exc.key == "preset":  # not found: name the role's key, not the study's
                message = str(exc).split("config key 'preset': ", 1)[-1]
                raise ConfigError(message, file=cfg.where(key), key=key) from None
            raise _for_role(exc, name, spec.preset) from None
        except SitescoreError as exc:
            raise _for_role(exc, name, spec.preset) from None
        roles[name] = RoleStudy(name, spec, role_cfg)
    _name_jobs(roles)
    return roles


def _for_role(exc: SitescoreError, role: str, preset: str) -> SitescoreError:
    """An error in a role's preset, saying which role applied it."""
    prefix = ": ".join(str(p) for p in (exc.file, f"config key '{exc.key}'" if exc.key else None,
                                        f"field '{exc.field}'" if exc.field else None) if p)
    message = str(exc).removeprefix(prefix + ": ") if prefix else str(exc)
    return type(exc)(f"{message} (preset {preset} of role '{role}')", file=exc.file,
                     key=exc.key, field=exc.field)


def job_key(crit: CriterionConfig) -> str:
    """What makes two criteria the same measurement: metric, layer, filter and parameters."""
    return json.dumps([crit.metric, crit.layer, crit.where, crit.params], sort_keys=True,
                      default=str)


def _name_jobs(roles: dict[str, RoleStudy]) -> None:
    """Give each distinct measurement one name (the first criterion's, made unique)."""
    by_key: dict[str, str] = {}
    taken: set[str] = set()
    for role in roles.values():
        for name, crit in role.cfg.criteria.items():
            k = job_key(crit)
            if k not in by_key:
                job = name if name not in taken else f"{name}.{role.name}"
                by_key[k] = job
                taken.add(job)
            role.jobs[name] = by_key[k]


def measuring_config(cfg: Config, roles: dict[str, RoleStudy]) -> Config:
    """The study that measures every role's metrics once over the study's candidate cells: the
    roles' distinct criteria, equally weighted, no constraints (each role applies its own),
    one site (the roles grow their own)."""
    criteria: dict[str, CriterionConfig] = {}
    for role in roles.values():
        for name, crit in role.cfg.criteria.items():
            job = role.jobs[name]
            if job not in criteria:
                criteria[job] = crit.model_copy(update={"weight": 1.0})
    # a role preset's readiness cost needs its costs section: the study's own, else the first
    # role's (one cost model measures every role's readiness criterion)
    costs = cfg.costs or next((r.cfg.costs for r in roles.values() if r.cfg.costs), None)
    return cfg.model_copy(update={
        "criteria": criteria, "constraints": [], "weights": WeightsConfig(), "costs": costs,
        "aggregation": "weighted_sum", "sensitivity": None, "min_weight_kept": 0.0,
        "sites": SitesConfig(max_sites=1, min_spacing_km=0.0,
                             min_site_acres=min(r.cfg.sites.min_site_acres for r in roles.values())),
        "preset": None, "network": None, "notes": [], "ahp": None})
