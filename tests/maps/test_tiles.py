"""Vector tiles in the domain: the MVT encoder, the tile grid and projection, rendering from a GeoPackage store,
the size budget on the demo region, the version-keyed cache and the archive export.

Tiles are decoded with real decoders: mapbox-vector-tile and GDAL's MVT driver (through pyogrio).
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, box, shape

from layers.errors import InvalidQuery
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from maps.export import ExportError, archive_info, export_tiles, tippecanoe_binary
from maps.mvt import EXTENT, encode_layer, encode_varints, varint_sizes
from maps.tile_cache import TileCache, TileEntry, TileKey, gzip_bytes
from maps.tiles import (
    TILE_BUDGET,
    TMS,
    TileOutOfRange,
    TileService,
    check_tile,
    parse_properties,
    render_layer,
    tile_frame,
)

X0, Y0 = 536_000.0, 6_614_000.0  # near Kongsberg town, EPSG:25832
TO_3857 = Transformer.from_crs(25832, 3857, always_xy=True)
TO_4326 = Transformer.from_crs(25832, 4326, always_xy=True)


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def expected_tile_xy(x: float, y: float, z: int, tx: int, ty: int) -> tuple[float, float]:
    """Where a working-CRS point lands in tile (tx, ty) at z, in tile units: PROJ + morecantile, nothing of ours."""
    mx, my = TO_3857.transform(x, y)
    b = TMS.xy_bounds(tx, ty, z)
    return (mx - b.left) / (b.right - b.left) * EXTENT, (b.top - my) / (b.top - b.bottom) * EXTENT


def tile_of(x: float, y: float, z: int) -> tuple[int, int]:
    lon, lat = TO_4326.transform(x, y)
    t = TMS.tile(lon, lat, z)
    return t.x, t.y


# -- encoder -------------------------------------------------------------------------------------------------
def test_varints_match_protobuf_rules() -> None:
    values = np.array([0, 1, 127, 128, 300, 16_383, 16_384, 2**32 - 1, 2**63], dtype=np.uint64)
    assert varint_sizes(values).tolist() == [1, 1, 1, 2, 2, 2, 3, 5, 10]
    assert encode_varints(values[:5]) == bytes([0, 1, 127, 0x80, 0x01, 0xAC, 0x02])


def test_encoder_geometry_types_ids_and_attributes_roundtrip() -> None:
    geoms = np.array([
        Polygon([(10, 10), (100, 10), (100, 100), (10, 100)], [[(20, 20), (20, 30), (30, 30), (30, 20)]]),
        Point(5, 7),
        MultiPoint([(1, 1), (2, 2)]),
        LineString([(0, 0), (50, 50), (50.2, 50.1), (60, 70)]),  # the third point rounds onto the second
        MultiPolygon([box(200, 200, 300, 300), box(400, 400, 410, 410)]),
        box(0, 0, 0.2, 0.2),  # collapses on the integer grid: left out
    ], dtype=object)
    columns = {"n": [1, -2, None, 2**40, 5, 6], "s": ["x", "y", "x", None, "Åsen", "q"],
               "f": [1.5, None, 2.5, 3.5, float("nan"), 0.0], "b": [True, False, None, True, True, True]}
    layer = decode(encode_layer("lag", geoms, np.array([11, 12, 13, 14, 15, 16]), columns))["lag"]
    assert layer["extent"] == EXTENT and layer["version"] == 2
    got = {f["id"]: f for f in layer["features"]}
    assert sorted(got) == [11, 12, 13, 14, 15]
    assert got[11]["properties"] == {"n": 1, "s": "x", "f": 1.5, "b": True}
    assert got[12]["properties"] == {"n": -2, "s": "y", "b": False}
    assert got[13]["properties"] == {"s": "x", "f": 2.5}  # None and NaN leave the attribute out
    assert got[14]["properties"] == {"n": 2**40, "f": 3.5, "b": True}
    assert got[15]["properties"]["s"] == "Åsen"
    assert got[11]["geometry"]["type"] == "Polygon" and len(got[11]["geometry"]["coordinates"]) == 2
    assert got[12]["geometry"] == {"type": "Point", "coordinates": [5, 7]}
    assert got[13]["geometry"] == {"type": "MultiPoint", "coordinates": [[1, 1], [2, 2]]}
    assert got[14]["geometry"] == {"type": "LineString", "coordinates": [[0, 0], [50, 50], [60, 70]]}
    assert got[15]["geometry"]["type"] == "MultiPolygon"
    assert shape(got[11]["geometry"]).area == 90 * 90 - 10 * 10
    # True and 1 are different values: a bool column and an int column must not share a value entry
    both = decode(encode_layer("l", np.array([Point(1, 1)], dtype=object), None, {"i": [1], "b": [True]}))
    assert both["l"]["features"][0]["properties"] == {"i": 1, "b": True}


def test_encoder_winding_order_follows_the_spec() -> None:
    """Exterior rings have positive surveyor's area in tile coordinates (y down), holes negative."""
    clockwise = Polygon([(10, 10), (10, 100), (100, 100), (100, 10)])  # either input order comes out right
    data = encode_layer("w", np.array([clockwise, shapely.reverse(clockwise)], dtype=object))
    for feature in decode(data)["w"]["features"]:
        ring = np.array(feature["geometry"]["coordinates"][0], dtype=float)
        x, y = ring[:, 0], ring[:, 1]
        assert (x[:-1] * y[1:] - x[1:] * y[:-1]).sum() > 0
    with_hole = decode(encode_layer("h", np.array([box(0, 0, 50, 50).difference(box(10, 10, 20, 20))])))
    hole = np.array(with_hole["h"]["features"][0]["geometry"]["coordinates"][1], dtype=float)
    assert (hole[:-1, 0] * hole[1:, 1] - hole[1:, 0] * hole[:-1, 1]).sum() < 0


