"""HTTP: site search, one site with sources, comparison and drive times, on both stores; a premises layer
published by another process appears in the search without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store
from tests.sites import portfolio
from tests.sites.test_register import publish_inputs

SEARCH = {"filters": {"net_available_daa": {"min": 1}}, "criteria": [
    {"attribute": "population_30min", "weight": 50, "direction": "higher"},
    {"attribute": "airport_min", "weight": 50, "direction": "lower"}]}


@pytest.fixture(params=["gpkg", "postgis"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    """A running app over a store with the synthetic portfolio, and a second handle on the same store."""
    if request.param == "gpkg":
        settings = Settings(workspace=tmp_path / "ws", seed_demo=False, analysis_refresh_seconds=0.2)
        other: Store = GeoPackageStore(tmp_path / "ws")
    else:
        from layers.postgis_store import PostGISStore

        url = request.getfixturevalue("postgis_url")
        settings = Settings(database_url=url, seed_demo=False, analysis_refresh_seconds=0.2, database_pool_size=2)
        other = PostGISStore(url, pool_size=1)
    publish_inputs(other)
    (tmp_path / "ws").mkdir(exist_ok=True)
    (tmp_path / "ws" / "sites.yaml").write_text("workforce_minutes: [5, 10, 30]\n", encoding="utf-8")
    if request.param == "postgis":
        settings = settings.model_copy(update={"sites_config": tmp_path / "ws" / "sites.yaml"})
    with TestClient(create_app(settings)) as client:
        yield client, other
    close = getattr(other, "close", None)
    if close is not None:
        close()


def wait_for(client: TestClient, matched: int) -> dict:
    deadline = time.monotonic() + 30
    while True:
        answer = client.post("/sites/search", json=SEARCH)
        if answer.status_code == 200 and answer.json()["numberMatched"] == matched:
            return answer.json()
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)


def test_search_site_compare_and_new_premises(served: tuple[TestClient, Store]) -> None:
    client, other = served
    body = wait_for(client, 2)
    first, second = body["features"]
    # the office: 1250 people within 30 min, airport 17.6 min; the store: 1250 people, airport 2.0 min
    assert first["id"] == "pr-lokaler-2" and first["properties"]["score"] == 100.0
    assert second["properties"]["score"] == 50.0 and second["properties"]["rank"] == 2
    assert [s["points"] for s in second["properties"]["scores"]] == [50.0, 0.0]
    assert second["properties"]["explanation"]["en"].startswith("Score 50 of 100: strongest on population within 30")
    assert first["geometry"]["type"] == "Point" and 9.0 < first["geometry"]["coordinates"][0] < 10.5

    shared = client.get(body["links"][0]["href"])
    assert shared.status_code == 200 and [f["id"] for f in shared.json()["features"]] == ["pr-lokaler-2",
                                                                                         "pr-lokaler-1"]

    site = client.get("/sites/pr-lokaler-1").json()
    assert site["properties"]["rail_station_min"] == pytest.approx(9.3)
    assert {s["id"]: s["version"] for s in site["sources"]["workforce"]} == {"befolkning": 1, "veg": 1}
    assert [f["attribute"] for f in site["facts"]["power"]] == ["substation", "substation_km", "substation_free_mw"]
    assert site["geometry"]["type"] == "Point"

    compared = client.get("/sites/compare?ids=pr-lokaler-1,pr-lokaler-2").json()
    airport = next(a for a in compared["attributes"] if a["attribute"] == "airport_min")
    assert airport["values"] == [17.6, 2.0] and airport["best"] == "pr-lokaler-2"

    # another process publishes a new premises layer; the server's refresh loop adds it to the register
    other.publish("nye-lokaler", portfolio.premises().iloc[:1],
                  LayerMeta(LayerKind.premises, "Nye lokaler (syntetisk)", "synthetic"))
    body = wait_for(client, 3)
    assert "pr-nye-lokaler-1" in {f["id"] for f in body["features"]}


def test_errors_name_the_parameter(served: tuple[TestClient, Store]) -> None:
    client, _ = served
    wait_for(client, 2)
    bad = client.post("/sites/search", json={"criteria": [{"attribute": "nope", "weight": 100,
                                                           "direction": "higher"}]})
    assert bad.status_code == 400 and bad.json()["parameter"] == "criteria[0].attribute"
    bad = client.get("/sites/search?score=airport_min:lower:60")
    assert bad.status_code == 400 and bad.json()["parameter"] == "criteria" and "sum to 100" in bad.text
    missing = client.get("/sites/ba-999999")
    assert missing.status_code == 404 and "ba-999999" in missing.json()["description"]
    bad = client.get("/analyses/drive-time?lon=9.7&lat=59.66&minutes=0,30")
    assert bad.status_code == 400 and bad.json()["parameter"] == "minutes"


def test_drive_time_isochrones_cached_per_network_version(served: tuple[TestClient, Store]) -> None:
    client, other = served
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(*portfolio.J)
    first = client.get(f"/analyses/drive-time?lon={lon}&lat={lat}&minutes=5,10")
    assert first.status_code == 200
    body = first.json()
    assert not body["cached"] and [f["properties"]["minutes"] for f in body["features"]] == [5, 10]
    # within 5 min: cell a (225 s); within 10 min: also cell b (540 s)
    assert [f["properties"]["population"] for f in body["features"]] == [1000, 1200]
    assert body["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert client.get(f"/analyses/drive-time?lon={lon}&lat={lat}&minutes=5,10").json()["cached"]
    polygon = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
        [lon - 0.001, lat - 0.001], [lon + 0.001, lat - 0.001], [lon + 0.001, lat + 0.001],
        [lon - 0.001, lat + 0.001], [lon - 0.001, lat - 0.001]]]}}
    posted = client.post("/analyses/drive-time?minutes=5", json=polygon).json()
    assert posted["features"][0]["properties"]["population"] == 1000
    roads = portfolio.roads()
    roads.loc[2, "vegkategori"] = "E"  # the kommunal veg becomes E-road: a new network version
    other.publish("veg", roads, LayerMeta(LayerKind.road, "veg (syntetisk)"))
    after = client.get(f"/analyses/drive-time?lon={lon}&lat={lat}&minutes=5,10").json()
    assert not after["cached"] and after["network"]["road_layers"] == [{"id": "veg", "version": 2}]
    assert [f["properties"]["population"] for f in after["features"]] == [1200, 1200]  # b is 270 s away now
