"""Low zooms from the per-version coverage grid (``maps.lowzoom``): a SYNTHETIC dense layer (13 700 parcels of
50 m, four AR5 classes, from ``test_tiles_coverage``) drawn at z8 and z9 from the grid keeps its area per class
within 2 % of the true area (PROJ + morecantile, decoded with mapbox-vector-tile); the grid is measured once
per version, shared through its file, and a new version gets a new grid and new tiles."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from maps.coverage import measure
from maps.lowzoom import LowZoomGrids
from maps.tile_cache import TileCache
from maps.tiles import TILE_BUDGET, TileService
from tests.maps.test_tiles_coverage import CLASSES, drawn_areas, parcels, tile_of, true_areas


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeoPackageStore, gpd.GeoDataFrame]:
    store = GeoPackageStore(tmp_path_factory.mktemp("lowzoom") / "ws")
    frame = parcels()
    store.publish("jord", frame, LayerMeta(LayerKind.farmland, "Syntetisk jord"))
    return store, frame


def test_grid_tiles_keep_the_area_of_each_class(published: tuple[GeoPackageStore, gpd.GeoDataFrame],
                                                tmp_path: Path) -> None:
    store, frame = published
    record = store.get_layer("jord").current
    grids = LowZoomGrids(store, tmp_path / "grids", min_features=1_000)
    for z in (8, 9):
        x, y = tile_of(z)
        data = grids.tile(record, z, x, y, ["arealtype", "navn"], "jord")
        assert data is not None and 0 < len(data) <= TILE_BUDGET
        true, drawn = true_areas(frame, z, x, y), drawn_areas(data, "jord")
        assert sum(drawn.values()) == pytest.approx(sum(true.values()), rel=0.02), z
        for cls in CLASSES:
            assert drawn[cls] == pytest.approx(true[cls], rel=0.02), (z, cls)
    assert grids.built == 1  # both zooms from one measurement
    assert grids.tile(record, 10, *tile_of(10), ["arealtype"], "jord") is None  # above the grid: features
    # another process (or a restart) loads the file instead of measuring again, and draws the same bytes
    again = LowZoomGrids(store, tmp_path / "grids", min_features=1_000)
    x, y = tile_of(8)
    assert again.tile(record, 8, x, y, ["arealtype"], "jord") == grids.tile(record, 8, x, y, ["arealtype"], "jord")
    assert again.built == 0
    # without the class among the properties the cells carry no attribute
    bare = again.tile(record, 8, x, y, [], "jord")
    assert bare is not None and b"arealtype" not in bare and b"generalised" in bare


def test_grid_cells_equal_the_cells_measured_from_the_tile_itself(
        published: tuple[GeoPackageStore, gpd.GeoDataFrame]) -> None:
    """The grid summed up to z8 holds, cell by cell, what measuring the tile's own features gives."""
    store, _ = published
    record = store.get_layer("jord").current
    from maps.tiles import BUFFER, EXTENT, clip_to_tile, project, tile_frame

    grid = LowZoomGrids(store, None, min_features=1_000).grid(record)
    z, (x, y) = 8, tile_of(8)
    frame = tile_frame(z, x, y)
    found = store.scan(record, frame.source_bbox, ["arealtype"])
    project(found.geometries, frame)
    features = clip_to_tile(found.geometries)
    direct = measure(features.geometries, [found.columns["arealtype"][i] for i in features.index], -BUFFER,
                     EXTENT + BUFFER)
    from_grid = grid.cells(z, x, y)
    order = [from_grid.classes.index(c) for c in direct.classes]
    inner = np.s_[:, 8:-8, 8:-8]  # the grid is measured on z9 tiles: compare inside the tile square
    assert np.abs(from_grid.areas[order][inner] - direct.areas[inner]).max() < 0.5  # units² of 64 per cell
    assert from_grid.areas[order][inner].sum() == pytest.approx(direct.areas[inner].sum(), rel=1e-3)


def test_a_new_version_gets_a_new_grid_and_new_tiles(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    frame = parcels()
    store.publish("jord", frame, LayerMeta(LayerKind.farmland, "Syntetisk jord"))
    tiles = TileService(store, TileCache(), LowZoomGrids(store, tmp_path / "grids", min_features=1_000))
    z, (x, y) = 8, tile_of(8)
    _, before = tiles.layer_tile(store.get_layer("jord"), z, x, y)
    assert set(drawn_areas(before.data, "jord")) == set(CLASSES)
    # version 2: only the western half, all of it one class
    west = frame[shapely.bounds(frame.geometry.values)[:, 0] < frame.total_bounds[0] + 3500].copy()
    west["arealtype"] = 23
    store.publish("jord", west, LayerMeta(LayerKind.farmland, "Syntetisk jord"))
    _, after = tiles.layer_tile(store.get_layer("jord"), z, x, y)
    drawn = drawn_areas(after.data, "jord")
    assert set(drawn) == {23}
    assert drawn[23] == pytest.approx(true_areas(west.assign(arealtype=21), z, x, y)[21], rel=0.02)
    assert len(list((tmp_path / "grids" / "jord").iterdir())) == 2  # one grid file per version
