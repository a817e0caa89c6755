"""Dense low-zoom tiles lose no area: a z8 tile of 13 700 small SYNTHETIC parcels, drawn and measured.

Each parcel (50 m squares, a coverage with gaps, four AR5 classes) is a sixteenth of a pixel at z8, so the
old renderer dropped them all. The tile is decoded with mapbox-vector-tile and the drawn area per class is
compared with the true area of the parcels inside the tile (projected with PROJ + morecantile, nothing of
ours), on the GeoPackage store and on PostGIS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store
from maps.coverage import measure, rectangles
from maps.mvt import EXTENT
from maps.tiles import TILE_BUDGET, TMS, render_layer
from tests.postgis_cluster import Cluster

X0, Y0 = 520_000.0, 6_600_000.0  # west of Kongsberg, EPSG:25832
CLASSES = (21, 22, 23, 30)


def parcels() -> gpd.GeoDataFrame:
    """SYNTHETIC: 50 m squares on a 140 x 140 grid, 30 % left out, random AR5 class."""
    rng = np.random.default_rng(8)
    xs, ys = (a.ravel() for a in np.meshgrid(np.arange(140), np.arange(140)))
    present = rng.random(len(xs)) > 0.3
    xs, ys = xs[present], ys[present]
    geoms = shapely.box(X0 + xs * 50.0, Y0 + ys * 50.0, X0 + (xs + 1) * 50.0, Y0 + (ys + 1) * 50.0)
    return gpd.GeoDataFrame({"arealtype": rng.choice(CLASSES, len(xs)), "navn": "syntetisk"},
                            geometry=geoms, crs=25832)


def tile_of(z: int) -> tuple[int, int]:
    t = TMS.tile(*Transformer.from_crs(25832, 4326, always_xy=True).transform(X0 + 3500, Y0 + 3500), z)
    return t.x, t.y


def true_areas(frame: gpd.GeoDataFrame, z: int, x: int, y: int) -> dict[int, float]:
    """Area per class inside tile (z, x, y), in tile units², projected by PROJ and morecantile."""
    b = TMS.xy_bounds(x, y, z)
    coords = shapely.get_coordinates(frame.geometry.values)
    mx, my = Transformer.from_crs(25832, 3857, always_xy=True).transform(coords[:, 0], coords[:, 1])
    units = np.column_stack(((mx - b.left) / (b.right - b.left) * EXTENT, (b.top - my) / (b.top - b.bottom) * EXTENT))
    geoms = shapely.set_coordinates(np.array(frame.geometry.values, dtype=object), units)
    areas = shapely.area(shapely.clip_by_rect(geoms, 0, 0, EXTENT, EXTENT))
    return {c: float(areas[frame["arealtype"].to_numpy() == c].sum()) for c in CLASSES}


def drawn_areas(data: bytes, layer: str) -> dict[int, float]:
    """Area per class drawn by the decoded tile inside the tile square (parts of a feature do not overlap)."""
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})[layer]
    out: dict[int, float] = {}
    for feature in decoded["features"]:
        geom = shapely.clip_by_rect(shape(feature["geometry"]), 0, 0, EXTENT, EXTENT)
        parts = getattr(geom, "geoms", [geom])
        cls = feature["properties"]["arealtype"]
        out[cls] = out.get(cls, 0.0) + sum(p.area for p in parts)
    return out


def assert_no_holes(store: Store) -> None:
    frame = parcels()
    store.publish("jord", frame, LayerMeta(LayerKind.farmland, "Syntetisk jord"))
    record = store.get_layer("jord").current
    for z in (8, 9):
        x, y = tile_of(z)
        data = render_layer(store, record, z, x, y, ["arealtype", "navn"])
        assert 0 < len(data) <= TILE_BUDGET
        true, drawn = true_areas(frame, z, x, y), drawn_areas(data, "jord")
        assert sum(drawn.values()) == pytest.approx(sum(true.values()), rel=0.02), z
        for cls in CLASSES:  # each class keeps its area too
            assert drawn.get(cls, 0.0) == pytest.approx(true[cls], rel=0.05), (z, cls)


def test_dense_z8_tile_keeps_its_area_on_the_geopackage(tmp_path: Path) -> None:
    assert_no_holes(GeoPackageStore(tmp_path / "ws"))


@pytest.fixture
def postgis_store(postgis_cluster: Cluster) -> Iterator[Store]:
    from layers.postgis_store import PostGISStore

    store = PostGISStore(postgis_cluster.new_database(), pool_size=1)
    yield store
    store.close()


def test_dense_z8_tile_keeps_its_area_on_postgis(postgis_store: Store) -> None:
    assert_no_holes(postgis_store)


def test_coverage_cells_keep_area_and_merge_full_rows() -> None:
    """Two classes side by side over whole cells, one L-shaped polygon crossing cells, a small one inside."""
    geoms = np.array([shapely.box(0, 0, 64, 32), shapely.box(0, 32, 64, 64),
                      shapely.Polygon([(64, 0), (100, 0), (100, 10), (74, 10), (74, 40), (64, 40)]),
                      shapely.box(90, 50, 93, 53)], dtype=object)
    cells = measure(geoms, ["a", "b", "a", "c"], -64, 128)
    assert cells.areas.sum(axis=(1, 2)).tolist() == pytest.approx([64 * 32 + 36 * 10 + 10 * 30, 64 * 32, 9])
    boxes, cls = rectangles(cells)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i, expected in enumerate([64 * 32 + 36 * 10 + 10 * 30, 64 * 32, 9]):
        assert area[cls == i].sum() == pytest.approx(expected, abs=4 * 8)  # rounding of stripe edges
    # full cells merge along each row: class b is four rectangles 64 x 8; class a's rows run on into the
    # cells the L-shape fills (x 64-72) as one rectangle each
    assert boxes[cls == 1].tolist() == [[0, 32, 64, 40], [0, 40, 64, 48], [0, 48, 64, 56], [0, 56, 64, 64]]
    starts = boxes[(cls == 0) & (boxes[:, 0] == 0)]
    assert starts[:, 1].tolist() == [0, 8, 16, 24] and (starts[:, 2] >= 72).all()
