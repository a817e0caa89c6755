"""Items pages written by PostgreSQL (``PostGISStore.geojson_page``, ``layers.pg_geojson``) against the pages the
GeoPackage store's rows give through ``layers.geojson.encode_features``: the same features, JSON values and
coordinates, in every supported CRS; and the PostGIS store's cached layer record never answers from an old
version after another store instance (another process) publishes, rolls back or removes the layer.

Geometries: the real municipality borders of Kongsbergregionen (read in place from ``shared/data``) and small
synthetic polygons and points in code (labelled synthetic).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

from layers.cql2 import parse_filter, parse_sortby
from layers.crs import CRS84, SUPPORTED_EPSG, parse_crs_uri
from layers.errors import LayerNotFound
from layers.geojson import items_page
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.store import GeoJSONPage, GeoJSONWriter, LayerMeta, Store
from maps.tiles import TMS, render_layer

if TYPE_CHECKING:
    from layers.postgis_store import PostGISStore

KOMMUNER = (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kommuner-kartverket-robhop"
            / "kongsbergregionen_kommuner_2024_epsg25832.gpkg")
TARGETS = [CRS84, *(parse_crs_uri(f"EPSG:{code}") for code in SUPPORTED_EPSG)]
X0, Y0 = 536_000.0, 6_614_000.0  # near Kongsberg, EPSG:25832


def _typed_points() -> gpd.GeoDataFrame:
    """SYNTHETIC: every field type, nulls, NaN/inf, text that needs escaping, a field name with ``%``."""
    n = 6
    return gpd.GeoDataFrame({
        "nr": [1, 2, 3, 4, 5, 6], "ni": pd.array([1, None, 3, None, 5, 6], dtype="Int64"),
        "f": [1.5, np.nan, -2.0, math.inf, 1e20, 1.25e-7],
        "s": ["Åsen", None, "", 'si "hei"\\ på\ttab', "ctl\x01æøå", "line\nbreak"],
        "b": [True, False, True, False, True, False],
        "nb": pd.array([None, False, True, None, True, False], dtype="boolean"),
        "t": pd.to_datetime(["2024-01-01T10:00:00", "2024-02-01T00:00:00.250", None, "2023-12-31T23:59:59.999",
                             "2024-06-01T12:00:00", None], format="ISO8601"),
        "tz": pd.to_datetime(["2024-01-01T10:00:00Z", "2024-02-01T00:00:00+01:00", None, None,
                              "2024-06-01T12:00:00.5+02:00", "2024-03-01T00:00:00Z"], utc=True, format="ISO8601"),
        "pct%": ["a%b", "%s", "100 %", None, "%%", "x"]},
        geometry=[shapely.Point(X0 + 37.12345 * k, Y0 + 11.98765 * k) for k in range(n)], crs=25832)


def _parcels() -> gpd.GeoDataFrame:
    """SYNTHETIC: 60 parcels with a hole in every third, two classes, in a 10 x 6 grid of 100 m cells."""
    geoms, codes = [], []
    for k in range(60):
        x, y = X0 + 100 * (k % 10) + 0.123456, Y0 + 100 * (k // 10) + 0.654321
        shell = box(x, y, x + 91.7777, y + 88.3333).exterior.coords
        holes = [box(x + 30.5, y + 30.25, x + 50.125, y + 45.0625).exterior.coords] if k % 3 == 0 else []
        geoms.append(Polygon(shell, holes))
        codes.append(21 if k % 2 else 22)
    return gpd.GeoDataFrame({"arealtype": codes, "navn": [f"skifte {k}" for k in range(60)]}, geometry=geoms,
                            crs=25832)


def _pages(store: Store, layer_id: str, bbox: tuple | None, target: object, **kwargs: object) -> GeoJSONPage:
    return items_page(store, store.get_layer(layer_id), bbox, kwargs.pop("filters", {}), kwargs.pop("limit", 100),
                      kwargs.pop("offset", 0), target=target, **kwargs)


def _values(page: GeoJSONPage) -> tuple:
    return page.number_returned, page.number_matched, json.loads(b"[" + page.features + b"]")


def test_sql_pages_equal_python_pages_in_every_crs(both_stores: tuple[Store, Store]) -> None:
    gpkg, pg = both_stores
    assert isinstance(pg, GeoJSONWriter) and not isinstance(gpkg, GeoJSONWriter)
    if not KOMMUNER.is_file():
        pytest.fail(f"real data {KOMMUNER} is missing (shared/data beside the repository)")
    for store in both_stores:
        store.publish("typer", _typed_points(), LayerMeta(LayerKind.other, "Typer (syntetisk)"))
        store.publish("skifter", _parcels(), LayerMeta(LayerKind.farmland, "Skifter (syntetisk)"))
        ingest(store, KOMMUNER, "kommuner", LayerKind.municipality, attribution="© Kartverket (CC BY 4.0)")
    inner = (X0 + 150.0, Y0 + 120.0, X0 + 420.0, Y0 + 330.0)
    kongsberg = (540_000.0, 6_600_000.0, 560_000.0, 6_620_000.0)
    requests = [
        ("typer", None, {}), ("typer", None, {"limit": 4, "offset": 3}), ("typer", None, {"offset": 50}),
        ("typer", None, {"sortby": parse_sortby("-f,s")}), ("typer", None, {"filters": {"b": "true"}}),
        ("typer", None, {"cql": parse_filter("nr > 2 AND ni IS NOT NULL", "cql2-text", None)}),
        ("skifter", inner, {}), ("skifter", inner, {"limit": 3, "offset": 2}),
        ("skifter", inner, {"filters": {"arealtype": "21"}, "sortby": parse_sortby("-navn")}),
        ("skifter", inner, {"offset": 500}), ("skifter", (0.0, 0.0, 10.0, 10.0), {}),
        ("skifter", None, {"limit": 7}), ("skifter", None, {"filters": {"arealtype": "22"}, "offset": 10}),
        ("kommuner", None, {}), ("kommuner", kongsberg, {"limit": 2}),
    ]
    checked = 0
    for target in TARGETS:
        for layer_id, bbox, kwargs in requests:
            written = pg.geojson_page(pg.get_layer(layer_id), bbox, dict(kwargs.get("filters", {})),
                                      kwargs.get("limit", 100), kwargs.get("offset", 0), cql=kwargs.get("cql"),
                                      sortby=kwargs.get("sortby", ()), target=target)
            assert written is not None  # the SQL path answered, not the Python fallback
            expected = _values(_pages(gpkg, layer_id, bbox, target, **dict(kwargs)))
            assert _values(written) == expected, (target.uri, layer_id, bbox, kwargs)
            checked += len(expected[2])
    assert checked == 400  # features compared: 80 per CRS

    for store in both_stores:  # a % in a field name reaches psycopg doubled (else it reads a placeholder)
        record = store.get_layer("typer").current
        assert store.query(record, None, {"pct%": "%s"}, 10, 0).ids.tolist() == [2]
        assert store.get_feature(record, 5).properties[0]["pct%"] == "%%"
        assert store.read_frame(record)["pct%"].tolist()[:3] == ["a%b", "%s", "100 %"]
    assert _values(_pages(pg, "typer", None, CRS84, filters={"pct%": "100 %"}))[:2] == (1, 1)
    page = _values(_pages(pg, "typer", None, CRS84, filters={"b": "true"}, sortby=parse_sortby("-pct%")))
    assert [f["id"] for f in page[2]] == [1, 3, 5]
    pct = parse_filter("\"pct%\" = '%s' OR \"pct%\" LIKE 'a%'", "cql2-text", None)
    for store in both_stores:  # ... in a CQL2 filter and in a vector tile's attributes too
        record = store.get_layer("typer").current
        assert store.query(record, None, {}, 10, 0, cql=pct).ids.tolist() == [1, 2]
        assert store.query(record, None, {}, 3, 0, sortby=parse_sortby("-pct%,nr")).ids.tolist() == [6, 1, 3]
        assert store.query(record, None, {"b": "true"}, 3, 0, sortby=parse_sortby("-pct%")).ids.tolist() == [1, 3, 5]
        lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(X0 + 100.0, Y0 + 30.0)
        tile = TMS.tile(lon, lat, 13)
        features = mapbox_vector_tile.decode(render_layer(store, record, 13, tile.x, tile.y, ["pct%"],
                                                          name="typer"))["typer"]["features"]
        assert sorted(f["properties"].get("pct%", "") for f in features) == ["", "%%", "%s", "100 %", "a%b", "x"]

    typer = _values(_pages(pg, "typer", None, CRS84))[2]
    assert [f["id"] for f in typer] == [1, 2, 3, 4, 5, 6]
    assert typer[1]["properties"] == {"nr": 2, "ni": None, "f": None, "s": None, "b": False, "nb": False,
                                      "t": "2024-02-01T00:00:00.250", "tz": "2024-01-31T23:00:00Z", "pct%": "%s"}
    assert typer[3]["properties"]["f"] is None and typer[3]["properties"]["s"] == 'si "hei"\\ på\ttab'
    assert typer[4]["properties"]["f"] == 1e20 and typer[4]["properties"]["tz"] == "2024-06-01T10:00:00.500Z"
    assert list(typer[0]["properties"]) == ["nr", "ni", "f", "s", "b", "nb", "t", "tz", "pct%"]
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(X0 + 37.12345, Y0 + 11.98765)
    assert typer[1]["geometry"] == {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}
    lat_lon = _values(_pages(pg, "typer", None, parse_crs_uri("EPSG:4326")))[2][1]["geometry"]["coordinates"]
    assert lat_lon == [round(lat, 7), round(lon, 7)]
    metres = _values(_pages(pg, "skifter", inner, parse_crs_uri("EPSG:25832"), limit=1))[2][0]["geometry"]
    assert metres["type"] == "Polygon" and metres["coordinates"][0][0] == [536_191.901, 6_614_100.654]  # parcel 11, rounded to mm

    page = _pages(pg, "skifter", inner, CRS84)
    assert (page.number_returned, page.number_matched) == (12, 12)  # 4 x 3 cells meet the box
    assert page.layer.current.version == 1 and page.layer.id == "skifter"
    rings = _values(_pages(pg, "skifter", None, CRS84, limit=1))[2][0]["geometry"]["coordinates"]
    assert len(rings) == 2 and len(rings[0]) == 5  # the hole of parcel 0 is kept


def test_cached_layer_follows_other_processes(postgis_url: str) -> None:
    """Store ``a`` keeps the layer's record between pages; store ``b`` (another process) changes the layer."""
    from layers.postgis_store import PostGISStore

    with PostGISStore(postgis_url, pool_size=1) as a, PostGISStore(postgis_url, pool_size=1) as b:
        _follow(a, b)


