"""OGC API – Features over the synthetic farmland grid: paging, bbox, CRS, filters, errors."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import Polygon

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import ORIGIN, farmland_grid

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
X0, Y0 = ORIGIN


def test_landing_and_conformance(client: TestClient) -> None:
    rels = {link["rel"] for link in client.get("/").json()["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= rels
    conforms = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conforms
    assert client.get("/openapi.json").json()["paths"]["/collections/{collectionId}/items"]
    assert client.get("/docs").status_code == 200


def test_collection_document(client: TestClient) -> None:
    ids = [c["id"] for c in client.get("/collections").json()["collections"]]
    assert ids == ["jorder", "kulturminner"]
    doc = client.get("/collections/jorder").json()
    assert (doc["kind"], doc["version"], doc["featureCount"]) == ("farmland", 1, 100)
    minlon, minlat, maxlon, maxlat = doc["extent"]["spatial"]["bbox"][0]
    assert 9.63 < minlon < maxlon < 9.66 and 59.65 < minlat < maxlat < 59.68  # near Kongsberg town
    assert EPSG.format(25832) in doc["crs"] and EPSG.format(4326) in doc["crs"]
    assert doc["storageCrs"] == EPSG.format(25832)
    assert "synthetic" in doc["description"]


def test_paging_follows_next_links_with_stable_ids(client: TestClient) -> None:
    url, seen, pages = "/collections/jorder/items?limit=30", [], 0
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == 100
        seen += [f["id"] for f in body["features"]]
        assert body["numberReturned"] == len(body["features"])
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert pages == 4 and sorted(seen) == list(range(1, 101))
    again = client.get("/collections/jorder/items?limit=10&offset=30").json()
    assert [f["id"] for f in again["features"]] == seen[30:40]
    assert any(link["rel"] == "prev" for link in again["links"])


def test_default_limit_and_max_clamp(client: TestClient) -> None:
    assert client.get("/collections/jorder/items").json()["numberReturned"] == 100
    assert client.get("/collections/jorder/items?limit=20000").json()["numberReturned"] == 100


def test_bbox_in_working_crs_selects_exact_cells(client: TestClient) -> None:
    bbox = f"{X0 + 150},{Y0 + 150},{X0 + 250},{Y0 + 250}"
    r = client.get("/collections/jorder/items", params={"bbox": bbox, "bbox-crs": EPSG.format(25832),
                                                        "crs": EPSG.format(25832)})
    body = r.json()
    assert body["numberMatched"] == 4  # cells (1,1), (2,1), (1,2), (2,2)
    assert r.headers["content-crs"] == f"<{EPSG.format(25832)}>"
    assert r.headers["content-type"] == "application/geo+json"
    areas = [shapely.geometry.shape(f["geometry"]).area for f in body["features"]]
    assert areas == pytest.approx([10_000.0] * 4)


def test_bbox_in_crs84_and_latlon_output(client: TestClient) -> None:
    doc = client.get("/collections/jorder").json()
    lon0, lat0, lon1, lat1 = doc["extent"]["spatial"]["bbox"][0]
    everything = client.get("/collections/jorder/items", params={"bbox": f"{lon0},{lat0},{lon1},{lat1}"})
    assert everything.json()["numberMatched"] == 100
    r = client.get("/collections/jorder/items/1", params={"crs": EPSG.format(4326)})
    assert r.headers["content-crs"] == f"<{EPSG.format(4326)}>"
    lat, lon = r.json()["geometry"]["coordinates"][0][0]
    assert 59.6 < lat < 59.7 and 9.6 < lon < 9.7  # EPSG:4326 is lat/lon (Part 2 axis order)
    lon84, lat84 = client.get("/collections/jorder/items/1").json()["geometry"]["coordinates"][0][0]
    assert (lon84, lat84) == pytest.approx((lon, lat), abs=1e-7)
    # the same box given in EPSG:4326 axis order
    box4326 = f"{lat0},{lon0},{lat1},{lon1}"
    r = client.get("/collections/jorder/items", params={"bbox": box4326, "bbox-crs": EPSG.format(4326)})
    assert r.json()["numberMatched"] == 100


def test_crs_25833_and_3857_output(client: TestClient) -> None:
    corner = (X0 + 100, Y0)  # shapely.box rings start at (maxx, miny)
    for epsg in (25833, 3857):
        x, y = client.get("/collections/jorder/items/1", params={"crs": EPSG.format(epsg)}).json()[
            "geometry"]["coordinates"][0][0]
        expected = Transformer.from_crs(25832, epsg, always_xy=True).transform(*corner)
        assert (x, y) == pytest.approx(expected, abs=0.002)


def test_property_filters(client: TestClient) -> None:
    body = client.get("/collections/jorder/items?arealtype=21&limit=100").json()
    assert body["numberMatched"] == 25 and {f["properties"]["arealtype"] for f in body["features"]} == {21}
    body = client.get("/collections/jorder/items", params={"navn": "Jorde 7 – Åsen"}).json()
    assert [f["id"] for f in body["features"]] == [8]
    assert body["features"][0]["properties"]["andel"] == pytest.approx(0.07)


def test_bbox_refines_envelope_hits_exactly(workspace, client: TestClient) -> None:
    """An L-shaped zone whose envelope covers the bbox but whose area does not."""
    el = Polygon([(X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 100), (X0 + 100, Y0 + 100), (X0 + 100, Y0 + 1000),
                  (X0, Y0 + 1000)])
    GeoPackageStore(workspace).publish("l-form", gpd.GeoDataFrame({"n": [1]}, geometry=[el], crs=25832),
                                       LayerMeta(LayerKind.zoning))
    inside_notch = f"{X0 + 500},{Y0 + 500},{X0 + 600},{Y0 + 600}"
    on_arm = f"{X0 + 500},{Y0 + 50},{X0 + 600},{Y0 + 60}"
    params = {"bbox-crs": EPSG.format(25832)}
    assert client.get("/collections/l-form/items", params={"bbox": inside_notch, **params}).json()[
        "numberMatched"] == 0
    assert client.get("/collections/l-form/items", params={"bbox": on_arm, **params}).json()["numberMatched"] == 1


def test_bbox_query_uses_the_rtree(workspace) -> None:
    store = GeoPackageStore(workspace)
    record = store.get_layer("jorder").current
    statements: list[str] = []
    store._features_db(record.location).set_trace_callback(statements.append)
    page = store.query(record, (X0 + 150, Y0 + 150, X0 + 250, Y0 + 250), {}, 10, 0)
    assert page.number_matched == 4
    assert any('"rtree_jorder_geom"' in s for s in statements)


@pytest.mark.parametrize(("url", "status", "parameter"), [
    ("/collections/nope", 404, None),
    ("/collections/nope/items", 404, None),
    ("/collections/jorder/items/9999", 404, None),
    ("/collections/jorder/items/abc", 404, None),
    ("/collections/jorder/items?bbox=1,2,3", 400, "bbox"),
    ("/collections/jorder/items?bbox=a,b,c,d", 400, "bbox"),
    ("/collections/jorder/items?bbox=5,5,1,1", 400, "bbox"),
    ("/collections/jorder/items?crs=EPSG:9999", 400, "crs"),
    ("/collections/jorder/items?bbox=1,2,3,4&bbox-crs=foo", 400, "bbox-crs"),
    ("/collections/jorder/items?limit=abc", 400, "limit"),
    ("/collections/jorder/items?limit=0", 400, "limit"),
    ("/collections/jorder/items?offset=-1", 400, "offset"),
    ("/collections/jorder/items?unknown=1", 400, "unknown"),
    ("/collections/jorder/items?arealtype=x", 400, "arealtype"),
])
def test_errors_are_json_and_name_the_parameter(client: TestClient, url: str, status: int,
                                                parameter: str | None) -> None:
    r = client.get(url)
    assert r.status_code == status
    body = r.json()
    assert body["description"]
    if parameter:
        assert body["parameter"] == parameter and parameter in body["description"]


def test_publish_and_rollback_visible_without_restart(workspace, client: TestClient) -> None:
    store = GeoPackageStore(workspace)
    assert client.get("/collections/jorder").json()["version"] == 1
    store.publish("jorder", farmland_grid().iloc[:10], LayerMeta(LayerKind.farmland, "Jorder v2"))
    r = client.get("/collections/jorder/items")
    assert r.json()["numberMatched"] == 10 and r.headers["x-layer-version"] == "2"
    assert client.get("/collections/jorder").json()["title"] == "Jorder v2"
    store.rollback("jorder", 1)
    assert client.get("/collections/jorder/items").json()["numberMatched"] == 100
