"""Low-zoom tiles of big polygon layers from a coverage grid made once per published version.

A z8 tile of 200 000 farmland parcels holds ~90 000 of them: reading, projecting and measuring them for each
low-zoom tile costs seconds. Instead, once per layer version, every polygon is measured once into a sparse
grid of class areas (``maps.coverage.measure``) on the z9 cell grid (cells of ``CELL`` units of a z9 tile:
2¹⁸ cells around the world, ~75 m on the ground in Norway), walking the layer's z9 tiles one at a time so
memory stays bounded. A tile at z ≤ 9 is then a sum of grid cells (``CoverageGrid.cells``) drawn as
coverage cells (``maps.coverage.encode_cells``): no feature is read, and the drawn area per class is the
true area up to the rounding of stripe edges, as for a tile measured from its own features.

Only layers with at least ``GRID_MIN_FEATURES`` polygons use it; smaller ones are rendered from their
features (``maps.tiles.render_layer``), which stays fast at that size. The grid is kept in memory per worker
and, with a folder (the tile cache's disk tier, else the GeoPackage workspace), as a ``.npz`` file per
version that workers and restarts share: one worker builds it under a file lock, the others load it.
Without it, a grid is built by the first request that needs it. With a disk tier configured, each worker
also starts ``LowZoomGrids.prepare`` for the current versions at start-up (one builds, the others load), and
``geo-service tiles seed`` builds it with the tiles it seeds: the low zooms are ready before anyone asks.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layers.crs import bounds_to_crs84
from layers.store import Store, VersionRecord
from maps.coverage import CoverageCells, encode_cells, measure
from maps.mvt import EXTENT
from maps.tile_cache import version_folder
from maps.tiles import (
    BUFFER,
    COVERAGE_MAX_ZOOM,
    MAX_FEATURES,
    TILE_BUDGET,
    TMS,
    class_field,
    project,
    tile_frame,
)

LOG = logging.getLogger(__name__)
GRID_ZOOM = COVERAGE_MAX_ZOOM  # the grid is measured on tiles of this zoom
CELL = 8  # tile units of a GRID_ZOOM tile per grid cell
CELLS = EXTENT // CELL  # cells per tile side
GRID_FORMAT = 2  # in the file name: a grid file of another format is never read
GRID_MIN_FEATURES = 20_000  # polygon layers at least this big draw z <= GRID_ZOOM from the grid
_POLYGONAL = ("Polygon", "MultiPolygon", "POLYGON", "MULTIPOLYGON")


@dataclass(frozen=True)
class CoverageGrid:
    """Area per class of one layer version on the global grid of ``CELL``-unit cells at ``GRID_ZOOM`` (sparse).

    ``row``/``col`` count cells from the top-left corner of WebMercatorQuad (entries sorted by row); ``area`` is
    in tile units² of a ``GRID_ZOOM`` tile; ``cls`` indexes ``classes``, the values of ``field``.
    """

    field: str | None
    classes: list[Any]
    cls: np.ndarray
    row: np.ndarray
    col: np.ndarray
    area: np.ndarray

    def cells(self, z: int, x: int, y: int) -> CoverageCells:
        """Class areas of tile (z, x, y), z <= ``GRID_ZOOM``, on its own ``CELL``-unit cells, buffer included."""
        factor = 1 << (GRID_ZOOM - z)
        pad = BUFFER // CELL
        n = CELLS + 2 * pad
        first, last = np.searchsorted(self.row, [(y * CELLS - pad) * factor, ((y + 1) * CELLS + pad) * factor])
        rows = slice(int(first), int(last))  # entries are sorted by row: the tile's rows are one slice
        r = self.row[rows] // factor - (y * CELLS - pad)
        c = self.col[rows] // factor - (x * CELLS - pad)
        inside = (c >= 0) & (c < n)
        k = max(1, len(self.classes))
        flat = (self.cls[rows][inside] * n + r[inside]) * n + c[inside]
        areas = np.bincount(flat, weights=self.area[rows][inside], minlength=k * n * n).reshape(k, n, n)
        return CoverageCells(-BUFFER, CELL, areas * 4.0 ** (z - GRID_ZOOM), self.classes)

    def save(self, path: Path) -> None:
        """Write atomically (temporary file + rename) as ``.npz``; class values as text with their type."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp.npz")
        kinds = np.array([type(v).__name__ for v in self.classes])
        values = np.array(["" if v is None else str(v) for v in self.classes])
        np.savez(tmp, field=np.array(self.field or ""), kinds=kinds, values=values, cls=self.cls, row=self.row,
                 col=self.col, area=self.area)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> CoverageGrid:
        with np.load(path, allow_pickle=False) as f:
            types: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "bool": lambda v: v == "True",
                                                      "str": str, "NoneType": lambda v: None}
            classes = [types.get(k, str)(v) for k, v in zip(f["kinds"].tolist(), f["values"].tolist(), strict=True)]
            return cls(str(f["field"]) or None, classes, f["cls"], f["row"], f["col"], f["area"])


def uses_grid(record: VersionRecord, min_features: int = GRID_MIN_FEATURES) -> bool:
    """Whether low-zoom tiles of this version come from a coverage grid (big polygon layers)."""
    return record.feature_count >= min_features and record.geometry_type in _POLYGONAL