def test_encoder_agrees_with_mapbox_vector_tile() -> None:
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, EXTENT, (300, 2))
    angles = np.sort(rng.uniform(0, 2 * np.pi, (300, 12)), axis=1)
    radii = rng.uniform(20, 60, (300, 12))
    rings = np.stack([centres[:, :1] + radii * np.cos(angles), centres[:, 1:] + radii * np.sin(angles)], axis=-1)
    polygons = shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))
    codes = rng.choice([21, 22, 23, 30], 300).tolist()
    ours = decode(encode_layer("ar5", polygons, np.arange(300), {"arealtype": codes}))["ar5"]["features"]
    reference = mapbox_vector_tile.encode(
        [{"name": "ar5", "features": [{"geometry": g.wkt, "properties": {"arealtype": c}, "id": i}
                                      for i, (g, c) in enumerate(zip(polygons, codes, strict=True))]}],
        default_options={"y_coord_down": True})
    theirs = decode(reference)["ar5"]["features"]
    assert [f["id"] for f in ours] == [f["id"] for f in theirs]
    assert [f["properties"] for f in ours] == [f["properties"] for f in theirs]
    same = 0
    for a, b in zip(ours, theirs, strict=True):
        ring_a, ring_b = a["geometry"]["coordinates"][0], b["geometry"]["coordinates"][0]
        same += {tuple(p) for p in ring_a} == {tuple(p) for p in ring_b}
        assert abs(shape(a["geometry"]).area - shape(b["geometry"]).area) <= 2.0
    assert same >= 0.97 * len(ours)  # the rest differ by a repeated point the reference keeps


def test_gdal_reads_an_encoded_tile(tmp_path: Path) -> None:
    geoms = np.array([box(100, 100, 200, 200), Point(50, 60), LineString([(0, 0), (4000, 4000)])], dtype=object)
    data = encode_layer("blandet", geoms, np.array([1, 2, 3]), {"navn": ["åker", "gravhaug", "veg"]})
    path = tmp_path / "tile.pbf"
    path.write_bytes(data)
    frame = pyogrio.read_dataframe(path, layer="blandet")
    assert sorted(frame["navn"]) == ["gravhaug", "veg", "åker"]
    assert sorted(frame["mvt_id"].astype(int)) == [1, 2, 3]


def test_empty_input_is_an_empty_tile() -> None:
    assert encode_layer("tom", np.array([], dtype=object)) == b""
    assert encode_layer("tom", np.array([Polygon()], dtype=object)) == b""


# -- grid and projection -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("z", "x", "y", "parameter"), [(25, 0, 0, "z"), (-1, 0, 0, "z"), (3, 8, 0, "x"),
                                                         (3, 0, 8, "y"), (0, 0, -1, "y")])
def test_check_tile_names_the_parameter(z: int, x: int, y: int, parameter: str) -> None:
    with pytest.raises(TileOutOfRange) as caught:
        check_tile(z, x, y)
    assert caught.value.parameter == parameter
    check_tile(24, 2**24 - 1, 0)


