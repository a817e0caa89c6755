"""Findings per (zone, rule) on synthetic, hand-computed geometry in EPSG:25832."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, Point, box

from constraints.analysis import ZoneAnalysis
from constraints.business import business_areas
from constraints.errors import CRSMismatchError, MissingCRSError, NonMetricCRSError
from constraints.findings import FINDING_COLUMNS
from constraints.index import ConstraintIndex
from constraints.overlay import RISK_COLUMNS, analyse_zones, objection_risk
from constraints.partition import published_findings
from constraints.publish import publishable_frames
from constraints.rules import RuleSet, load_rules

from .conftest import frame, layer, zoning

ZONE = box(0, 0, 100, 100)  # 10 000 m² = 10 daa


def finding(findings: pd.DataFrame, zone_id: int, rule_id: str) -> pd.Series:
    rows = findings[(findings["zone_id"] == zone_id) & (findings["rule_id"] == rule_id)]
    assert len(rows) == 1, f"expected one finding for zone {zone_id} / {rule_id}, got {len(rows)}"
    return rows.iloc[0]


def test_farmland_overlap_is_exact_and_red_without_double_counting(rules: RuleSet, empty_layers) -> None:
    # synthetic AR5: 21 overlaps the zone by 40 x 100 = 4 000 m², 23 by 30 x 30 = 900 m²,
    # 22 lies on top of the 21 polygon (overlapping data) and must not be counted twice,
    # 30 (skog) is not dyrka jord.
    ar5 = frame([box(60, 0, 160, 100), box(0, 0, 30, 30), box(30, 0, 60, 100), box(60, 0, 80, 100)],
                fids=[10, 11, 12, 13], arealtype=[21, 23, 30, 22])
    layers = empty_layers(farmland=layer("ar5", "farmland", ar5))
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]), layers, rules)
    f = finding(findings, 0, "farmland-jordvern")
    assert f["overlap_m2"] == pytest.approx(4_900.0, abs=1e-6)
    assert f["overlap_daa"] == pytest.approx(4.9, abs=1e-9)
    assert f["zone_share"] == pytest.approx(0.49)
    assert f["risk"] == "RED" and f["dok_status"] == "HIT-RED" and f["finding"] == "hit"
    assert sorted(f["hit_ids"]) == [10, 11, 13]
    assert f["hit_layers"] == ["ar5"] * 3
    assert f["distance_m"] == 0
    assert f["authority"] == "Statsforvalteren (landbruk)" and "jordlova § 9" in f["legal_basis"]
    assert list(findings.columns) == list(FINDING_COLUMNS)


def test_farmland_touching_the_zone_edge_is_not_a_hit(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(100, 0, 200, 100)], arealtype=[21])
    findings = analyse_zones(zoning([ZONE], arealformal=[1110]), empty_layers(farmland=layer("ar5", "farmland", ar5)),
                             rules)
    f = finding(findings, 0, "farmland-jordvern")
    assert f["overlap_m2"] == 0 and f["risk"] == "GREEN" and f["hit_ids"] == []


@pytest.mark.parametrize(("gap_m", "risk", "found"), [(4.0, "YELLOW", "boundary"), (6.0, "YELLOW", "near")])
def test_heritage_point_outside_the_zone(rules: RuleSet, empty_layers, gap_m: float, risk: str,
                                         found: str) -> None:
    # an automatically protected site gap_m east of the zone: the 5 m safety zone reaches in at 4 m, not at 6 m
    sites = frame([Point(100 + gap_m, 50)], fids=[7], vernetype=["AUT"])
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]),
                             empty_layers(heritage=layer("kulturminner", "heritage", sites)), rules)
    f = finding(findings, 0, "heritage-automatic")
    assert f["risk"] == risk and f["finding"] == found
    assert f["distance_m"] == pytest.approx(gap_m)
    if found == "boundary":
        # the safety zone reaches 1 m in: a 4 m² boundary touch (below 50 m² and 1 %), "adjust the boundary";
        # circular segment of a 5 m circle cut 4 m from its centre: 25 acos(0.8) - 4 * 3 = 4.0874 m²;
        # the buffer is a 32-gon, which is up to ~2.5 % smaller
        exact = 25 * math.acos(0.8) - 12
        assert f["overlap_m2"] == pytest.approx(exact, rel=0.03)
        assert f["hit_ids"] == [7]
    else:
        assert f["overlap_m2"] == 0 and f["hit_ids"] == []
        assert "6.0 m away" in f["note"]


def test_heritage_listed_buildings_are_not_selected(rules: RuleSet, empty_layers) -> None:
    sites = frame([Point(50, 50)], vernetype=["LIST"])
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]),
                             empty_layers(heritage=layer("kulturminner", "heritage", sites)), rules)
    assert finding(findings, 0, "heritage-automatic")["risk"] == "GREEN"


def test_river_80_m_away_red_with_100_m_belt_yellow_with_50_m_override(tmp_path: Path, empty_layers) -> None:
    rs = load_rules(_write(tmp_path, "belts.yaml", """