def build_grid(store: Store, record: VersionRecord) -> CoverageGrid:
    """Measure every polygon of ``record`` once into its ``CoverageGrid``, one ``GRID_ZOOM`` tile at a time.

    Each tile's cells are measured without a buffer (polygons are clipped at the tile edge), so the tiles
    partition the plane and no area is counted twice.
    """
    field = class_field(record.fields)
    index: dict[Any, int] = {}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    west, south, east, north = bounds_to_crs84(record.bbox)
    for t in TMS.tiles(west, south, east, north, [GRID_ZOOM]):
        frame = tile_frame(GRID_ZOOM, t.x, t.y)
        found = store.scan(record, frame.source_bbox, [field] if field else [], limit=MAX_FEATURES)
        if not len(found.ids):
            continue
        project(found.geometries, frame)
        classes = found.columns[field] if field else [None] * len(found.ids)
        cells = measure(found.geometries, classes, 0, EXTENT, CELL)
        k, r, c = np.nonzero(cells.areas > 1e-9)
        if not len(k):
            continue
        to_global = np.array([index.setdefault(v, len(index)) for v in cells.classes], dtype=np.int32)
        parts.append((to_global[k], r + t.y * CELLS, c + t.x * CELLS, cells.areas[k, r, c]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return CoverageGrid(field, [], empty.astype(np.int32), empty, empty, np.zeros(0))
    cls, row, col, area = (np.concatenate(a) for a in zip(*parts, strict=True))
    order = np.lexsort((col, row))  # by row: a tile's rows are one slice (``CoverageGrid.cells``)
    return CoverageGrid(field, list(index), cls[order], row[order].astype(np.int64), col[order].astype(np.int64),
                        area[order])


class LowZoomGrids:
    """The coverage grids of the layer versions in use, built once each (single flight per process, a file
    lock between processes sharing ``folder``), and low-zoom tiles drawn from them."""

    def __init__(self, store: Store, folder: Path | None = None, budget: int = TILE_BUDGET,
                 min_features: int = GRID_MIN_FEATURES) -> None:
        self.store = store
        self.folder = folder
        self.budget = budget
        self.min_features = min_features
        self._grids: dict[tuple[str, int, str], CoverageGrid] = {}
        self._building: dict[tuple[str, int, str], threading.Event] = {}
        self._lock = threading.Lock()
        self.built = 0  # grids measured by this process (the others were loaded)

    def tile(self, record: VersionRecord, z: int, x: int, y: int, names: Iterable[str], name: str) -> bytes | None:
        """Tile (z, x, y) of ``record`` from its grid, or None when this version and zoom do not use one."""
        if z > GRID_ZOOM or not uses_grid(record, self.min_features):
            return None
        grid = self.grid(record)
        field = grid.field if grid.field in set(names) else None
        cells = grid.cells(z, x, y)
        if not cells.areas.any():
            return b""
        return encode_cells(name, cells, field, self.budget)

    def grid(self, record: VersionRecord) -> CoverageGrid:
        """The version's grid: from memory, else from its file, else measured now (once)."""
        key = (record.layer_id, record.version, record.location)
        while True:
            with self._lock:
                grid = self._grids.get(key)
                if grid is not None:
                    return grid
                busy = self._building.get(key)
                if busy is None:
                    self._building[key] = threading.Event()
            if busy is None:
                break
            busy.wait()
        try:
            grid = self._load_or_build(record)
            with self._lock:
                for old in [k for k in self._grids if k[0] == record.layer_id]:  # keep one version per layer
                    del self._grids[old]
                self._grids[key] = grid
            return grid
        finally:
            with self._lock:
                self._building.pop(key).set()

    def prepare(self, records: Iterable[VersionRecord]) -> threading.Thread:
        """Build (or load) the grids of ``records`` that need one, on a background thread (requests for a grid
        being built wait for it rather than build it again)."""
        todo = [r for r in records if uses_grid(r, self.min_features)]

        def run() -> None:
            for record in todo:
                try:
                    self.grid(record)
                except Exception:  # a request builds it again and reports the error
                    LOG.warning("coverage grid of %s version %s not built", record.layer_id, record.version,
                                exc_info=True)

        thread = threading.Thread(target=run, name="coverage-grids", daemon=True)
        thread.start()
        return thread

    def path(self, record: VersionRecord) -> Path | None:
        if self.folder is None:
            return None
        return (self.folder / record.layer_id / version_folder(record.version, record.location)
                / f"coverage-grid-{GRID_FORMAT}.npz")

    def _load_or_build(self, record: VersionRecord) -> CoverageGrid:
        path = self.path(record)
        if path is None:
            self.built += 1
            return build_grid(self.store, record)
        try:
            return CoverageGrid.load(path)
        except (OSError, ValueError, KeyError):
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:  # one process builds, the others wait and load
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return CoverageGrid.load(path)
            except (OSError, ValueError, KeyError):
                grid = build_grid(self.store, record)
                self.built += 1
                try:
                    grid.save(path)
                except OSError:  # a read-only or full disk only costs the sharing
                    pass
                return grid