@pytest.mark.parametrize("z", [8, 10, 12, 14, 16])
def test_tile_projection_matches_proj(z: int) -> None:
    """The fitted polynomial stays within a hundredth of a tile unit of PROJ over the buffered tile."""
    tx, ty = tile_of(X0, Y0, z)
    frame = tile_frame(z, tx, ty)
    assert frame.coeffs is not None
    minx, miny, maxx, maxy = frame.source_bbox
    rng = np.random.default_rng(z)
    xy = np.column_stack([rng.uniform(minx, maxx, 2000), rng.uniform(miny, maxy, 2000)])
    expected = np.array([expected_tile_xy(x, y, z, tx, ty) for x, y in xy])
    assert np.abs(frame.to_tile(xy) - expected).max() < 0.01


def test_source_bbox_covers_the_buffered_tile() -> None:
    tx, ty = tile_of(X0, Y0, 13)
    frame = tile_frame(13, tx, ty)
    minx, miny, maxx, maxy = frame.source_bbox
    for corner in ((minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy)):
        px, py = expected_tile_xy(*corner, 13, tx, ty)
        assert px < -64 or px > EXTENT + 64 or py < -64 or py > EXTENT + 64  # corners lie outside the buffer


def test_parse_properties() -> None:
    assert parse_properties(None) is None
    assert parse_properties("") == ()
    assert parse_properties("a, b,a") == ("a", "b")


# -- rendering from a store ----------------------------------------------------------------------------------
def fields() -> gpd.GeoDataFrame:
    """Four 200 m fields in a row and one 5 m shed, EPSG:25832."""
    geoms = [box(X0 + i * 200, Y0, X0 + (i + 1) * 200, Y0 + 200) for i in range(4)] + [box(X0, Y0 + 500, X0 + 5,
                                                                                            Y0 + 505)]
    return gpd.GeoDataFrame({"arealtype": [21, 22, 23, 30, 11], "navn": ["a", "b", "c", "d", "låve"],
                             "dyrka": [True, True, False, False, False]}, geometry=geoms, crs=25832)


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("jorder", fields(), LayerMeta(LayerKind.farmland, "Jorder"))
    return store


def test_known_polygon_lands_in_the_right_tile_at_the_right_pixels(store: GeoPackageStore) -> None:
    record = store.get_layer("jorder").current
    z = 15
    cx, cy = X0 + 100, Y0 + 100  # centre of the first field
    tx, ty = tile_of(cx, cy, z)
    layer = decode(render_layer(store, record, z, tx, ty, ["arealtype", "navn", "dyrka"]))["jorder"]
    feature = next(f for f in layer["features"] if f["id"] == 1)
    assert feature["properties"] == {"arealtype": 21, "navn": "a", "dyrka": True}
    ring = np.array(feature["geometry"]["coordinates"][0], dtype=float)
    corners = np.array([expected_tile_xy(x, y, z, tx, ty) for x, y in
                        [(X0, Y0), (X0 + 200, Y0), (X0 + 200, Y0 + 200), (X0, Y0 + 200)]])
    inside = (corners >= -64) & (corners <= EXTENT + 64)
    for corner in corners[inside.all(axis=1)]:  # every corner inside the buffered tile is a vertex (±1 unit)
        assert np.abs(ring - corner).sum(axis=1).min() <= 2
    centroid = shapely.centroid(shape(feature["geometry"]))
    if inside.all():
        ex, ey = expected_tile_xy(cx, cy, z, tx, ty)
        assert math.hypot(centroid.x - ex, centroid.y - ey) < 1.5
    # a tile elsewhere at the same zoom does not have it
    far = decode(render_layer(store, record, z, tx + 3, ty, ["arealtype"]))
    assert all(f["id"] != 1 for f in far.get("jorder", {"features": []})["features"])


def test_features_are_clipped_to_the_buffered_tile(store: GeoPackageStore) -> None:
    record = store.get_layer("jorder").current
    z = 17  # 200 m fields span several tiles here
    tx, ty = tile_of(X0 + 400, Y0 + 100, z)
    layer = decode(render_layer(store, record, z, tx, ty, []))["jorder"]
    for feature in layer["features"]:
        coords = np.array(shape(feature["geometry"]).exterior.coords)
        assert coords.min() >= -64 and coords.max() <= EXTENT + 64
        assert feature["properties"] == {}


def test_sub_pixel_features_are_dropped_at_low_zoom(store: GeoPackageStore) -> None:
    record = store.get_layer("jorder").current
    z = 11
    tx, ty = tile_of(X0, Y0, z)
    ids = {f["id"] for f in decode(render_layer(store, record, z, tx, ty, ["navn"]))["jorder"]["features"]}
    assert ids == {1, 2, 3, 4}  # the 5 m shed is a sixteenth of a 512 px tile pixel at z11
    tx, ty = tile_of(X0, Y0 + 502, 18)
    ids = {f["id"] for f in decode(render_layer(store, record, 18, tx, ty, ["navn"]))["jorder"]["features"]}
    assert 5 in ids


