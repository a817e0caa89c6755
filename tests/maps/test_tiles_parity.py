"""Vector tiles from both stores: the GeoPackage through the Python renderer (``Store.scan`` + ``maps.mvt``),
PostGIS through ``ST_AsMVT`` (``PostGISStore.mvt_tile``). Decoded with mapbox-vector-tile, the two must hold
the same features with the same ids and attributes, and the same shapes up to the tile grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest
from pyproj import Transformer
from shapely.geometry import shape

from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.store import Store
from maps.tile_cache import TileCache
from maps.tiles import COVERAGE_MAX_ZOOM, TILE_BUDGET, TMS, TileService, render_layer
from tests.postgis_cluster import Cluster

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
KOMMUNER = DATA / "kommuner-kartverket-robhop" / "kongsbergregionen_kommuner_2024_epsg25832.gpkg"
AR5_GML = DATA / "ar5-fkb-sample-valdres-vegvesen" / "FKB_AR5_Fv251Hellefossen.gml"
TO_4326 = Transformer.from_crs(25832, 4326, always_xy=True)
AR5_POINT = (538_600.0, 6_748_000.0)
KOMMUNE_POINT = (520_000.0, 6_640_000.0)


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}) if data else {}


def tile_at(point: tuple[float, float], z: int) -> tuple[int, int, int]:
    t = TMS.tile(*TO_4326.transform(*point), z)
    return z, t.x, t.y


@pytest.fixture(scope="module")
def loaded(postgis_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    """The real AR5 and municipality layers in a GeoPackage and a PostGIS store (read-only in these tests)."""
    if not DATA.is_dir():
        pytest.skip(f"real data folder {DATA} is missing (expected shared/data beside the repository)")
    from layers.postgis_store import PostGISStore  # psycopg: only once the cluster fixture said it is there

    stores = (GeoPackageStore(tmp_path_factory.mktemp("tiles") / "workspace"),
              PostGISStore(postgis_cluster.new_database(), pool_size=2))
    for store in stores:
        ingest(store, AR5_GML, "ar5", LayerKind.farmland, layer="ArealressursFlate")
        ingest(store, KOMMUNER, "kommuner", LayerKind.municipality)
    yield stores
    stores[1].close()


def _features(tile: dict, layer: str) -> dict[int, dict]:
    return {f["id"]: f for f in tile.get(layer, {}).get("features", [])}


def assert_same_tile(a: bytes, b: bytes, layer: str) -> int:
    """Same ids and attributes; each feature covers the same ground up to the tile grid; area sums agree."""
    fa, fb = _features(decode(a), layer), _features(decode(b), layer)
    assert sorted(fa) == sorted(fb)
    total_a = total_b = 0.0
    for fid in fa:
        assert fa[fid]["properties"] == fb[fid]["properties"], fid
        ga, gb = shape(fa[fid]["geometry"]), shape(fb[fid]["geometry"])
        assert gb.is_valid, fid  # ST_AsMVTGeom makes valid geometry
        if not ga.is_valid:  # the Python encoder may hand a tiny sliver a self-touching ring: nothing to compare
            continue
        total_a, total_b = total_a + ga.area, total_b + gb.area
        # the outlines differ by the grid snap and simplification: up to about a tile unit along the edge
        assert ga.symmetric_difference(gb).area <= max(0.1 * ga.area, 1.5 * ga.length, 64.0), fid
    assert total_b == pytest.approx(total_a, rel=0.05)
    return len(fa)


@pytest.mark.parametrize("z", [6, 9, 12, 14, 16])
def test_farmland_tiles_match(loaded: tuple[Store, Store], z: int) -> None:
    gpkg, pg = loaded
    z, x, y = tile_at(AR5_POINT, z)
    ra, rb = gpkg.get_layer("ar5").current, pg.get_layer("ar5").current
    names = ["arealtype", "gml_id", "datafangstdato"]
    a, b = render_layer(gpkg, ra, z, x, y, names), render_layer(pg, rb, z, x, y, names)
    if z <= COVERAGE_MAX_ZOOM:  # low zooms are made by the same Python renderer from either store
        assert a == b and len(decode(a)["ar5"]["features"]) >= 1
        return
    assert assert_same_tile(a, b, "ar5") > 10


def test_tile_service_over_both_stores(loaded: tuple[Store, Store]) -> None:
    services = [TileService(store, TileCache(8 * 2**20)) for store in loaded]
    z, x, y = tile_at(KOMMUNE_POINT, 8)
    tiles = [service.layer_tile(store.get_layer("kommuner"), z, x, y)[1].data for service, store in
             zip(services, loaded, strict=True)]
    assert assert_same_tile(*tiles, "kommuner") >= 2
    names = _features(decode(tiles[1]), "kommuner")
    assert {f["properties"]["kommunenavn"] for f in names.values()} >= {"Kongsberg"}

    # several collections in one tile, and a subset of the properties
    z, x, y = tile_at(AR5_POINT, 11)
    multi = [service.tile([store.get_layer("kommuner"), store.get_layer("ar5")], z, x, y)[1].data
             for service, store in zip(services, loaded, strict=True)]
    assert list(decode(multi[0])) == list(decode(multi[1])) == ["ar5"]  # AR5 lies north of the region
    assert_same_tile(*multi, "ar5")
    subset = [service.layer_tile(store.get_layer("ar5"), z, x, y, ("arealtype",))[1].data
              for service, store in zip(services, loaded, strict=True)]
    assert {tuple(f["properties"]) for f in _features(decode(subset[1]), "ar5").values()} == {("arealtype",)}
    assert_same_tile(*subset, "ar5")

    # no feature there: an empty tile from both
    z, x, y = tile_at((400_000.0, 7_000_000.0), 12)
    assert [service.layer_tile(store.get_layer("ar5"), z, x, y)[1].data for service, store in
            zip(services, loaded, strict=True)] == [b"", b""]
    # tiles are cached under the current version; PostGIS is asked for it on every call
    assert services[1].cached(["ar5"], z, x, y) is not None


def test_postgis_tiles_keep_the_budget(loaded: tuple[Store, Store]) -> None:
    _, pg = loaded
    record = pg.get_layer("ar5").current
    z, x, y = tile_at(AR5_POINT, 12)
    full = render_layer(pg, record, z, x, y, list(record.fields))
    assert 0 < len(full) <= TILE_BUDGET
    small = render_layer(pg, record, z, x, y, list(record.fields), budget=len(full) * 2 // 3)
    assert len(small) <= len(full) * 2 // 3
    assert len(_features(decode(small), "ar5")) > 0
