"""Site-portfolio configuration as data: road speeds, access rules, reach bands, radii (``default_sites.yaml``)."""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sites.errors import SitesConfigError


class RoutingConfig(BaseModel):
    """How the road network is driven."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speeds_kmh: dict[str, float] = Field(description="free-flow speed per vegkategori (km/h)")
    access_speed_kmh: float = Field(gt=0)
    access_max_m: float = Field(ge=0)
    outside_speed_kmh: float = Field(gt=0)
    outside_detour_factor: float = Field(ge=1)
    node_precision_m: float = Field(gt=0)
    main_road_classes: tuple[str, ...]
    isochrone_buffer_m: float = Field(gt=0)
    isochrone_simplify_m: float = Field(ge=0)

    @field_validator("speeds_kmh")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad or not value:
            raise ValueError(f"every speed must be > 0 km/h and at least one class given; got {bad or value}")
        return {k.upper(): float(v) for k, v in value.items()}


class SitesConfig(BaseModel):
    """Everything the site register and drive times are computed with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routing: RoutingConfig
    workforce_minutes: tuple[int, ...]
    competence_radii_km: tuple[float, ...]
    competence_categories: tuple[str, ...]
    fibre_technologies: tuple[str, ...]
    site_statuses: tuple[str, ...]

    def hash(self) -> str:
        """A stable hash of the effective configuration (part of the ``sites`` provenance)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()

    def network_hash(self) -> str:
        """Hash of what the road network depends on (speeds and noding), for caching isochrones."""
        return hashlib.sha256(json.dumps(self.routing.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_sites_config(path: Path | None = None) -> SitesConfig:
    """The defaults, merged with the override file at ``path`` when given."""
    data = yaml.safe_load(files("sites").joinpath("default_sites.yaml").read_text(encoding="utf-8"))
    if path is not None:
        try:
            override = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SitesConfigError(f"{path}: cannot read the site configuration ({exc})") from None
        if not isinstance(override, dict):
            raise SitesConfigError(f"{path}: expected a mapping of settings at the top level")
        data = _merge(data, override)
    try:
        return SitesConfig.model_validate(data)
    except ValidationError as exc:
        where = f"{path}" if path is not None else "default_sites.yaml"
        raise SitesConfigError(f"{where}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
