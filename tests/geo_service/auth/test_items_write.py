"""OGC API – Features Part 4 on items: create, replace, update, delete, each a new version with stable feature
ids; editors only, within their municipalities; If-Match; audited. Both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping
from shapely.ops import transform

from geo_service.auth.keys import create_key
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.crs import transformer
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store

KONGSBERG = box(530_000, 6_610_000, 540_000, 6_620_000)
FLESBERG = box(540_000, 6_610_000, 550_000, 6_620_000)
TO_CRS84 = transformer(25832, 4326)


def crs84(geom):
    return mapping(transform(lambda x, y: TO_CRS84.transform(x, y), geom))


@pytest.fixture(params=["gpkg", "postgis"])
def client(request: pytest.FixtureRequest, make_store: Callable[[str], Store], tmp_path) -> Iterator[TestClient]:
    store = make_store(request.param)
    store.publish("kommuner", gpd.GeoDataFrame({"kommunenummer": ["3303", "3334"], "kommunenavn": ["K", "F"]},
                                               geometry=[KONGSBERG, FLESBERG], crs=25832),
                  LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
    store.publish("plan", gpd.GeoDataFrame(
        {"arealformal": [1300, 1300, 5100], "navn": ["Nord", "Sør", "Grense"]},
        geometry=[box(531_000, 6_611_000, 531_200, 6_611_200), box(532_000, 6_611_000, 532_200, 6_611_200),
                  box(545_000, 6_611_000, 545_200, 6_611_200)], crs=25832), LayerMeta(LayerKind.zoning, "Plan"))
    url = getattr(store, "url", None)
    settings = Settings(workspace=tmp_path / "edge", database_url=url, seed_demo=False, analysis_refresh_seconds=0)
    app = create_app(settings)
    if url is None:
        settings = Settings(workspace=store.workspace, seed_demo=False, analysis_refresh_seconds=0)  # type: ignore[attr-defined]
        app = create_app(settings)
    with TestClient(app) as c:
        yield c


def key(client: TestClient, role: str, *municipalities: str) -> dict[str, str]:
    return {"X-API-Key": create_key(client.app.state.store, role, role, list(municipalities))[1]}


def test_create_update_replace_delete(client: TestClient) -> None:
    editor = key(client, "editor", "3303")
    patched = client.patch("/collections/plan/items/2", json={"properties": {"navn": "Sør – solgt"}},
                           headers={**editor, "If-Match": '"v1"'})
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2 and patched.headers["etag"] == '"v2"'
    item = client.get("/collections/plan/items/2").json()
    assert item["properties"]["navn"] == "Sør – solgt" and item["properties"]["arealformal"] == 1300
    stale = client.patch("/collections/plan/items/2", json={"properties": {"navn": "x"}},
                         headers={**editor, "If-Match": '"v1"'})
    assert stale.status_code == 412

    created = client.post("/collections/plan/items", headers=editor, json={
        "type": "Feature", "properties": {"arealformal": 1600, "navn": "Ny"},
        "geometry": crs84(box(533_000, 6_611_000, 533_100, 6_611_100))})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == 4 and created.headers["location"].endswith("/collections/plan/items/4")

    replaced = client.put("/collections/plan/items/1", headers=editor, json={
        "type": "Feature", "properties": {"arealformal": 1130},
        "geometry": crs84(box(531_000, 6_611_000, 531_300, 6_611_300))})
    assert replaced.status_code == 200, replaced.text
    one = client.get("/collections/plan/items/1").json()["properties"]
    assert one["arealformal"] == 1130 and one["navn"] is None

    assert client.delete("/collections/plan/items/2", headers=editor).status_code == 204
    items = client.get("/collections/plan/items").json()
    assert sorted(f["id"] for f in items["features"]) == [1, 3, 4]  # ids stay: 2 gone, the others unchanged
    assert client.get("/collections/plan").json()["version"] == 5
    assert client.get("/collections/plan/items/3").json()["properties"]["navn"] == "Grense"

    audit = client.get("/admin/audit", headers=key(client, "admin")).json()["entries"]
    assert [(e["action"], e["result"], e["detail"].get("version")) for e in audit] == [
        ("item-delete", "ok", 5), ("item-replace", "ok", 4), ("item-create", "ok", 3),
        ("item-update", "refused", None), ("item-update", "ok", 2)]


def test_roles_scope_and_checks(client: TestClient) -> None:
    body = {"properties": {"navn": "x"}}
    assert client.patch("/collections/plan/items/1", json=body).status_code == 401
    assert client.patch("/collections/plan/items/1", json=body, headers=key(client, "reader")).status_code == 403
    editor = key(client, "editor", "3303")
    foreign = client.patch("/collections/plan/items/3", json=body, headers=editor)  # feature 3 lies in 3334
    assert foreign.status_code == 422 and "outside your municipalities (3303): 3334 (1)" in foreign.text
    assert client.delete("/collections/plan/items/3", headers=editor).status_code == 422
    wrong_type = client.patch("/collections/plan/items/1", json={"properties": {"arealformal": "tolv"}},
                              headers=editor)
    assert wrong_type.status_code == 422 and "holds int values" in wrong_type.text
    unknown = client.patch("/collections/plan/items/1", json={"properties": {"eier": "meg"}}, headers=editor)
    assert unknown.status_code == 422 and "no property 'eier'" in unknown.text
    a_point = client.post("/collections/plan/items", headers=editor, json={
        "type": "Feature", "properties": {"arealformal": 1300}, "geometry": {"type": "Point",
                                                                            "coordinates": [9.6, 59.65]}})
    assert a_point.status_code == 422 and "must hold polygons" in a_point.text
    assert client.patch("/collections/plan/items/99", json=body, headers=editor).status_code == 404
    assert client.patch("/collections/plan/items/3", json=body, headers=key(client, "admin")).status_code == 200
    assert client.get("/collections/plan").json()["version"] == 2  # only the admin's edit was published