def test_scan_limit_keeps_the_largest_envelopes(store: GeoPackageStore) -> None:
    record = store.get_layer("jorder").current
    everything = store.scan(record, (X0 - 1000, Y0 - 1000, X0 + 2000, Y0 + 2000), ["navn"])
    assert everything.ids.tolist() == [1, 2, 3, 4, 5]
    largest = store.scan(record, (X0 - 1000, Y0 - 1000, X0 + 2000, Y0 + 2000), ["navn"], limit=4)
    assert largest.ids.tolist() == [1, 2, 3, 4] and largest.columns["navn"] == ["a", "b", "c", "d"]


def test_unknown_property_is_refused(store: GeoPackageStore) -> None:
    record = store.get_layer("jorder").current
    with pytest.raises(InvalidQuery) as caught:
        store.scan(record, (0, 0, 1, 1), ["nope"])
    assert caught.value.parameter == "properties"


def test_current_versions_sees_commits_of_other_connections(store: GeoPackageStore, tmp_path: Path) -> None:
    assert store.current_versions() == {"jorder": 1}
    other = GeoPackageStore(tmp_path / "ws")  # another process would look the same: another connection
    other.publish("jorder", fields(), LayerMeta(LayerKind.farmland, "Jorder"))
    assert store.current_versions() == {"jorder": 2}
    other.rollback("jorder", 1)
    assert store.current_versions() == {"jorder": 1}
    store.publish("kulturminner", gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs=25832),
                  LayerMeta(LayerKind.heritage))
    assert store.current_versions() == {"jorder": 1, "kulturminner": 1}


# -- size budget on the demo region --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> GeoPackageStore:
    from layers.seed import publish_demo

    store = GeoPackageStore(tmp_path_factory.mktemp("demo") / "ws")
    publish_demo(store)
    return store


@pytest.mark.parametrize("layer_id", ["ar5", "arealplan", "vassdrag"])
def test_low_zoom_tiles_hold_the_size_budget(demo_store: GeoPackageStore, layer_id: str) -> None:
    """Every tile at z5-z9 over the whole region stays within TILE_BUDGET (500 kB), and still draws the layer."""
    layer = demo_store.get_layer(layer_id)
    to_4326 = Transformer.from_crs(25832, 4326, always_xy=True)
    west, south, east, north = to_4326.transform_bounds(*layer.current.bbox)
    total = 0
    for z in range(5, 10):
        for t in TMS.tiles(west, south, east, north, [z]):
            data = render_layer(demo_store, layer.current, z, t.x, t.y, list(layer.current.fields))
            assert len(data) <= TILE_BUDGET, (z, t.x, t.y, len(data))
            total += len(decode(data)[layer_id]["features"]) if data else 0
    assert total > layer.current.feature_count / 4


