"""Issue 14 through a store (GeoPackage and PostGIS): declared coverage layers, the published findings with
outcome and texts, the exemption of the proximity band, and the site check against the same layers.

Synthetic geometry near Kongsberg (EPSG:25832): a KP reserve (1300, 100 m x 100 m) 150 m west of a river and
inside a 200-year flood zone's analysed stretch; an in-force RP industrial zone (1340) 150 m east of the river.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

from constraints.publish import BUSINESS_AREAS, OBJECTION_RISK, constraint_index, refresh_derived
from constraints.rules import load_rules
from constraints.site import check_site
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store

X0, Y0 = 536_000.0, 6_614_000.0


def _publish(store: Store, layer_id: str, kind: LayerKind, frame: gpd.GeoDataFrame) -> None:
    store.publish(layer_id, frame, LayerMeta(kind, layer_id, "synthetic test layer"))


def _gdf(geoms: list, **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=25832)


@pytest.fixture
def workspace(store: Store) -> Store:
    reserve = box(X0, Y0, X0 + 100, Y0 + 100)  # river at X0 + 250: 150 m east of it
    regulated = box(X0 + 400, Y0, X0 + 500, Y0 + 100)  # 150 m east of the river
    _publish(store, "kommuner", LayerKind.municipality,
             _gdf([box(X0 - 5_000, Y0 - 5_000, X0 + 5_000, Y0 + 5_000)], kommunenummer=["3303"],
                  kommunenavn=["Kongsberg"]))
    _publish(store, "arealplan", LayerKind.zoning,
             _gdf([reserve, regulated], arealformal=[1300, 1340], plantype=["kommuneplan", "reguleringsplan"],
                  planstatus=[3, 3], arealbruksstatus=[2, None], kommunenummer=["3303", "3303"]))
    _publish(store, "elv", LayerKind.watercourse,
             _gdf([LineString([(X0 + 250, Y0 - 2_000), (X0 + 250, Y0 + 2_000)])]))
    _publish(store, "flom", LayerKind.flood,  # a 200-year zone along the river, not reaching either zone
             _gdf([box(X0 + 200, Y0 - 2_000, X0 + 300, Y0 + 2_000)], gjentaksintervall=[200]))
    return store


def _findings(store: Store, layer_id: str = OBJECTION_RISK) -> dict[tuple[int, str], dict]:
    frame = store.read_frame(store.get_layer(layer_id).current)
    out = {}
    for pos, text in enumerate(frame["findings"].tolist()):
        for f in json.loads(text):
            out[(pos, f["rule_id"])] = f
    return out


def test_published_findings_carry_outcome_texts_and_the_band_exemption(workspace: Store) -> None:
    rules = load_rules()
    refresh_derived(workspace, rules)
    found = _findings(workspace)
    belt = found[(0, "watercourse-belt")]
    assert belt["outcome"] == "near" and belt["risk"] == "YELLOW"
    assert belt["rule_title_en"] == "Building limit along watercourses"
    assert "Kongsberg (3303) has not had its own limit configured; the service assumes 100 m" in belt["text_en"]
    assert "150 m away" in belt["text_en"] and "150 m unna" in belt["text_nb"]
    exempt = found[(1, "watercourse-belt")]  # the in-force RP zone: the band is exempt as well
    assert exempt["outcome"] == "exempt" and exempt["risk"] == "GREEN"
    # no coverage declared for the flood layer: outside its zones the zone is not mapped, and the text says how
    flood = found[(0, "flood-zone")]
    assert flood["outcome"] == "not_mapped" and "covers = 'flom'" in flood["text_en"]
    business = _findings(workspace, BUSINESS_AREAS)
    assert business[(0, "watercourse-belt")]["text_nb"] == belt["text_nb"]


def test_a_declared_coverage_layer_in_the_store_makes_the_flood_rule_clear(workspace: Store) -> None:
    rules = load_rules()
    _publish(workspace, "flom-strekning", LayerKind.coverage,
             _gdf([box(X0 - 1_000, Y0 - 1_000, X0 + 1_000, Y0 + 1_000)], covers=["flom"]))
    refresh_derived(workspace, rules)
    frame = workspace.read_frame(workspace.get_layer(OBJECTION_RISK).current)
    assert "flood-zone" not in json.loads(frame["not_mapped_rules"].iloc[0])
    index = constraint_index(workspace, rules)
    inside = check_site(box(X0 + 220, Y0, X0 + 280, Y0 + 50), index, rules).to_dict()
    flood = next(r for t in inside["themes"] for r in t["rules"] if r["rule_id"] == "flood-zone")
    assert flood["outcome"] == "inside" and flood["hit_area_m2"] == pytest.approx(60 * 50)
    away = check_site(box(X0 - 900, Y0, X0 - 800, Y0 + 100), index, rules).to_dict()
    flood = next(r for t in away["themes"] for r in t["rules"] if r["rule_id"] == "flood-zone")
    assert flood["outcome"] == "clear" and flood["coverage"] == "full"
    outside = check_site(box(X0 + 2_000, Y0, X0 + 2_100, Y0 + 100), index, rules).to_dict()
    flood = next(r for t in outside["themes"] for r in t["rules"] if r["rule_id"] == "flood-zone")
    assert flood["outcome"] == "not_mapped" and "outside what the layer says it covers" in flood["text_en"]
