"""The site portfolio for one server process: the register as a search table, the road network, isochrones.

Everything is cached by the versions it was built from: the search table by the ``sites`` version, the road
network by the road layer versions and the routing settings, isochrones by network and start node. A publish
(by any process) is seen on the next request; nothing stale is served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.settings import Settings
from layers.kinds import LayerKind
from layers.store import LayerRecord, Store, VersionRecord
from sites.config import SitesConfig, load_sites_config
from sites.drive_time import Isochrone, check_minutes, isochrones, workforce
from sites.errors import NoRoadNetwork, SiteNotFound
from sites.network import RoadNetwork, Snap, build_network
from sites.publish import SITES, refresh_sites
from sites.search import SiteTable

ISOCHRONE_CACHE_ENTRIES = 512


@dataclass(frozen=True)
class Portfolio:
    """One ``sites`` version: its catalog record, search table and frame indexed by site id."""

    record: LayerRecord
    table: SiteTable
    frame: gpd.GeoDataFrame


@dataclass(frozen=True)
class Network:
    """A road network with the key it was built for, and the population cells snapped to it."""

    key: tuple[object, ...]
    graph: RoadNetwork
    cells: Snap | None
    population: np.ndarray | None


@dataclass(frozen=True)
class DriveTime:
    """Isochrones from one start, with the population reached within each band."""

    network_key: tuple[object, ...]
    start: Snap
    bands: list[Isochrone]
    population: list[int | None]
    cached: bool = False


class SitesService:
    """Caches of the site portfolio; all methods are thread-safe."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._lock = threading.Lock()
        self._config: tuple[tuple[Path | None, float], SitesConfig] | None = None
        self._portfolio: Portfolio | None = None
        self._network: Network | None = None
        self._isochrones: OrderedDict[tuple[object, ...], DriveTime] = OrderedDict()

    def config(self) -> SitesConfig:
        """The effective configuration, reloaded when the override file appears, changes or goes away."""
        path = self.settings.effective_sites_config()
        key = (path, path.stat().st_mtime if path is not None and path.exists() else 0.0)
        cached = self._config
        if cached is None or cached[0] != key:
            self._config = cached = (key, load_sites_config(path))
        return cached[1]

    def refresh(self) -> list[VersionRecord]:
        """Republish ``sites`` if an input or the configuration changed."""
        return refresh_sites(self.store, self.config())

    def portfolio(self) -> Portfolio:
        """The current ``sites`` version as a search table (``LayerNotFound`` before the first refresh)."""
        record = self.store.get_layer(SITES)
        with self._lock:
            cached = self._portfolio
            if cached is None or cached.record.current.version != record.current.version:
                frame = self.store.read_frame(record.current)
                frame.index = pd.Index(frame["site_id"].astype(str), name="site_id")
                table = SiteTable.from_frame(frame.drop(columns="geometry"), record.current.version)
                self._portfolio = cached = Portfolio(record, table, frame)
            return cached

    def site(self, site_id: str) -> tuple[Portfolio, pd.Series]:
        """One site's row, or ``SiteNotFound`` naming it."""
        portfolio = self.portfolio()
        if site_id not in portfolio.frame.index:
            raise SiteNotFound(f"no site {site_id!r} in sites version {portfolio.record.current.version}; "
                               "ids look like ba-123 (business area) or pr-<layer>-<fid> (premises)")
        return portfolio, portfolio.frame.loc[site_id]

    # --- road network and drive times ---------------------------------------------------------------------

    def _inputs(self, kind: LayerKind) -> list[LayerRecord]:
        return sorted((r for r in self.store.list_layers() if r.kind == kind), key=lambda r: r.id)

    def network(self) -> Network:
        """The road network of the current road layers (built once per road/population version and settings)."""
        config = self.config()
        roads, people = self._inputs(LayerKind.road), self._inputs(LayerKind.population)
        key = (tuple((r.id, r.current.version) for r in roads), tuple((r.id, r.current.version) for r in people),
               config.network_hash())
        with self._lock:
            if self._network is not None and self._network.key == key:
                return self._network
        if not roads:
            raise NoRoadNetwork("no road layer is published; add one with `geo-service layers add VEG --kind road`")
        frames = [self.store.read_frame(r.current) for r in roads]
        lines = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
        graph = build_network(lines, config.routing)
        cells, pop = None, None
        if people:
            grid = pd.concat([self.store.read_frame(r.current) for r in people], ignore_index=True)
            if "pop_tot" in grid:
                centre = shapely.point_on_surface(grid.geometry.to_numpy())
                cells = graph.snap(shapely.get_x(centre), shapely.get_y(centre))
                pop = pd.to_numeric(grid["pop_tot"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        network = Network(key, graph, cells, pop)
        with self._lock:
            self._network = network
        return network

    def drive_time(self, x: float, y: float, minutes: list[int]) -> DriveTime:
        """Isochrones from a point in the working CRS (cached per network version, start node and minutes)."""
        minutes = check_minutes(minutes)
        network = self.network()
        start = network.graph.snap(np.array([x]), np.array([y]))
        key = (network.key, int(start.node[0]), round(float(start.access_s[0]), 1), tuple(minutes))
        with self._lock:
            hit = self._isochrones.get(key)
            if hit is not None:
                self._isochrones.move_to_end(key)
                return DriveTime(hit.network_key, start, hit.bands, hit.population, cached=True)
        bands = isochrones(network.graph, start, minutes)
        population: list[int | None] = [None] * len(minutes)
        if network.cells is not None and network.population is not None:
            reach = workforce(network.graph, start, network.cells, network.population, None, tuple(minutes))
            population = [int(v) for v in reach.population[0]]
        result = DriveTime(network.key, start, bands, population)
        with self._lock:
            self._isochrones[key] = result
            while len(self._isochrones) > ISOCHRONE_CACHE_ENTRIES:
                self._isochrones.popitem(last=False)
        return result