def _follow(a: PostGISStore, b: PostGISStore) -> None:
    v1 = _parcels()
    b.publish("skifter", v1, LayerMeta(LayerKind.farmland, "Skifter v1 (syntetisk)"))
    layer = a.get_layer("skifter")
    first = a.geojson_page(layer, None, {}, 5, 0, target=CRS84)
    assert first.layer.current.version == 1 and first.number_matched == 60
    assert a.peek_layer("skifter") is not None

    v2 = v1.iloc[:25].copy()
    v2["navn"] = [f"ny {k}" for k in range(25)]
    b.publish("skifter", v2, LayerMeta(LayerKind.farmland, "Skifter v2 (syntetisk)"))
    stale = a.peek_layer("skifter")
    assert stale.current.version == 1  # the cache has not seen the publish ...
    page = a.geojson_page(stale, None, {}, 5, 0, target=CRS84)
    assert page.layer.current.version == 2 and page.layer.title == "Skifter v2 (syntetisk)"  # ... the page has
    features = _values(page)[2]
    assert page.number_matched == 25 and features[0]["properties"]["navn"] == "ny 0"
    box_page = a.geojson_page(stale, (X0, Y0, X0 + 1000, Y0 + 1000), {}, 100, 0, target=CRS84)
    assert box_page.number_matched == 25

    b.rollback("skifter", 1)
    page = a.geojson_page(a.peek_layer("skifter"), None, {}, 5, 0, target=CRS84)
    assert page.layer.current.version == 1 and page.number_matched == 60
    assert _values(page)[2][0]["properties"]["navn"] == "skifte 0"

    b.remove_layer("skifter")
    with pytest.raises(LayerNotFound):
        a.geojson_page(a.peek_layer("skifter"), None, {}, 5, 0, target=CRS84)
    assert a.peek_layer("skifter") is None
    b.restore_layer("skifter")
    assert a.geojson_page(a.get_layer("skifter"), None, {}, 5, 0, target=CRS84).number_matched == 60
    b.remove_layer("skifter")
    assert b.purge_removed(datetime.now(UTC) + timedelta(seconds=1)) == ["skifter"]  # the tables are dropped
    with pytest.raises(LayerNotFound):
        a.geojson_page(a.peek_layer("skifter"), None, {}, 5, 0, target=CRS84)
