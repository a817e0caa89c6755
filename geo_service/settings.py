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
    sources_file: Path | None = Field(None, description="national sources override; default WORKSPACE/sources.yaml")
    sources_sync_hours: float = Field(0.0, ge=0, description="the server syncs enabled national sources this often "
                                                             "(hours; 0: never, use `geo-service sources sync`)")
    default_limit: int = Field(100, ge=1)
    max_limit: int = Field(10_000, ge=1)
    tile_cache_bytes: int = Field(256 * 2**20, ge=0, description="memory for cached vector tiles, per worker (bytes)")
    tile_cache_dir: Path | None = Field(None, description="folder for the disk tier of the tile cache (shared by workers)")
    tile_render_processes: int = Field(0, ge=0, le=64, description="processes per worker rendering cold GeoPackage tiles (0: threads of the worker)")
    tile_cache_control: str = Field("public, no-cache", description="Cache-Control of tiles; ETags make revalidation cheap")
    basemap_url: str | None = Field(
        "https://cache.kartverket.no/v1/wmts/1.0.0/topo/default/webmercator/{z}/{y}/{x}.png",
        description="XYZ/WMTS basemap template of the maps; empty: no basemap (no request leaves the machine)")
    basemap_attribution: str = Field("© Kartverket", description="attribution shown for the basemap")
    warm_maps: bool = Field(True, description="build the planner map's data and pages in the background at start and "
                                              "after each refresh, so the first visitor does not wait for them")
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

    # -- sign-in, roles, uploads and administration (README "Signing in, uploads and administration") --
    auth_required_for_read: bool = Field(False, description="readers must sign in too (default: reading is public)")
    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer (iss) whose bearer tokens are accepted")
    oidc_audience: str | None = Field(None, description="expected audience (aud) of bearer tokens: this API's id")
    oidc_jwks_url: str | None = Field(None, description="the issuer's JWKS; default: from its discovery document")
    oidc_algorithms: list[str] = Field(["RS256", "RS384", "RS512", "PS256", "ES256"],
                                       description="signature algorithms accepted (never 'none' or HMAC)")
    oidc_role_claim: str = Field("roles", description="claim holding the roles (Entra ID app roles: 'roles')")
    oidc_municipality_claim: str = Field("municipalities", description="claim holding the municipality codes")
    oidc_role_values: dict[str, str] = Field(
        {"reader": "reader", "editor": "editor", "admin": "admin",
         "GeoService.Reader": "reader", "GeoService.Editor": "editor", "GeoService.Admin": "admin"},
        description="claim value -> role (reader, editor, admin); the highest role named wins")
    oidc_leeway_seconds: int = Field(30, ge=0, le=300, description="clock skew allowed on exp/nbf/iat")
    session_secret: str | None = Field(None, description="signs session cookies; default: a random key kept in "
                                                         "WORKSPACE/.secrets (set it when replicas share sign-ins)")
    session_max_age_seconds: int = Field(8 * 3600, ge=60, description="how long a browser sign-in lasts")
    cors_origins: list[str] = Field([], description="origins allowed to read the API from a browser (CORS); "
                                                    "empty: CORS off")
    cors_allow_writes: bool = Field(False, description="let the CORS origins also call write routes")
    staging_dir: Path | None = Field(None, description="where uploads wait for review; default WORKSPACE/staging")
    upload_max_bytes: int = Field(512 * 2**20, ge=1, description="largest upload accepted (bytes)")
    upload_max_zip_entries: int = Field(2_000, ge=1, description="most entries in an uploaded zip")
    upload_max_uncompressed_bytes: int = Field(4 * 2**30, ge=1, description="largest total unzipped size")
    upload_max_compression_ratio: float = Field(200.0, ge=1, description="largest unzipped/zipped size ratio")
    upload_ingest_seconds: float = Field(300.0, gt=0, description="time limit for reading and checking an upload")
    upload_min_free_bytes: int = Field(512 * 2**20, ge=0, description="free disk space kept when staging")
    upload_expiry_hours: float = Field(24.0, gt=0, description="staged uploads not published are discarded after")
    layer_retention_days: float = Field(30.0, ge=0, description="removed layers can be restored for this long")
    region_bbox: tuple[float, float, float, float] = Field(
        (415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0),
        description="the region (EPSG:25832) layers are checked against when no municipality layer is published")

    def effective_staging_dir(self) -> Path:
        """Where uploads are staged for review."""
        return self.staging_dir if self.staging_dir is not None else self.workspace / "staging"

    def effective_rules_file(self) -> Path | None:
        """The rule override in force: ``rules_file``, else ``rules.yaml``/``rules.toml`` in the workspace."""
        if self.rules_file is not None:
            return self.rules_file
        for name in ("rules.yaml", "rules.yml", "rules.toml"):
            if (self.workspace / name).is_file():
                return self.workspace / name
        return None

    def effective_sources_file(self) -> Path | None:
        """The national-sources override in force: ``sources_file``, else ``sources.yaml`` in the workspace."""
        if self.sources_file is not None:
            return self.sources_file
        for name in ("sources.yaml", "sources.yml"):
            if (self.workspace / name).is_file():
                return self.workspace / name
        return None

    def sources_staging(self) -> Path:
        """Where partial downloads wait for the next sync (kept between runs)."""
        return self.workspace / ".sources-staging"

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
