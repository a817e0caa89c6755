"""Every error at the HTTP edge is an OGC JSON body with a 4xx that names the problem (issue 9, item 7),
boxes are finite (item 6), the OpenAPI document declares what the service answers, and an unexpected
exception is a JSON 500 without internals (the last resort; the fuzz test keeps the count of 500s at 0)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings

ITEMS = "/collections/jorder/items"
SITE = "/analyses/site-check"


def _ogc_error(response, status: int) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"code", "description"} and body["description"]
    return body


@pytest.mark.parametrize(("url", "status", "parameter"), [
    (f"{ITEMS}?offset=9223372036854775808", 400, "offset"),
    (f"{ITEMS}?limit=99999999999999999999999", 400, "limit"),
    (f"{ITEMS}?crs=EPSG:%C2%B2", 400, "crs"),
    (f"{ITEMS}?bbox=0,0,1,1&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/%D9%A3%D9%A8%D9%A5%D9%A7", 400, "bbox-crs"),
    (f"{ITEMS}?bbox=nan,nan,nan,nan", 400, "bbox"),
    (f"{ITEMS}?bbox=-inf,-inf,inf,inf", 400, "bbox"),
    (f"{ITEMS}?bbox=9.6,59.6,9.7,1e400", 400, "bbox"),
    (f"{ITEMS}?arealtype=21&arealtype=22", 400, "arealtype"),
    (f"{ITEMS}?limit=5&limit=6", 400, "limit"),
])
def test_bad_parameters_are_400_naming_the_parameter(client: TestClient, url: str, status: int,
                                                     parameter: str) -> None:
    body = _ogc_error(client.get(url), status)
    assert body["parameter"] == parameter


@pytest.mark.parametrize("feature_id", ["9223372036854775808", "%C2%B2", "%D9%A1", "-1", "1e3", "99999999999999999999"])
def test_impossible_feature_ids_are_404(client: TestClient, feature_id: str) -> None:
    body = _ogc_error(client.get(f"{ITEMS}/{feature_id}"), 404)
    assert body["code"] == "NotFound"


def test_a_real_feature_id_and_a_filter_still_work(client: TestClient) -> None:
    assert client.get(f"{ITEMS}/1").json()["id"] == 1
    assert client.get(f"{ITEMS}?arealtype=21").json()["numberMatched"] == 25  # 25 of the 100 fields


def test_405_carries_allow_and_a_json_body(client: TestClient) -> None:
    response = client.post("/collections")
    body = _ogc_error(response, 405)
    assert body["code"] == "MethodNotAllowed"
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize("payload", [
    {"type": "FeatureCollection", "features": [1]},
    {"type": "FeatureCollection", "features": "x"},
    {"type": "Feature", "geometry": [1, 2]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
    {"type": "Polygon", "coordinates": [[["a", 0], [1, 1], [1, 0], ["a", 0]]]},
    {"type": "Polygon", "coordinates": [[[9.6, 59.6], [9.7, 59.7], [9.7, 59.6], [9.6, 59.7], [9.6, 59.6]]]},
    {"type": "Polygon", "coordinates": [[[9.6, 59.6], [9.7, 59.6], [9.7, 1e400], [9.6, 59.6]]]},
    {"type": 5},
])
def test_bad_sites_are_400_in_plain_words(client: TestClient, payload: dict) -> None:
    body = _ogc_error(client.post(SITE, content=json.dumps(payload).replace("Infinity", "1e400"),
                                  headers={"content-type": "application/json"}), 400)
    assert not re.search(r"\[-?\d", body["description"])  # no GEOS location "[x y]"
    for geos_word in ("Self-intersection", "IllegalArgumentException", "GEOS", "Traceback", "could not convert"):
        assert geos_word not in body["description"]


def test_self_intersection_is_named_for_the_planner(client: TestClient) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[9.6, 59.6], [9.7, 59.7], [9.7, 59.6], [9.6, 59.7], [9.6, 59.6]]]}
    body = _ogc_error(client.post(SITE, json=bowtie), 400)
    assert "crosses itself" in body["description"] and "krysser" in body["description"]


def test_openapi_declares_the_errors_the_service_answers(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in operation["responses"], (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
    site = doc["paths"][SITE]["post"]["responses"]
    assert {"400", "413", "503"} <= set(site)
    assert site["413"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Exception"}


def test_an_unexpected_exception_is_a_json_500_without_internals(workspace, caplog) -> None:
    app = create_app(Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret /srv/geo/path and a GEOS message")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.ERROR):
        response = c.get("/boom")
    body = _ogc_error(response, 500)
    assert body["code"] == "ServerError"
    assert "secret" not in response.text and "/srv" not in response.text
    assert any("secret /srv/geo/path" in (r.exc_text or "") for r in caplog.records)  # the operator sees it


def test_unknown_static_asset_is_a_json_404(client: TestClient) -> None:
    _ogc_error(client.get("/static/../../etc/passwd"), 404)
