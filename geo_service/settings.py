"""Service settings: environment variables prefixed ``GEO_SERVICE_`` or a ``geo-service.toml`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Everything the service can be configured with; built once and handed to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_", toml_file="geo-service.toml", extra="ignore")

    workspace: Path = Field(Path("workspace"), description="GeoPackage workspace folder (the embedded store)")
    database_url: str | None = Field(None, description="postgresql://… switches the store to PostGIS")
    database_pool_size: int = Field(8, ge=1, description="most PostGIS connections per process (worker)")
    seed_demo: bool = Field(True, description="seed the synthetic demo data when the workspace is empty")
    title: str = "Kongsbergregionen – næringsarealer og innsigelsesrisiko"
    description: str = ("Site-availability and planning service for Kongsbergregionen: zoning, constraints, "
                        "objection risk and business areas as OGC API – Features.")
    rules_file: Path | None = Field(None, description="rule-set override (YAML/TOML); default WORKSPACE/rules.yaml")
    sites_config: Path | None = Field(
        None, description="site-portfolio override (road speeds, drive-time bands; YAML); default WORKSPACE/sites.yaml")
    analysis_refresh_seconds: float = Field(
        5.0, ge=0, description="how often the server checks whether derived layers are stale (0: never)")
    default_limit: int = Field(100, ge=1)
    max_limit: int = Field(10_000, ge=1)
    tile_cache_bytes: int = Field(256 * 2**20, ge=0, description="memory for cached vector tiles, per worker (bytes)")
    tile_cache_dir: Path | None = Field(None, description="folder for the disk tier of the tile cache (shared by workers)")
    tile_cache_control: str = Field("public, no-cache", description="Cache-Control of tiles; ETags make revalidation cheap")
    basemap_url: str | None = Field(
        "https://cache.kartverket.no/v1/wmts/1.0.0/topo/default/webmercator/{z}/{y}/{x}.png",
        description="XYZ/WMTS basemap template of the maps; empty: no basemap (no request leaves the machine)")
    basemap_attribution: str = Field("© Kartverket", description="attribution shown for the basemap")
    map_inline_limit: int = Field(5_000, ge=0, description="layer previews up to this many features are inline "
                                                            "GeoJSON; larger ones are drawn from vector tiles")

    # -- limits and security (README "Limits and security") ----------------------------------------------
    public_url: str | None = Field(
        None, description="the service's public base URL (https://kart.example.no/geo); every link starts with it")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        ["localhost", "127.0.0.1", "[::1]", "testserver"],
        description="Host header values answered (others: 400); '*' allows any; the host of public_url is added")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        [], description="client addresses whose Forwarded / X-Forwarded-* headers are believed ('*': any)")
    max_body_bytes: int = Field(5 * 2**20, ge=1024, description="largest request body (413 beyond)")
    max_header_bytes: int = Field(16 * 2**10, ge=1024, description="largest request header block (431 beyond)")
    site_max_vertices: int = Field(50_000, ge=4, description="most vertices of a site to check (413 beyond)")
    site_max_parts: int = Field(500, ge=1, description="most polygons in a MultiPolygon site (413 beyond)")
    site_max_holes: int = Field(1_000, ge=0, description="most holes of a site, all parts together (413 beyond)")
    site_max_area_km2: float = Field(100.0, gt=0, description="largest site area in km² (400 beyond)")
    site_check_concurrency: int = Field(2, ge=1, description="site checks computed at once per worker")
    site_check_queue: int = Field(8, ge=0, description="site checks waiting for a slot per worker (503 beyond)")
    site_check_wait_seconds: float = Field(
        10.0, ge=0, description="longest wait for a slot before 503 with Retry-After")
    site_check_budget_seconds: float = Field(
        20.0, gt=0, description="time budget of one site check; past it the check stops with 413")
    frame_ancestors: str = Field(
        "'self'", description="CSP frame-ancestors: who may embed the pages ('none', 'self' or origins)")
    shutdown_seconds: float = Field(3.0, ge=0, description="grace for open requests on SIGTERM")
    shutdown_deadline_seconds: float = Field(
        9.0, gt=0, description="after SIGTERM the process exits by this many seconds, whatever it waits for")

    @field_validator("allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """``a,b`` (environment variable) or a list (TOML, arguments)."""
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    def hosts(self) -> list[str]:
        """The Host header values answered: ``allowed_hosts`` plus the host of ``public_url``."""
        hosts = list(self.allowed_hosts)
        if self.public_url:
            from urllib.parse import urlsplit

            host = urlsplit(self.public_url).hostname
            if host and host not in hosts:
                hosts.append(host)
        return hosts

    def effective_rules_file(self) -> Path | None:
        """The rule override in force: ``rules_file``, else ``rules.yaml``/``rules.toml`` in the workspace."""
        if self.rules_file is not None:
            return self.rules_file
        for name in ("rules.yaml", "rules.yml", "rules.toml"):
            if (self.workspace / name).is_file():
                return self.workspace / name
        return None

    def effective_sites_config(self) -> Path | None:
        """The site-portfolio override in force: ``sites_config``, else ``sites.yaml`` in the workspace."""
        if self.sites_config is not None:
            return self.sites_config
        path = self.workspace / "sites.yaml"
        return path if path.is_file() else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments win over environment variables, which win over ``geo-service.toml``."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
