"""``/items?bbox=`` on both stores answers exactly what the layer holds: the features whose geometry meets the
box, in fid order, with their properties, and geometries as the GEOS GeoJSON writer wrote them before the
page encoder was rewritten (reprojected, rounded to 7 decimals in degrees / 3 in metres).

SYNTHETIC data: 1 500 irregular parcels near Kongsberg (some multi-part, some with a hole) with int, float (NaN
included), text (Norwegian letters, missing values) properties.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.crs import CRS84, bbox_to_working, parse_crs_uri, to_output
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store

X0, Y0 = 536_000.0, 6_614_000.0
TO_LONLAT = Transformer.from_crs(25832, 4326, always_xy=True)
N = 1_500


def parcels() -> gpd.GeoDataFrame:
    """SYNTHETIC parcels: 20-vertex rings on a jittered 120 m grid; every 7th a two-part multipolygon, every
    11th with a hole."""
    rng = np.random.default_rng(17)
    side = int(np.ceil(np.sqrt(N)))
    centres = np.array([(X0 + (i % side) * 120.0, Y0 + (i // side) * 120.0) for i in range(N)])
    centres += rng.uniform(-20, 20, centres.shape)
    geoms = []
    for i, (x, y) in enumerate(centres):
        angles = np.sort(rng.uniform(0, 2 * np.pi, 20))
        radii = rng.uniform(35, 55, 20)
        ring = np.column_stack([x + radii * np.cos(angles), y + radii * np.sin(angles)])
        polygon = shapely.Polygon(ring)
        if i % 11 == 0:
            polygon = shapely.Polygon(ring, [shapely.box(x - 5, y - 5, x + 5, y + 5).exterior.coords[::-1]])
        if i % 7 == 0:
            geoms.append(shapely.MultiPolygon([polygon, shapely.box(x + 58, y - 10, x + 62, y + 10)]))
        else:
            geoms.append(polygon)
    share = rng.uniform(0, 1, N)
    share[::13] = np.nan
    names = [None if i % 17 == 0 else f"Teig {i} – Æsøy/Åsen" for i in range(N)]
    return gpd.GeoDataFrame({"arealtype": rng.choice([21, 22, 23, 30], N), "andel": share, "navn": names},
                            geometry=geoms, crs=25832)


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return parcels()


@pytest.fixture(params=["gpkg", "postgis"])
def client(request: pytest.FixtureRequest, make_store: Callable[[str], Store], frame: gpd.GeoDataFrame
           ) -> Iterator[TestClient]:
    store = make_store(request.param)
    store.publish("teiger", frame, LayerMeta(LayerKind.farmland, "Teiger (syntetisk)"))
    if request.param == "gpkg":
        settings = Settings(workspace=store.workspace, seed_demo=False, analysis_refresh_seconds=0)  # type: ignore[attr-defined]
    else:
        settings = Settings(database_url=store.url, seed_demo=False, analysis_refresh_seconds=0,  # type: ignore[attr-defined]
                            database_pool_size=2)
    with TestClient(create_app(settings)) as c:
        yield c


def lonlat_box(x: float, y: float, half: float) -> str:
    w, s = TO_LONLAT.transform(x - half, y - half)
    e, n = TO_LONLAT.transform(x + half, y + half)
    return f"{w:.6f},{s:.6f},{e:.6f},{n:.6f}"


def expected(frame: gpd.GeoDataFrame, bbox: str, crs: str | None = None) -> tuple[list[int], list[dict]]:
    """Ids and features the layer holds in ``bbox``: shapely's exact test, the GEOS writer for geometries."""
    box = bbox_to_working(tuple(float(v) for v in bbox.split(",")), CRS84)  # type: ignore[arg-type]
    geoms = frame.geometry.values
    hits = np.flatnonzero(shapely.intersects(np.asarray(geoms, dtype=object), shapely.box(*box)))
    target = parse_crs_uri(crs)
    decimals = 7 if target.epsg == 4326 else 3
    found = np.asarray(geoms[hits], dtype=object)
    # a layer of polygons and multipolygons is stored as multipolygons (one part each for the single ones)
    found = np.array([shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in found], dtype=object)
    out = shapely.set_precision(to_output(found, target), 10.0 ** -decimals, mode="pointwise")
    features = []
    for row, geometry in zip(hits.tolist(), shapely.to_geojson(out).tolist(), strict=True):
        record = frame.iloc[row]
        props = {"arealtype": int(record["arealtype"]),
                 "andel": None if np.isnan(record["andel"]) else float(record["andel"]),
                 "navn": None if pd.isna(record["navn"]) else record["navn"]}
        features.append({"id": row + 1, "geometry": json.loads(geometry), "properties": props})
    return [row + 1 for row in hits.tolist()], features


def test_bbox_pages_hold_exactly_the_features_in_the_box(client: TestClient, frame: gpd.GeoDataFrame) -> None:
    rng = np.random.default_rng(3)
    side = np.sqrt(N) * 120.0
    for k in range(8):  # small boxes (answered on the event loop), 200-900 m, anywhere over the parcels
        x, y = X0 + rng.uniform(0, side), Y0 + rng.uniform(0, side)
        bbox = lonlat_box(x, y, rng.uniform(100, 450))
        ids, features = expected(frame, bbox)
        body = client.get("/collections/teiger/items", params={"bbox": bbox, "limit": 100}).json()
        assert body["numberMatched"] == len(ids), k
        assert [f["id"] for f in body["features"]] == ids[:100]
        assert [{key: f[key] for key in ("id", "geometry", "properties")} for f in body["features"]] == features[:100]


def test_large_pages_other_crs_and_filters_answer_the_same(client: TestClient, frame: gpd.GeoDataFrame) -> None:
    everything = lonlat_box(X0 + 2_300, Y0 + 2_300, 2_600)
    ids, features = expected(frame, everything)
    assert len(ids) == N
    # more than 1 000 features on a page, then the next page
    body = client.get("/collections/teiger/items", params={"bbox": everything, "limit": 1_200}).json()
    assert body["numberMatched"] == N and [f["id"] for f in body["features"]] == ids[:1_200]
    assert [f["geometry"] for f in body["features"]] == [f["geometry"] for f in features[:1_200]]
    # the next page
    body = client.get("/collections/teiger/items", params={"bbox": everything, "limit": 1_200,
                                                            "offset": 1_200}).json()
    assert [f["id"] for f in body["features"]] == ids[1_200:]
    # an equality filter next to the bbox
    body = client.get("/collections/teiger/items", params={"bbox": everything, "limit": 2_000,
                                                            "arealtype": 22}).json()
    assert [f["id"] for f in body["features"]] == [f["id"] for f in features if f["properties"]["arealtype"] == 22]
    # other output CRSs: EPSG:4326 in lat/lon order, EPSG:25833 in metres (3 decimals)
    bbox = lonlat_box(X0 + 600, Y0 + 600, 300)
    for crs in ("http://www.opengis.net/def/crs/EPSG/0/4326", "http://www.opengis.net/def/crs/EPSG/0/25833"):
        ids, features = expected(frame, bbox, crs)
        body = client.get("/collections/teiger/items", params={"bbox": bbox, "crs": crs}).json()
        assert [f["id"] for f in body["features"]] == ids
        assert [f["geometry"] for f in body["features"]] == [f["geometry"] for f in features]