rules:
  - id: watercourse-belt
    municipality_overrides:
      "4005": {zone_m: 50}
"""))
    river = frame([LineString([(180, -1_000), (180, 1_000)])], fids=[3])
    zones = zoning([ZONE, ZONE], arealformal=[1300, 1300], kommunenummer=["3303", "4005"], fids=[1, 2])
    findings = analyse_zones(zones, empty_layers(watercourse=layer("elv", "watercourse", river)), rs)

    a = finding(findings, 1, "watercourse-belt")  # municipality A: default 100 m belt
    assert a["risk"] == "RED" and a["zone_m"] == 100 and a["zone_m_source"] == "default"
    assert a["overlap_m2"] == pytest.approx(20 * 100)  # the belt reaches 20 m into the zone
    assert a["distance_m"] == pytest.approx(80)
    assert a["hit_ids"] == [3]
    assert "100 m is the default" in a["note"]

    b = finding(findings, 2, "watercourse-belt")  # municipality B: its own 50 m belt
    assert b["risk"] == "YELLOW" and b["finding"] == "near"
    assert b["zone_m"] == 50 and b["zone_m_source"] == "municipality:4005" and b["proximity_m"] == 200
    assert b["overlap_m2"] == 0 and b["hit_ids"] == []
    assert "50 m set by municipality 4005" in b["note"]


def test_overlapping_buffers_are_unioned(rules: RuleSet, empty_layers) -> None:
    # two parallel river channels 10 m apart, 50 and 60 m east of the zone: the belts overlap;
    # the zone area inside the union is the wider reach only: (100 - 50) m x 100 m
    rivers = frame([LineString([(150, -1_000), (150, 1_000)]), LineString([(160, -1_000), (160, 1_000)])])
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]),
                             empty_layers(watercourse=layer("elv", "watercourse", rivers)), rules)
    assert finding(findings, 0, "watercourse-belt")["overlap_m2"] == pytest.approx(50 * 100)


def test_zone_outside_every_coverage_is_not_mapped_never_green(rules: RuleSet) -> None:
    coverage = box(5_000, 5_000, 6_000, 6_000)  # all layers mapped far away
    layers = {
        "ar5": layer("ar5", "farmland", frame([box(5_100, 5_100, 5_200, 5_200)], arealtype=[21]), coverage),
        "km": layer("km", "heritage", frame([Point(5_500, 5_500)], vernetype=["AUT"]), coverage),
        "elv": layer("elv", "watercourse", frame([LineString([(5_000, 5_500), (6_000, 5_500)])]), coverage),
        "flom": layer("flom", "flood", frame([box(5_600, 5_600, 5_700, 5_700)], gjentaksintervall=[200]), coverage),
        "veg": layer("veg", "road", frame([LineString([(5_000, 5_900), (6_000, 5_900)])], vegkategori=["K"]),
                     coverage),
    }
    zones = zoning([ZONE], arealformal=[1300])
    findings = analyse_zones(zones, layers, rules)
    assert set(findings["risk"]) == {"NOT_MAPPED"}
    loaded = findings[findings["coverage"] != "no-layer"]  # kinds not loaded at all (landslide ...) say so
    assert set(loaded["coverage"]) == {"none"} and set(loaded["outcome"]) == {"not_mapped"}
    assert set(loaded["rule_id"]) >= {"farmland-jordvern", "heritage-automatic", "watercourse-belt", "flood-zone"}
    assert set(findings["dok_status"]) == {"NOT-MAPPED"}
    risk = objection_risk(zones, findings, rules)
    assert risk.loc[0, "objection_risk"] == "NOT_MAPPED"


def test_missing_layer_kind_is_not_mapped(rules: RuleSet) -> None:
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]), {}, rules)
    assert set(findings["risk"]) == {"NOT_MAPPED"} and set(findings["coverage"]) == {"no-layer"}


def test_partial_coverage_is_not_mapped_unless_a_hit_is_found(rules: RuleSet) -> None:
    half = box(0, 0, 50, 200)  # covers the west half of zone 0 and of zone 1
    ar5 = frame([box(10, 110, 40, 140)], arealtype=[21])  # 900 m² inside the covered part of zone 1
    layers = {"ar5": layer("ar5", "farmland", ar5, coverage=half)}
    zones = zoning([ZONE, box(0, 100, 100, 200)], arealformal=[1300, 1300])
    findings = analyse_zones(zones, layers, rules)
    f0 = finding(findings, 0, "farmland-jordvern")
    assert f0["risk"] == "NOT_MAPPED" and f0["coverage"] == "partial" and "only part" in f0["note"]
    f1 = finding(findings, 1, "farmland-jordvern")
    assert f1["risk"] == "RED" and f1["coverage"] == "partial" and f1["overlap_m2"] == pytest.approx(900)


def test_ar5_coverage_is_the_union_of_its_polygons_never_the_bounding_box(rules: RuleSet) -> None:
    # wall-to-wall AR5: skog (30) under zone 0 and a field far away; zone 1 lies in the bounding box, on no polygon
    ar5 = frame([box(-10, -10, 110, 110), box(800, 800, 900, 900)], arealtype=[30, 21])
    layers = {"ar5": layer("ar5", "farmland", ar5, coverage=None)}
    zones = zoning([ZONE, box(500, 500, 600, 600)], arealformal=[1300, 1300])
    findings = analyse_zones(zones, layers, rules)
    f0, f1 = finding(findings, 0, "farmland-jordvern"), finding(findings, 1, "farmland-jordvern")
    assert f0["risk"] == "GREEN" and f0["outcome"] == "clear" and f0["coverage"] == "full"
    assert f1["risk"] == "NOT_MAPPED" and f1["coverage"] == "none"
    assert f1["text_en"].startswith("Cultivated land (farmland protection): not mapped here. The area lies outside")


def test_overall_risk_is_the_worst_finding_and_lnfr_gets_no_building_rules(rules: RuleSet, empty_layers) -> None:
    roads = frame([LineString([(-1_000, 110), (1_000, 110)])], vegkategori=["K"])  # 10 m north of zone 0
    ar5 = frame([box(0, 300, 100, 400)], arealtype=[21])  # zone 2 lies on farmland but is LNFR
    layers = empty_layers(road=layer("veg", "road", roads), farmland=layer("ar5", "farmland", ar5))
    zones = zoning([ZONE, box(0, 150, 100, 250), box(0, 300, 100, 400)], arealformal=[1110, 1300, 5100])
    findings = analyse_zones(zones, layers, rules)
    road = finding(findings, 0, "road-municipal")  # the municipality's own road: its own consideration
    assert road["risk"] == "INTERNAL" and road["outcome"] == "inside" and road["level"] == "internal"
    assert (findings["zone_id"] == 2).sum() == 0  # LNFR: no building-rule findings
    risk = objection_risk(zones, findings, rules).set_index("zone_id")
    assert list(risk.reset_index().columns) == list(RISK_COLUMNS)
    assert risk.loc[0, "objection_risk"] == "GREEN" and risk.loc[0, "yellow_rules"] == []
    assert risk.loc[1, "objection_risk"] == "GREEN"
    assert risk.loc[2, "objection_risk"] == "GREEN" and not risk.loc[2, "building"]
    assert risk.loc[2, "summary"].startswith("Rule does not apply")
    assert risk.loc[0, "area_daa"] == pytest.approx(10)


def test_farmland_in_an_in_force_reguleringsplan_is_exempt(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(0, 0, 100, 50)], arealtype=[21])
    zones = zoning([ZONE, ZONE], arealformal=[1340, 1300], plantype=["reguleringsplan", "kommuneplan"])
    findings = analyse_zones(zones, empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    rp = finding(findings, 0, "farmland-jordvern")
    assert rp["risk"] == "GREEN" and rp["finding"] == "exempt" and rp["exempt"]
    assert rp["overlap_m2"] == pytest.approx(5_000) and "jordlova § 2" in rp["note"]
    assert finding(findings, 1, "farmland-jordvern")["risk"] == "RED"


def test_flood_zone_is_red_and_roads_use_the_category_limit(rules: RuleSet, empty_layers) -> None:
    flood = frame([box(90, -50, 300, 50)], gjentaksintervall=[200])
    roads = frame([LineString([(-1_000, 140), (1_000, 140)]), LineString([(-1_000, 120), (1_000, 120)])],
                  vegkategori=["F", "K"])  # fylkesveg 40 m north (inside 50 m), kommunal veg 20 m (outside 15 m)
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]),
                             empty_layers(flood=layer("flom", "flood", flood), road=layer("veg", "road", roads)),
                             rules)
    f = finding(findings, 0, "flood-zone")
    assert f["risk"] == "RED" and f["overlap_m2"] == pytest.approx(10 * 50)
    main = finding(findings, 0, "road-main")
    assert main["risk"] == "YELLOW" and main["hit_ids"] == [0] and main["overlap_m2"] == pytest.approx(10 * 100)
    assert finding(findings, 0, "road-municipal")["risk"] == "GREEN"


def test_municipality_is_filled_from_a_municipality_layer(tmp_path: Path, empty_layers) -> None:
    rs = load_rules(_write(tmp_path, "b.yaml", "rules:\n  - id: watercourse-belt\n    municipality_overrides:\n"
                                               "      '4005': {zone_m: 50}\n"))
    kommuner = frame([box(-1_000, -1_000, 1_000, 1_000)], kommunenummer=["4005"], kommunenavn=["Notodden"])
    river = frame([LineString([(180, -1_000), (180, 1_000)])])
    layers = empty_layers(watercourse=layer("elv", "watercourse", river))
    layers["kommuner"] = layer("kommuner", "municipality", kommuner)
    findings = analyse_zones(zoning([ZONE], arealformal=[1300], kommunenummer=[None]), layers, rs)
    f = finding(findings, 0, "watercourse-belt")
    assert f["kommunenummer"] == "4005" and f["zone_m"] == 50 and f["risk"] == "YELLOW"


def test_crs_mismatch_raises_naming_layers_and_crs(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(0, 0, 10, 10)], crs="EPSG:25833", arealtype=[21])
    with pytest.raises(CRSMismatchError) as err:
        analyse_zones(zoning([ZONE], arealformal=[1300]), empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    text = str(err.value)
    assert "'zoning'" in text and "EPSG:25832" in text and "'ar5'" in text and "EPSG:25833" in text


def test_missing_and_geographic_crs_are_refused(rules: RuleSet) -> None:
    with pytest.raises(MissingCRSError, match="'zoning'"):
        analyse_zones(zoning([ZONE], arealformal=[1300]).set_crs(None, allow_override=True), {}, rules)
    with pytest.raises(NonMetricCRSError, match="EPSG:4326"):
        analyse_zones(zoning([box(9, 59, 9.1, 59.1)], arealformal=[1300], crs="EPSG:4326"), {}, rules)


def test_a_layer_missing_a_selected_field_makes_that_rule_not_mapped_with_the_reason(
        rules: RuleSet, empty_layers) -> None:
    """A heritage layer without vernetype: heritage-automatic is NOT_MAPPED (reason given), other rules still run."""
    heritage = frame([Point(50, 50)], fids=[7], navn=["Gravhaug"])  # synthetic; no vernetype column
    ar5 = frame([box(0, 0, 40, 100)], arealtype=[21])
    layers = empty_layers(heritage=layer("kulturminner", "heritage", heritage), farmland=layer("ar5", "farmland", ar5))
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]), layers, rules)
    f = finding(findings, 0, "heritage-automatic")
    assert f["risk"] == "NOT_MAPPED" and f["coverage"] == "no-layer" and f["hit_ids"] == []
    assert "Layer kulturminner has no field vernetype; the rule selects on it" in f["note"]
    assert finding(findings, 0, "farmland-jordvern")["overlap_m2"] == pytest.approx(4_000)  # others unaffected
    risk = objection_risk(zoning([ZONE], arealformal=[1300]), findings, rules)
    assert risk.loc[0, "objection_risk"] == "RED" and "heritage-automatic" in risk.loc[0, "not_mapped_rules"]


def test_a_second_layer_of_the_kind_with_the_field_still_maps_the_rule(rules: RuleSet, empty_layers) -> None:
    bad = frame([Point(50, 50)], fids=[1], navn=["uten vernetype"])
    good = frame([Point(60, 60)], fids=[2], vernetype=["AUT"])
    layers = empty_layers(heritage=layer("km-ok", "heritage", good))
    layers["km-bad"] = layer("km-bad", "heritage", bad)
    f = finding(analyse_zones(zoning([ZONE], arealformal=[1300]), layers, rules), 0, "heritage-automatic")
    assert f["risk"] == "RED" and f["hit_ids"] == [2] and f["hit_layers"] == ["km-ok"]
    assert "Layer km-bad has no field vernetype" in f["note"]
    index = ConstraintIndex(layers, rules)
    assert index.target("heritage-automatic").missing_fields == (("km-bad", "vernetype"),)


def test_provenance_records_versions_and_rules_hash(rules: RuleSet, empty_layers) -> None:
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]), empty_layers(), rules)
    prov = findings.attrs["provenance"]
    assert prov["rules_hash"] == rules.hash()
    assert prov["inputs"]["farmland"] == {"kind": "farmland", "version": 1}


def test_invalid_zone_and_feature_geometry_is_repaired(rules: RuleSet, empty_layers) -> None:
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])  # self-intersecting: two triangles
    ar5 = frame([box(0, 0, 100, 100)], arealtype=[21])
    findings = analyse_zones(zoning([bowtie], arealformal=[1300]), empty_layers(farmland=layer("ar5", "farmland", ar5)),
                             rules)
    assert finding(findings, 0, "farmland-jordvern")["overlap_m2"] == pytest.approx(5_000)


def test_invalid_constraint_features_are_repaired_when_met(rules: RuleSet, empty_layers) -> None:
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])  # two triangles, 5 000 m²
    far_bowtie = shapely.Polygon([(5_000, 5_000), (5_100, 5_100), (5_100, 5_000), (5_000, 5_100)])
    ar5 = frame([bowtie, far_bowtie], fids=[8, 9], arealtype=[21, 21])
    findings = analyse_zones(zoning([ZONE], arealformal=[1300]), empty_layers(farmland=layer("ar5", "farmland", ar5)),
                             rules)
    assert finding(findings, 0, "farmland-jordvern")["overlap_m2"] == pytest.approx(5_000)
    # validation is lazy: only the feature the analysis touched was checked and repaired
    assert findings.attrs["provenance"]["repaired_geometries"] == {"ar5": 1}


def test_many_zones_match_a_per_zone_reference(rules: RuleSet, empty_layers) -> None:
    """Vectorised result equals a plain per-zone union/intersection (synthetic grid, overlapping features)."""
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 2_000, (300, 2))
    farmland = [box(x, y, x + rng.uniform(20, 90), y + rng.uniform(20, 90)) for x, y in centres]
    ar5 = frame(farmland, arealtype=[21] * len(farmland))
    zone_geoms = [box(x, y, x + 150, y + 120) for x, y in rng.uniform(0, 2_000, (60, 2))]
    findings = analyse_zones(zoning(zone_geoms, arealformal=[1300] * 60),
                             empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    union = shapely.union_all(farmland)
    got = findings[findings["rule_id"] == "farmland-jordvern"].set_index("zone_id")["overlap_m2"]
    for i, z in enumerate(zone_geoms):
        assert got[i] == pytest.approx(z.intersection(union).area, abs=1e-6)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_farmland_that_repair_leaves_empty_is_no_nearest_feature(rules: RuleSet, empty_layers) -> None:
    # SYNTHETIC: fid 5 is a polygon without area (its vertices on one line): made valid it keeps no polygon, so
    # it is no farmland. The second zone meets it (so it is repaired first); neither zone may take a distance
    # from it (NaN or infinity before): both measure to the real field 5 north of them.
    flat = shapely.Polygon([(110, 50), (120, 50), (130, 50)])
    ar5 = frame([flat, box(0, 200, 100, 300)], fids=[5, 6], arealtype=[21, 21])
    zones = zoning([ZONE, box(105, 40, 140, 60)], arealformal=[1300, 1300], fids=[1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        findings = analyse_zones(zones, empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    assert finding(findings, 1, "farmland-jordvern")["distance_m"] == pytest.approx(100.0)
    assert finding(findings, 2, "farmland-jordvern")["distance_m"] == pytest.approx(math.hypot(5, 140))
    assert finding(findings, 2, "farmland-jordvern")["hit_ids"] == []


def test_a_partition_where_every_finding_is_green_converts_for_publishing(rules: RuleSet, empty_layers) -> None:
    # SYNTHETIC: a partition of two zones far from every constraint (all layers empty, mapped everywhere):
    # after the GREEN findings are dropped nothing is left, and each zone publishes an empty findings list
    # (this raised "zip() argument 3 is longer" and stopped the national run at 30 %)
    layers = empty_layers()
    zones = zoning([ZONE, box(200, 0, 300, 100)], arealformal=[1300, 1130], fids=[4, 9])
    index = ConstraintIndex(layers, rules)
    findings = analyse_zones(zones, layers, rules, index=index)
    assert set(findings["risk"]) == {"GREEN"}
    risk = objection_risk(zones, findings, rules)
    business = business_areas(zones, findings, rules, index)
    risk_out, _ = publishable_frames(ZoneAnalysis(published_findings(findings), risk, business, pd.DataFrame(), {}))
    assert risk_out["zone_id"].tolist() == [4, 9]
    assert risk_out["findings"].tolist() == ["[]", "[]"]
    assert risk_out["objection_risk"].tolist() == ["GREEN", "GREEN"]
