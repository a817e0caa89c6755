"""``/items`` with CQL2 ``filter`` (text and JSON), ``filter-crs`` and ``sortby``, over HTTP on both stores,
against pandas/shapely evaluating the same condition on the synthetic farmland grid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import Polygon, box

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.conftest import STORE_KINDS
from tests.geo_service.conftest import ORIGIN, farmland_grid

X0, Y0 = ORIGIN
GRID = farmland_grid()  # SYNTHETIC: 100 cells of 100 m; arealtype cycles 21, 22, 23, 30; andel = k / 100
FIDS = np.arange(1, 101)
TO_LONLAT = Transformer.from_crs(25832, 4326, always_xy=True)
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
# a triangle over the grid's south-west corner, in the working CRS and in CRS84
TRIANGLE = Polygon([(X0 + 50, Y0 + 50), (X0 + 430, Y0 + 50), (X0 + 50, Y0 + 430)])
TRIANGLE_LONLAT = shapely.transform(TRIANGLE, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1])))
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"


@pytest.fixture(scope="module", params=STORE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The service over each store, with the synthetic farmland grid published as ``jorder``."""
    meta = LayerMeta(LayerKind.farmland, "Jorder (syntetisk)", "Synthetic AR5 grid for tests", "synthetic")
    if request.param == "gpkg":
        from layers.gpkg_store import GeoPackageStore

        workspace = tmp_path_factory.mktemp("ws")
        GeoPackageStore(workspace).publish("jorder", GRID, meta)
        settings = Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0)
    else:
        url = request.getfixturevalue("postgis_cluster").new_database()  # skips locally / fails in CI without it
        from layers.postgis_store import PostGISStore

        with PostGISStore(url, pool_size=2) as store:
            store.publish("jorder", GRID, meta)
        settings = Settings(database_url=url, seed_demo=False, analysis_refresh_seconds=0, database_pool_size=2)
    with TestClient(create_app(settings)) as client:
        yield client


def items(api: TestClient, **params: str | int) -> dict:
    response = api.get(f"/collections/jorder/items?{urlencode(params)}")
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict) -> list[int]:
    return [f["id"] for f in body["features"]]


def expected(mask: np.ndarray) -> list[int]:
    return FIDS[np.asarray(mask, dtype=bool)].tolist()


