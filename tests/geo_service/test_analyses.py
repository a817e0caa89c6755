"""Derived collections, site check and land reserve over a small synthetic workspace (EPSG:25832).

Hand-computed geometry near Kongsberg: a future business reserve (KP 1300, 200 m x 100 m = 20 daa) half of
which (100 m x 100 m = 10 daa) is fulldyrka jord (AR5 21), and a regulated industrial zone (RP 1340,
planstatus 3, 100 m x 100 m = 10 daa) well away from every constraint.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from constraints.publish import BUSINESS_AREAS, OBJECTION_RISK, is_stale, refresh_derived
from constraints.rules import load_rules
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta

X0, Y0 = 536_000.0, 6_614_000.0
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def _publish(store: GeoPackageStore, layer_id: str, kind: LayerKind, frame: gpd.GeoDataFrame) -> None:
    store.publish(layer_id, frame, LayerMeta(kind, layer_id, "synthetic test layer"))


def zoning() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"arealformal": [1300, 1340], "plantype": ["kommuneplan", "reguleringsplan"], "planstatus": [3, 3],
         "arealbruksstatus": [2, None], "kommunenummer": ["3303", "3303"]},
        geometry=[box(X0, Y0, X0 + 200, Y0 + 100), box(X0 + 1000, Y0 + 1000, X0 + 1100, Y0 + 1100)], crs=25832)


def farmland(code: int = 21) -> gpd.GeoDataFrame:
    # the eastern half of the reserve, plus a forest polygon so the layer covers the whole test area
    return gpd.GeoDataFrame({"arealtype": [code, 30]},
                            geometry=[box(X0 + 100, Y0, X0 + 300, Y0 + 100),
                                      box(X0 - 500, Y0 + 500, X0 + 1500, Y0 + 1500)], crs=25832)


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    store = GeoPackageStore(tmp_path / "ws")
    _publish(store, "kommuner", LayerKind.municipality, gpd.GeoDataFrame(
        {"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]},
        geometry=[box(X0 - 5000, Y0 - 5000, X0 + 5000, Y0 + 5000)], crs=25832))
    _publish(store, "arealplan", LayerKind.zoning, zoning())
    _publish(store, "ar5", LayerKind.farmland, farmland())
    return store


@pytest.fixture
def client(store: GeoPackageStore) -> Iterator[TestClient]:
    settings = Settings(workspace=store.workspace, seed_demo=False, analysis_refresh_seconds=0)
    with TestClient(create_app(settings)) as c:
        yield c


def test_derived_collections_record_inputs_and_rules(store: GeoPackageStore) -> None:
    rules = load_rules()
    assert is_stale(store, rules)
    published = refresh_derived(store, rules)
    assert [(r.layer_id, r.version) for r in published] == [(OBJECTION_RISK, 1), (BUSINESS_AREAS, 1)]
    provenance = store.get_layer(BUSINESS_AREAS).current.provenance
    assert provenance["inputs"] == {"ar5": 1, "arealplan": 1, "kommuner": 1}
    assert provenance["rules_hash"] == rules.hash()
    assert not is_stale(store, rules) and refresh_derived(store, rules) == []

    business = store.read_frame(store.get_layer(BUSINESS_AREAS).current).set_index("zone_id")
    reserve, industry = business.loc[1], business.loc[2]
    assert reserve["status"] == "conflict" and reserve["conflict_of"] == "reserve"
    assert reserve["area_daa"] == pytest.approx(20.0)
    assert reserve["farmland_daa"] == pytest.approx(10.0)
    assert reserve["net_available_daa"] == pytest.approx(10.0)  # the farmland half is under a RED rule
    assert industry["status"] == "pre-approved" and industry["net_available_daa"] == pytest.approx(10.0)

    risk = store.read_frame(store.get_layer(OBJECTION_RISK).current).set_index("zone_id")
    assert risk.loc[1, "objection_risk"] == "RED"
    assert "Statsforvalteren" in risk.loc[1, "authorities"]


def test_new_input_version_makes_derived_stale_and_recomputes(store: GeoPackageStore) -> None:
    rules = load_rules()
    refresh_derived(store, rules)
    _publish(store, "ar5", LayerKind.farmland, farmland(code=30))  # the field is now forest
    assert is_stale(store, rules)
    refresh_derived(store, rules)
    record = store.get_layer(BUSINESS_AREAS).current
    assert record.version == 2 and record.provenance["inputs"]["ar5"] == 2
    business = store.read_frame(record).set_index("zone_id")
    assert business.loc[1, "status"] == "reserve" and business.loc[1, "farmland_daa"] == pytest.approx(0.0)


def test_concurrent_refreshes_publish_once(store: GeoPackageStore) -> None:
    """Two processes refreshing at once (two API workers, or the CLI and a worker) publish one version."""
    exe = Path(sys.executable).with_name("geo-service")
    runs = [subprocess.Popen([str(exe), "analyse", "--workspace", str(store.workspace)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert [v.version for v in store.versions(BUSINESS_AREAS)] == [1]
    assert [v.version for v in store.versions(OBJECTION_RISK)] == [1]
    assert sum(out.count(b"recomputed business-areas") for out, _ in outputs) == 1


def test_rule_file_change_makes_derived_stale(store: GeoPackageStore, tmp_path: Path) -> None:
    refresh_derived(store, load_rules())
    override = tmp_path / "rules.yaml"
    override.write_text("rules:\n  - id: heritage-automatic\n    proximity_m: 80\n", encoding="utf-8")
    assert is_stale(store, load_rules(override))


def test_served_as_collections_with_land_reserve(store: GeoPackageStore, client: TestClient) -> None:
    refresh_derived(store, load_rules())
    ids = {c["id"] for c in client.get("/collections").json()["collections"]}
    assert {OBJECTION_RISK, BUSINESS_AREAS} <= ids
    items = client.get(f"/collections/{BUSINESS_AREAS}/items", params={"status": "pre-approved"}).json()
    assert items["numberMatched"] == 1
    body = client.get("/analyses/land-reserve").json()
    kongsberg = next(m for m in body["municipalities"] if m["kommunenummer"] == "3303")
    assert kongsberg["pre_approved_daa"] == pytest.approx(10.0)
    assert kongsberg["conflict_reserve_daa"] == pytest.approx(20.0)
    assert kongsberg["farmland_in_reserves_daa"] == pytest.approx(10.0)
    csv = client.get("/analyses/land-reserve.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    header, row = csv.text.splitlines()[:2]
    assert header.startswith("kommunenummer,kommunenavn,pre_approved_daa") and row.startswith("3303,Kongsberg,10.0")


def test_site_check_in_working_crs(client: TestClient) -> None:
    # 100 m x 50 m site: its eastern half (50 m x 50 m = 2.5 daa) lies on fulldyrka jord
    site = box(X0 + 50, Y0 + 20, X0 + 150, Y0 + 70)
    body = {"type": "Feature", "properties": {}, "geometry": site.__geo_interface__}
    report = client.post("/analyses/site-check", params={"crs": EPSG.format(25832)}, json=body).json()
    assert report["area_daa"] == pytest.approx(5.0)
    assert report["kommunenavn"] == "Kongsberg" and report["objection_risk"] == "RED"
    farmland_theme = next(t for t in report["themes"] if t["theme"] == "farmland")
    assert farmland_theme["status"] == "HIT-RED"
    hit = next(r for r in farmland_theme["rules"] if r["risk"] == "RED")
    assert hit["hit_area_daa"] == pytest.approx(2.5) and hit["distance_m"] == pytest.approx(0.0)
    assert "jordlova" in hit["legal_basis"]
    watercourse = next(t for t in report["themes"] if t["theme"] == "watercourse")
    assert watercourse["status"] == "NOT-MAPPED"  # no watercourse layer: never GREEN


def test_site_check_in_crs84_and_html(client: TestClient) -> None:
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(25832, 4326, always_xy=True)
    ring = [to_lonlat.transform(x, y) for x, y in
            [(X0 + 1010, Y0 + 1010), (X0 + 1090, Y0 + 1010), (X0 + 1090, Y0 + 1090), (X0 + 1010, Y0 + 1090),
             (X0 + 1010, Y0 + 1010)]]
    geometry = {"type": "Polygon", "coordinates": [ring]}
    report = client.post("/analyses/site-check", json=geometry).json()
    assert report["area_m2"] == pytest.approx(6400.0, rel=1e-4)
    farmland_theme = next(t for t in report["themes"] if t["theme"] == "farmland")
    jordvern = next(r for r in farmland_theme["rules"] if r["rule_id"] == "farmland-jordvern")
    assert jordvern["status"] == "NO-HIT-GREEN" and jordvern["outcome"] == "clear"
    assert jordvern["text_en"].startswith("Cultivated land (farmland protection): no cultivated land")
    # no dyrkbar-jord layer is loaded: the theme is not mapped, never green
    dyrkbar = next(r for r in farmland_theme["rules"] if r["rule_id"] == "farmland-dyrkbar")
    assert dyrkbar["outcome"] == "not_mapped" and "No layer of kind 'cultivable_land'" in dyrkbar["text_en"]
    assert farmland_theme["status"] == "NOT-MAPPED"
    assert report["assessment"] == "new-building" and "exemptions" in report["assessment_en"]
    page = client.post("/analyses/site-check?f=html", json=geometry)
    assert page.headers["content-type"].startswith("text/html") and "6,4 daa" in page.text  # bokmål: decimal comma


@pytest.mark.parametrize("body", [
    {"type": "Point", "coordinates": [9.6, 59.6]},
    {"type": "Polygon", "coordinates": "nonsense"},
    {"no": "type"},
    {"type": "FeatureCollection", "features": []},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
])
def test_site_check_rejects_bad_geometry(client: TestClient, body: dict) -> None:
    r = client.post("/analyses/site-check", json=body)
    assert r.status_code == 400 and r.json()["description"]


def test_land_reserve_404_before_analysis(client: TestClient) -> None:
    r = client.get("/analyses/land-reserve")
    assert r.status_code == 404 and "business-areas" in r.json()["description"]