def test_a_tighter_budget_is_held_by_generalising_more(demo_store: GeoPackageStore) -> None:
    layer = demo_store.get_layer("ar5")
    lon, lat = TO_4326.transform(536_616.0, 6_614_840.0)  # Kongsberg
    t = TMS.tile(lon, lat, 9)
    full = render_layer(demo_store, layer.current, 9, t.x, t.y, ["arealtype"])
    small = render_layer(demo_store, layer.current, 9, t.x, t.y, ["arealtype"], budget=len(full) // 3)
    assert 0 < len(small) <= len(full) // 3
    assert len(decode(small)["ar5"]["features"]) > 0


# -- cache ---------------------------------------------------------------------------------------------------
def key(i: int, version: int = 1) -> TileKey:
    return TileKey((("jorder", version),), 14, i, 0)


def test_lru_bound_is_respected() -> None:
    entry_size = TileEntry(b"x" * 1000).size
    cache = TileCache(max_bytes=entry_size * 5)
    for i in range(20):
        cache.put(key(i), TileEntry(b"x" * 1000))
        assert cache.bytes <= cache.max_bytes
    assert len(cache) == 5 and cache.evictions == 15
    assert cache.get(key(15)) is not None and cache.get(key(14)) is None
    cache.put(key(99), TileEntry(b"y" * 1000))  # evicts the least recently used: 16, not 15
    assert cache.get(key(16)) is None and cache.get(key(15)) is not None
    cache.put(key(100), TileEntry(b"z" * (entry_size * 6)))  # larger than the whole cache: not kept
    assert cache.get(key(100)) is None and cache.bytes <= cache.max_bytes


def test_gzip_form_is_counted_and_stable() -> None:
    cache = TileCache(max_bytes=10**6)
    entry = cache.put(key(1), TileEntry(b"abc" * 1000))
    before = cache.bytes
    packed = cache.gzipped(key(1), entry)
    assert packed == gzip_bytes(b"abc" * 1000) and cache.bytes == before + len(packed)
    assert cache.gzipped(key(1), entry) is packed


def test_versions_are_different_keys() -> None:
    cache = TileCache()
    cache.put(key(1, version=1), TileEntry(b"old"))
    assert cache.get(key(1, version=2)) is None
    assert TileEntry(b"old").etag != TileEntry(b"new").etag


def test_service_uses_the_disk_tier_across_restarts(store: GeoPackageStore, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    layer = store.get_layer("jorder")
    tx, ty = tile_of(X0, Y0, 14)
    first = TileService(store, TileCache(disk_dir=tmp_path / "tiles"))
    _, rendered = first.layer_tile(layer, 14, tx, ty)
    assert rendered.data and list((tmp_path / "tiles" / "jorder").rglob("*.mvt"))

    def no_rendering(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("rendered although the tile was on disk")

    monkeypatch.setattr("maps.tiles.render_layer", no_rendering)
    second = TileService(store, TileCache(disk_dir=tmp_path / "tiles"))  # a new worker: empty memory
    _, from_disk = second.layer_tile(layer, 14, tx, ty)
    assert from_disk.data == rendered.data and from_disk.etag == rendered.etag
    assert second.cached(["jorder"], 14, tx, ty) is not None


def test_concurrent_requests_for_one_tile_render_it_once(store: GeoPackageStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    import maps.tiles

    real, calls = maps.tiles.render_layer, []

    def slow(*args: object, **kwargs: object) -> bytes:
        calls.append(1)
        time.sleep(0.2)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("maps.tiles.render_layer", slow)
    service = TileService(store, TileCache())
    layer = store.get_layer("jorder")
    tx, ty = tile_of(X0, Y0, 14)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(service.layer_tile(layer, 14, tx, ty)[1].data))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 4 and len(set(results)) == 1 and results[0]


def test_service_serves_the_new_version_after_publish_and_rollback(store: GeoPackageStore) -> None:
    service = TileService(store, TileCache())
    tx, ty = tile_of(X0, Y0, 14)

    def names() -> set[str]:
        _, entry = service.layer_tile(store.get_layer("jorder"), 14, tx, ty, ("navn",))
        assert service.cached(["jorder"], 14, tx, ty, ("navn",))[1] is entry
        return {f["properties"]["navn"] for f in decode(entry.data)["jorder"]["features"]}

    assert "a" in names()
    renamed = fields().assign(navn=["A2", "B2", "C2", "D2", "L2"])
    store.publish("jorder", renamed, LayerMeta(LayerKind.farmland, "Jorder"))
    assert service.cached(["jorder"], 14, tx, ty, ("navn",)) is None  # the cached tile is of version 1
    assert "A2" in names() and "a" not in names()
    store.rollback("jorder", 1)
    assert "a" in names()


# -- export --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".pmtiles", ".mbtiles"])
@pytest.mark.parametrize("engine", ["tippecanoe", "gdal"])
def test_export_archive_is_readable_back(store: GeoPackageStore, tmp_path: Path, suffix: str, engine: str) -> None:
    if engine == "tippecanoe" and tippecanoe_binary() is None:
        pytest.skip("tippecanoe is not installed")
    out = tmp_path / f"jorder{suffix}"
    report = export_tiles(store, store.get_layer("jorder"), out, minzoom=10, maxzoom=14, engine=engine)  # type: ignore[arg-type]
    assert report.engine == engine and report.features == 5 and out.stat().st_size == report.bytes
    info = archive_info(out)
    assert info.layers == ["jorder"] and (info.minzoom, info.maxzoom) == (10, 14) and info.tiles >= 5
    frame = pyogrio.read_dataframe(out, layer="jorder")  # GDAL opens both formats
    assert {"a", "b", "c", "d"} <= set(frame["navn"])
    if engine == "tippecanoe":
        assert set(frame["mvt_id"].astype(int)) >= {1, 2, 3, 4}  # feature ids kept


def test_export_refuses_other_formats(store: GeoPackageStore, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"\.pmtiles or \.mbtiles"):
        export_tiles(store, store.get_layer("jorder"), tmp_path / "jorder.zip")
    with pytest.raises(ExportError, match="zoom range"):
        export_tiles(store, store.get_layer("jorder"), tmp_path / "jorder.pmtiles", minzoom=9, maxzoom=3)