def test_conformance_declares_filter_cql2_and_sorting(api: TestClient) -> None:
    conforms = set(api.get("/conformance").json()["conformsTo"])
    assert {"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
            "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
            CQL2 + "cql2-text", CQL2 + "cql2-json", CQL2 + "basic-cql2", CQL2 + "advanced-comparison-operators",
            CQL2 + "basic-spatial-functions", "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting"
            } <= conforms
    parameters = api.get("/openapi.json").json()["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
    assert {"filter", "filter-lang", "filter-crs", "sortby"} <= {p["name"] for p in parameters}


def test_queryables_list_types_and_the_geometry(api: TestClient) -> None:
    body = api.get("/collections/jorder/queryables").json()
    props = body["properties"]
    assert props["arealtype"]["type"] == "integer" and props["andel"]["type"] == "number"
    assert props["navn"]["type"] == "string"
    assert props["geometry"]["format"] == "geometry-polygon"
    assert body["additionalProperties"] is False


def test_range_and_set_filter_in_text_and_json(api: TestClient) -> None:
    want = expected(GRID.arealtype.isin([21, 22]) & (GRID.andel >= 0.5))
    text = items(api, filter="arealtype IN (21,22) AND andel >= 0.5", limit=1000)
    as_json = {"op": "and", "args": [{"op": "in", "args": [{"property": "arealtype"}, [21, 22]]},
                                     {"op": ">=", "args": [{"property": "andel"}, 0.5]}]}
    body = items(api, **{"filter": json.dumps(as_json), "filter-lang": "cql2-json", "limit": 1000})
    assert text["numberMatched"] == body["numberMatched"] == len(want) == 24
    assert ids(text) == ids(body) == want


def test_filter_ands_with_equality_parameters_and_bbox(api: TestClient) -> None:
    window = (X0 + 150, Y0 + 150, X0 + 650, Y0 + 650)
    mask = (GRID.arealtype == 21) & (GRID.andel < 0.6) & GRID.intersects(box(*window))
    body = items(api, filter="andel < 0.6", arealtype=21, bbox=",".join(map(str, window)),
                 **{"bbox-crs": EPSG.format(25832)})
    assert (body["numberMatched"], ids(body)) == (int(mask.sum()), expected(mask))
    assert 0 < body["numberMatched"] < 10


def test_s_intersects_in_crs84_and_in_25832_via_filter_crs(api: TestClient) -> None:
    want = expected(GRID.intersects(TRIANGLE))
    assert len(want) == 15  # 5 + 4 + 3 + 2 + 1 cells under the triangle
    lonlat = items(api, filter=f"S_INTERSECTS(geometry, {TRIANGLE_LONLAT.wkt})")
    utm = items(api, filter=f"S_INTERSECTS(geometry, {TRIANGLE.wkt})", **{"filter-crs": EPSG.format(25832)})
    as_json = {"op": "s_intersects", "args": [{"property": "geometry"}, shapely.geometry.mapping(TRIANGLE)]}
    json_utm = items(api, **{"filter": json.dumps(as_json), "filter-lang": "cql2-json",
                             "filter-crs": EPSG.format(25832)})
    assert ids(lonlat) == ids(utm) == ids(json_utm) == want
    assert lonlat["numberMatched"] == 15


def test_sortby_pages_follow_next_links_carrying_filter_and_sortby(api: TestClient) -> None:
    frame = GRID.assign(fid=FIDS)[GRID.arealtype != 30]
    want = frame.sort_values(["arealtype", "andel"], ascending=[False, True], kind="stable").fid.tolist()
    url = "/collections/jorder/items?" + urlencode({"filter": "NOT arealtype = 30", "sortby": "-arealtype,andel",
                                                    "limit": 20})
    seen, pages = [], 0
    while url:
        body = api.get(url).json()
        assert body["numberMatched"] == 75
        seen += ids(body)
        pages += 1
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["filter"] == ["NOT arealtype = 30"] and query["sortby"] == ["-arealtype,andel"]
    assert pages == 4 and seen == want
    ascending = items(api, sortby="andel", limit=3)
    descending = items(api, sortby="-andel", limit=3)
    assert ids(ascending) == [1, 2, 3] and ids(descending) == [100, 99, 98]
    assert [f["properties"]["andel"] for f in descending["features"]] == [0.99, 0.98, 0.97]


@pytest.mark.parametrize(("params", "parameter", "needle"), [
    ({"filter": "eier = 'Statskog'"}, "filter", "has no property 'eier'; queryables: arealtype, navn, andel"),
    ({"filter": "arealtype >= 'tjueen'"}, "filter", "does not fit a property holding int values"),
    ({"filter": "T_AFTER(navn, TIMESTAMP('2020-01-01T00:00:00Z'))"}, "filter", "cannot be parsed"),
    ({"filter": "arealtype * 2 = 42"}, "filter", "operator * "),
    ({"filter": "navn = 'x'' OR 1=1 --'"}, "filter", "cannot be parsed"),
    ({"filter": "arealtype = 21", "filter-lang": "ecql"}, "filter-lang", "cql2-text or cql2-json"),
    ({"filter": "arealtype = 21", "filter-crs": "EPSG:2154"}, "filter-crs", "not supported"),
    ({"filter": "{\"op\": \"=\", \"args\": [{\"property\": \"x\\\" OR 1=1\"}, 1]}", "filter-lang": "cql2-json"},
     "filter", "has no property 'x\" OR 1=1'"),
    ({"sortby": "-pris"}, "sortby", "has no property 'pris' to sort by; sortables: arealtype, navn, andel"),
])
def test_bad_filters_are_400_with_an_ogc_body(api: TestClient, params: dict, parameter: str, needle: str) -> None:
    response = api.get(f"/collections/jorder/items?{urlencode(params)}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and body["parameter"] == parameter
    assert needle in body["description"]


def test_repeated_filter_is_400(api: TestClient) -> None:
    response = api.get("/collections/jorder/items?filter=arealtype%3D21&filter=arealtype%3D22")
    assert response.status_code == 400 and response.json()["parameter"] == "filter"


def test_injection_in_a_json_value_matches_nothing(api: TestClient) -> None:
    as_json = {"op": "or", "args": [{"op": "=", "args": [{"property": "navn"}, "x' OR 1=1 --"]},
                                    {"op": "like", "args": [{"property": "navn"}, "%'; DROP TABLE jorder; --"]}]}
    body = items(api, **{"filter": json.dumps(as_json), "filter-lang": "cql2-json"})
    assert body["numberMatched"] == 0 and body["features"] == []
    assert items(api, limit=1)["numberMatched"] == 100


def test_like_and_casei_on_norwegian_names(api: TestClient) -> None:
    body = items(api, filter="navn LIKE 'Jorde 1_ – %'", limit=100)
    assert ids(body) == list(range(11, 21))
    assert items(api, filter="navn LIKE '%åsen'")["numberMatched"] == 0  # LIKE is case-sensitive
    assert items(api, filter="CASEI(navn) LIKE casei('%ÅSEN')")["numberMatched"] == 100
