"""What changed between two versions: features added/removed/changed by identity, and for objection-risk the
zones whose risk moved and the rules that moved it (synthetic layers near Kongsberg, EPSG:25832)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from constraints.publish import refresh_derived
from constraints.rules import load_rules
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.diff import diff_versions
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta

X0, Y0 = 536_000.0, 6_614_000.0


def _zoning(ids: list[str], formal: list[int]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"lokalid": ids, "arealformal": formal, "plantype": ["kommuneplan"] * len(ids),
                             "planstatus": [3] * len(ids), "arealbruksstatus": [2] * len(ids),
                             "kommunenummer": ["3303"] * len(ids)},
                            geometry=[box(X0 + 300 * i, Y0, X0 + 300 * i + 200, Y0 + 100)
                                      for i in range(len(ids))], crs=25832)


def test_diff_by_key_and_by_geometry() -> None:
    old = _zoning(["a", "b", "c"], [1300, 1300, 1110])
    new = _zoning(["a", "b", "d"], [1300, 1340, 1300])
    d = diff_versions(old, new)
    assert d.key == "lokalid" and d.added == ["d"] and d.removed == ["c"]
    assert [(c.key, c.fields) for c in d.changed] == [("b", ["arealformal"])] and d.unchanged == 1
    by_geom = diff_versions(old.drop(columns="lokalid"), new.drop(columns="lokalid"))
    assert by_geom.key == "geometry" and by_geom.added == [] and by_geom.removed == []  # same outlines
    assert [c.fields for c in by_geom.changed] == [["arealformal"], ["arealformal"]]  # b and c/d re-zoned


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, GeoPackageStore]]:
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("kommuner", gpd.GeoDataFrame({"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]},
                                               geometry=[box(X0 - 5000, Y0 - 5000, X0 + 5000, Y0 + 5000)],
                                               crs=25832), LayerMeta(LayerKind.municipality, "Kommuner (test)"))
    store.publish("arealplan", _zoning(["a", "b"], [1300, 1300]), LayerMeta(LayerKind.zoning, "Arealplan (test)"))
    store.publish("ar5", gpd.GeoDataFrame({"arealtype": [30]}, geometry=[box(X0 - 500, Y0 - 500, X0 + 1500, Y0 + 500)],
                                          crs=25832), LayerMeta(LayerKind.farmland, "AR5 (test)"))
    refresh_derived(store, load_rules())
    # version 2 of AR5: zone "a" (x 0-200) becomes half fulldyrka jord
    store.publish("ar5", gpd.GeoDataFrame({"arealtype": [21, 30]}, geometry=[
        box(X0 + 100, Y0 - 500, X0 + 200, Y0 + 500), box(X0 + 200, Y0 - 500, X0 + 1500, Y0 + 500)], crs=25832),
        LayerMeta(LayerKind.farmland, "AR5 (test)"))
    refresh_derived(store, load_rules())
    app = create_app(Settings(workspace=tmp_path / "ws", seed_demo=False, analysis_refresh_seconds=0))
    with TestClient(app) as c:
        yield c, store


def test_risk_changes_and_why(client: tuple[TestClient, GeoPackageStore]) -> None:
    c, _ = client
    body = c.get("/collections/objection-risk/changes?from=1&to=2").json()
    assert body["counts"]["added"] == 0 and body["counts"]["removed"] == 0
    moved = body["risk_changes"]
    assert len(moved) == 1 and moved[0]["to"] == "RED"
    assert {"rule_id": "farmland-jordvern", "from": "GREEN", "to": "RED"} in moved[0]["rules"]
    page = c.get("/collections/objection-risk/changes", headers={"accept": "text/html"}).text
    assert "Endringer i" in page and "Dyrka jord (AR5 21, 22, 23): Grønn – ingen kjent konflikt → Rød" in page
    en = c.get("/collections/objection-risk/changes?lang=en", headers={"accept": "text/html"}).text
    assert "Zones whose objection risk changed (1)" in en
    ar5 = c.get("/collections/ar5/changes").json()
    assert ar5["from"] == 1 and ar5["to"] == 2 and ar5["key"] == "geometry"
    assert ar5["counts"] == {"added": 2, "removed": 1, "changed": 0, "unchanged": 0}
    bad = c.get("/collections/ar5/changes?from=2&to=1")
    assert bad.status_code == 400
    assert c.get("/collections/ar5/changes?from=9").status_code == 404
