"""Issue 14: hand-made cases for what the law says, one or more per point (synthetic geometry, EPSG:25832).

The zone is 100 m x 100 m at the origin (10 daa) unless a case says otherwise.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from shapely.geometry import LineString, box

from constraints.overlay import analyse_zones, objection_risk
from constraints.rules import RuleSet, load_rules
from constraints.site import check_site

from .conftest import frame, layer, zoning

ZONE = box(0, 0, 100, 100)


def rows(findings: pd.DataFrame, zone_id: int = 0) -> pd.DataFrame:
    return findings[findings["zone_id"] == zone_id].set_index("rule_id")


# -------------------------------------------------------------------------------------- 1 watercourse belt


def test_in_force_regulation_exempts_the_belt_and_the_proximity_band_alike(rules: RuleSet, empty_layers) -> None:
    # river 50 m (belt) east of zones 0/1 and 150 m (band) east of zones 2/3; 0 and 2 regulated, 1 and 3 not
    river = frame([LineString([(150, -1_000), (150, 1_000)])])
    far_river = frame([LineString([(1_250, -1_000), (1_250, 1_000)])])
    zones = zoning([ZONE, ZONE, box(1_000, 0, 1_100, 100), box(1_000, 0, 1_100, 100)],
                   arealformal=[1340, 1300, 1340, 1300],
                   plantype=["reguleringsplan", "kommuneplan", "reguleringsplan", "kommuneplan"])
    layers = empty_layers(watercourse=layer("elv", "watercourse",
                                            frame(list(river.geometry) + list(far_river.geometry))))
    f = analyse_zones(zones, layers, rules)
    belt = f[f["rule_id"] == "watercourse-belt"].set_index("zone_id")
    assert belt.loc[0, ["risk", "outcome"]].tolist() == ["GREEN", "exempt"]
    assert belt.loc[1, ["risk", "outcome"]].tolist() == ["RED", "inside"]
    assert belt.loc[2, ["risk", "outcome"]].tolist() == ["GREEN", "exempt"]  # the band is exempt too
    assert belt.loc[3, ["risk", "outcome"]].tolist() == ["YELLOW", "near"]
    assert belt.loc[2, "distance_m"] == pytest.approx(150)
    assert "in-force zoning plan" in belt.loc[2, "text_en"] and "150 m away" in belt.loc[2, "text_en"]
    risk = objection_risk(zones, f, rules).set_index("zone_id")["objection_risk"]
    assert risk.to_dict() == {0: "GREEN", 1: "RED", 2: "GREEN", 3: "YELLOW"}


def test_a_plans_own_building_line_towards_the_watercourse_exempts(rules: RuleSet, empty_layers) -> None:
    river = frame([LineString([(130, -1_000), (130, 1_000)])])  # 30 m away: inside the 100 m default belt
    zones = zoning([ZONE, ZONE], arealformal=[1300, 1300], fids=[0, 1])  # both kommuneplan
    zones["byggegrense_vassdrag"] = ["20", None]
    f = analyse_zones(zones, empty_layers(watercourse=layer("elv", "watercourse", river)), rules)
    line, plain = rows(f, 0).loc["watercourse-belt"], rows(f, 1).loc["watercourse-belt"]
    assert line["outcome"] == "exempt" and line["risk"] == "GREEN"
    assert "sets its own building line towards the watercourse (20 m)" in line["text_en"]
    assert "egen byggegrense mot vassdraget (20 m)" in line["text_nb"]
    assert plain["outcome"] == "inside" and plain["risk"] == "RED"


# ---------------------------------------------------------------------------------------------- 2 heritage


@pytest.mark.parametrize(("vernetype", "rule_id", "risk"), [
    ("AUT", "heritage-automatic", "RED"), ("VED", "heritage-decision", "RED"), ("FOR", "heritage-decision", "RED"),
    ("UAV", "heritage-unclarified", "YELLOW"), ("LIST", "heritage-listed-church", "YELLOW"),
    ("WHS", "heritage-world-heritage", "YELLOW"),
])
def test_each_protection_status_has_its_own_rule(rules: RuleSet, empty_layers, vernetype: str, rule_id: str,
                                                  risk: str) -> None:
    site = frame([box(30, 30, 70, 70)], vernetype=[vernetype])  # 1 600 m² inside the zone
    f = rows(analyse_zones(zoning([ZONE], arealformal=[1300]),
                           empty_layers(heritage=layer("km", "heritage", site)), rules))
    heritage = f[f["theme"] == "heritage"]
    assert heritage.loc[rule_id, "risk"] == risk and heritage.loc[rule_id, "outcome"] == "inside"
    others = heritage.drop(index=rule_id)
    assert set(others["outcome"]) <= {"clear", "near"}  # no other heritage rule claims this site


def test_5_m_safety_zone_is_for_automatic_protection_only(rules: RuleSet, empty_layers) -> None:
    # a polygon 3 m east of the zone: AUT's § 6 zone reaches 2 m in (200 m² along 100 m: RED);
    # VED carries the protection of its decision (the polygon itself): near, YELLOW
    strip = box(103, 0, 110, 100)
    for vernetype, rule_id, outcome, risk in (("AUT", "heritage-automatic", "inside", "RED"),
                                              ("VED", "heritage-decision", "near", "YELLOW")):
        f = rows(analyse_zones(zoning([ZONE], arealformal=[1300]), empty_layers(
            heritage=layer("km", "heritage", frame([strip], vernetype=[vernetype]))), rules)).loc[rule_id]
        assert (f["outcome"], f["risk"]) == (outcome, risk)
        if vernetype == "AUT":
            assert f["overlap_m2"] == pytest.approx(200, rel=1e-3)


def test_riksantikvaren_is_named_where_it_is_the_authority(rules: RuleSet) -> None:
    for rule_id in ("heritage-decision", "heritage-listed-church", "heritage-world-heritage"):
        assert "Riksantikvaren" in rules.rule(rule_id).authority
    assert "Riksantikvaren" not in rules.rule("heritage-automatic").authority
    assert "Sametinget" in rules.rule("heritage-automatic").authority


# ---------------------------------------------------------------------------------------------- 3 farmland


def test_farmland_names_pbl_5_4_and_jordlova_9_and_applies_to_roads_and_spredt(rules: RuleSet,
                                                                              empty_layers) -> None:
    ar5 = frame([box(-10, -10, 2_000, 110)], arealtype=[21])
    zones = zoning([ZONE, box(300, 0, 400, 100), box(600, 0, 700, 100), box(900, 0, 1_000, 100)],
                   arealformal=[1300, 2010, 5220, 5100], plantype="kommuneplan", arealbruksstatus=1)
    f = analyse_zones(zones, empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    jv = f[f["rule_id"] == "farmland-jordvern"].set_index("zone_id")
    assert jv["risk"].to_dict() == {0: "RED", 1: "RED", 2: "RED"}  # 5100 LNFR: no finding at all
    assert jv.loc[1, "overlap_daa"] == pytest.approx(10)
    for text in jv["text_nb"]:
        assert "pbl § 5-4" in text and "jordlova § 9" in text and "Statsforvalteren (landbruk)" in text


def test_reserve_settled_in_an_adopted_kommuneplan_notes_pbl_5_5(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(-10, -10, 110, 110)], arealtype=[22])
    recent = date.today().replace(year=date.today().year - 4).isoformat()
    zones = zoning([ZONE, ZONE, ZONE, ZONE], arealformal=[1300] * 4, fids=[0, 1, 2, 3],
                   arealbruksstatus=[2, 2, 2, 1])
    zones["vedtaksdato"] = [recent, None, "2009-06-18", recent]
    f = analyse_zones(zones, empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    jv = f[f["rule_id"] == "farmland-jordvern"].set_index("zone_id")
    # adopted 4 years ago: § 5-5 limits the objection -> YELLOW; unknown or older than 10 years: RED, said so
    assert jv.loc[0, "risk"] == "YELLOW" and "§ 5-5" in jv.loc[0, "text_en"] and "less than 10 years" in (
        jv.loc[0, "text_en"])
    assert jv.loc[1, "risk"] == "RED" and "adoption date is unknown" in jv.loc[1, "text_en"]
    assert jv.loc[2, "risk"] == "RED" and "§ 5-5" in jv.loc[2, "text_nb"]
    assert jv.loc[3, "risk"] == "RED" and "§ 5-5" not in jv.loc[3, "text_en"]  # nåværende: no reserve


def test_dyrkbar_jord_is_yellow_with_its_own_layer_kind(rules: RuleSet, empty_layers) -> None:
    dyrkbar = frame([box(0, 0, 100, 40)])
    f = rows(analyse_zones(zoning([ZONE], arealformal=[1300]),
                           empty_layers(cultivable=layer("nibio", "cultivable_land", dyrkbar)), rules))
    d = f.loc["farmland-dyrkbar"]
    assert d["risk"] == "YELLOW" and d["overlap_daa"] == pytest.approx(4.0) and d["kind"] == "cultivable_land"
    assert "4 daa of cultivable land" in d["text_en"] and f.loc["farmland-jordvern", "risk"] == "GREEN"


# ------------------------------------------------------------------------------------------ 4 flood, slides


def test_1000_year_zone_is_red_for_vulnerable_functions_only(rules: RuleSet, empty_layers) -> None:
    flood = frame([box(-10, -10, 110, 110)], gjentaksintervall=[1000])  # a 1000-year zone only
    zones = zoning([ZONE, ZONE], arealformal=[1160, 1300], fids=[0, 1])
    f = analyse_zones(zones, empty_layers(flood=layer("flom", "flood", flood)), rules)
    school, business = rows(f, 0), rows(f, 1)
    assert school.loc["flood-zone-1000", "risk"] == "RED" and "F3" in school.loc["flood-zone-1000", "text_en"]
    assert school.loc["flood-zone", "risk"] == "GREEN"  # outside the 200-year zone
    assert "flood-zone-1000" not in business.index and business.loc["flood-zone", "risk"] == "GREEN"


def test_awareness_areas_are_yellow_and_hazard_zones_red_with_nve(rules: RuleSet, empty_layers) -> None:
    part = frame([box(0, 0, 100, 30)])
    f = rows(analyse_zones(zoning([ZONE], arealformal=[1300]), empty_layers(
        flood_awareness=layer("af", "flood_awareness", part), landslide=layer("fs", "landslide", part),
        landslide_awareness=layer("as", "landslide_awareness", part)), rules))
    assert f.loc["flood-awareness", "risk"] == "YELLOW" and "not mapped in detail" in f.loc[
        "flood-awareness", "text_en"]
    assert f.loc["landslide-awareness", "risk"] == "YELLOW"
    hazard = f.loc["landslide-hazard"]
    assert hazard["risk"] == "RED" and "TEK17 § 7-3" in hazard["text_nb"] and "NVE" in hazard["text_nb"]
    assert hazard["overlap_daa"] == pytest.approx(3)


# ---------------------------------------------------------------------------------------------- 5 roads


def test_municipal_road_limit_is_the_municipalitys_own_consideration(rules: RuleSet, empty_layers) -> None:
    roads = frame([LineString([(-1_000, 110), (1_000, 110)]), LineString([(-1_000, -40), (1_000, -40)])],
                  vegkategori=["K", "R"])  # kommunal veg 10 m north, riksveg 40 m south
    zones = zoning([ZONE, ZONE], arealformal=[1300, 1300], fids=[0, 1])
    zones["byggegrense_veg"] = [None, "30"]
    f = analyse_zones(zones, empty_layers(road=layer("veg", "road", roads)), rules)
    a, b = rows(f, 0), rows(f, 1)
    assert a.loc["road-municipal", "risk"] == "INTERNAL" and "not an objection" in a.loc["road-municipal", "text_en"]
    assert a.loc["road-main", "risk"] == "YELLOW" and a.loc["road-main", "overlap_m2"] == pytest.approx(1_000)
    # zone 1: the plan's own building line prevails (vegloven § 29) for both roads
    assert b.loc["road-main", "outcome"] == "exempt" and "(30 m)" in b.loc["road-main", "text_en"]
    assert b.loc["road-municipal", "outcome"] == "exempt"
    risk = objection_risk(zones, f, rules).set_index("zone_id")
    assert risk.loc[0, "objection_risk"] == "YELLOW" and risk.loc[0, "yellow_rules"] == ["road-main"]
    assert risk.loc[0, "internal_rules"] == ["road-municipal"] and "own consideration" in risk.loc[0, "summary"]
    assert risk.loc[1, "objection_risk"] == "GREEN"


# -------------------------------------------------------------------------------------------- 6 coverage


def test_hits_only_layer_without_declared_coverage_is_not_mapped_outside_its_zones(rules: RuleSet) -> None:
    flood = frame([box(-10, -10, 50, 110)], gjentaksintervall=[200])
    zones = zoning([ZONE, box(300, 0, 400, 100)], arealformal=[1300, 1300])
    undeclared = analyse_zones(zones, {"flom": layer("flom", "flood", flood, coverage=None)}, rules)
    hit, away = rows(undeclared, 0).loc["flood-zone"], rows(undeclared, 1).loc["flood-zone"]
    assert hit["risk"] == "RED"
    assert away["risk"] == "NOT_MAPPED" and away["outcome"] == "not_mapped"
    assert "does not say which area was assessed" in away["text_en"] and "covers = 'flom'" in away["text_en"]
    assert "--kind coverage" in away["text_nb"]
    # the analysed stretch declared as a coverage layer: outside the zone but inside it is clear
    stretch = frame([box(-500, -500, 500, 500)], covers=["flood"])
    declared = analyse_zones(zones, {"flom": layer("flom", "flood", flood, coverage=None),
                                     "strekning": layer("strekning", "coverage", stretch, coverage=None)}, rules)
    assert rows(declared, 1).loc["flood-zone", "risk"] == "GREEN"
    assert rows(declared, 1).loc["flood-zone", "outcome"] == "clear"


def test_complete_maps_cover_the_municipality_layer_not_their_bounding_box(rules: RuleSet) -> None:
    river = frame([LineString([(5_000, -1_000), (5_000, 1_000)])])  # bbox far from the zones
    zones = zoning([ZONE, box(20_000, 0, 20_100, 100)], arealformal=[1300, 1300], kommunenummer=["3303", None])
    kommune = frame([box(-10_000, -10_000, 10_000, 10_000)], kommunenummer=["3303"], kommunenavn=["Kongsberg"])
    f = analyse_zones(zones, {"elv": layer("elv", "watercourse", river, coverage=None),
                              "k": layer("k", "municipality", kommune, coverage=None)}, rules)
    assert rows(f, 0).loc["watercourse-belt", "risk"] == "GREEN"  # in the region, nothing within 200 m
    outside = rows(f, 1).loc["watercourse-belt"]
    assert outside["risk"] == "NOT_MAPPED" and "outside what the layer says it covers" in outside["text_en"]
    no_region = analyse_zones(zones, {"elv": layer("elv", "watercourse", river, coverage=None)}, rules)
    assert "no municipality layer is loaded" in rows(no_region, 0).loc["watercourse-belt", "text_en"]


# ------------------------------------------------------------------------------------ 7 marginal overlaps


def test_a_sliver_on_a_reserve_is_a_boundary_touch_not_a_conflict(rules: RuleSet, empty_layers,
                                                                    tmp_path: Path) -> None:
    reserve = box(0, 0, 80, 80)  # 6.4 daa
    sliver = box(79.999, 0, 200, 10)  # 0.001 m x 10 m = 0.01 m² inside the reserve
    field = box(60, 0, 200, 10)  # 200 m² inside: a real intrusion
    zones = zoning([reserve, reserve], arealformal=[1300, 1300], fids=[0, 1])
    for geom, outcome, risk in ((sliver, "boundary", "YELLOW"), (field, "inside", "RED")):
        f = analyse_zones(zones.iloc[:1], empty_layers(farmland=layer("ar5", "farmland", frame(
            [geom], arealtype=[21]))), rules)
        jv = rows(f).loc["farmland-jordvern"]
        assert (jv["outcome"], jv["risk"]) == (outcome, risk)
        if outcome == "boundary":
            assert jv["overlap_m2"] == pytest.approx(0.01, rel=1e-3)
            assert "boundary touch (0.01 m²" in jv["text_en"] and "Adjust the zoning boundary" in jv["text_en"]
    strict = tmp_path / "strict.yaml"
    strict.write_text("marginal_overlap: {max_m2: 0, max_share: 0}\n", encoding="utf-8")
    f = analyse_zones(zones.iloc[:1], empty_layers(farmland=layer("ar5", "farmland", frame(
        [sliver], arealtype=[21]))), load_rules(strict))
    assert rows(f).loc["farmland-jordvern", "risk"] == "RED"  # the threshold is configuration


# --------------------------------------------------------------------------- 8 site check vs the collection


def test_site_check_assesses_new_building_the_collection_applies_exemptions(rules: RuleSet,
                                                                             empty_layers) -> None:
    ar5 = frame([box(-10, -10, 110, 110)], arealtype=[21])
    layers = empty_layers(farmland=layer("ar5", "farmland", ar5))
    f = analyse_zones(zoning([ZONE], arealformal=[1340], plantype="reguleringsplan"), layers, rules)
    assert rows(f).loc["farmland-jordvern", "outcome"] == "exempt"
    report = check_site(ZONE, layers, rules, kommunenummer="3303").to_dict()
    farm = next(r for t in report["themes"] for r in t["rules"] if r["rule_id"] == "farmland-jordvern")
    assert farm["risk"] == "RED" and farm["outcome"] == "inside"
    assert report["assessment"] == "new-building"
    assert "exemptions" in report["assessment_en"] and "objection-risk" in report["assessment_en"]
    assert "unntak" in report["assessment_nb"]


def test_site_check_texts_and_distances_for_the_municipality(tmp_path: Path, empty_layers) -> None:
    over = tmp_path / "r.yaml"
    over.write_text('rules:\n  - id: watercourse-belt\n    municipality_overrides:\n      "4005": {zone_m: 50}\n',
                    encoding="utf-8")
    river = frame([LineString([(170, -1_000), (170, 1_000)])])  # 70 m east
    layers = empty_layers(watercourse=layer("elv", "watercourse", river))
    report = check_site(ZONE, layers, load_rules(over), kommunenummer="4005").to_dict()
    belt = next(r for t in report["themes"] for r in t["rules"] if r["rule_id"] == "watercourse-belt")
    assert belt["outcome"] == "near" and belt["zone_m"] == 50
    assert "Notodden (4005) has set 50 m" in belt["text_en"] and "70 m away" in belt["text_en"]
    assert belt["guidance_en"] == belt["text_en"]


# ----------------------------------------------------------------------------------- 10 sources, explain


def test_every_fact_names_a_known_source_and_explain_prints_values_per_municipality(tmp_path: Path) -> None:
    from constraints.explain import explain_rule

    rs = load_rules()
    for rule in rs.rules:
        assert rule.sources, rule.id
    over = tmp_path / "r.yaml"
    over.write_text('rules:\n  - id: watercourse-belt\n    municipality_overrides:\n'
                    '      "3334": {zone_m: 60, note: "KPA Flesberg"}\n', encoding="utf-8")
    text = explain_rule(load_rules(over), "watercourse-belt")
    assert "legal basis: pbl § 1-8 femte ledd, § 11-11 nr. 5" in text
    assert "[pbl-11-11] pbl § 11-11 nr. 5" in text
    assert "3334 Flesberg: zone 60 m, near 200 m (own limit)" in text
    assert "4026 Tinn: zone 100 m, near 200 m (DEFAULT ASSUMPTION (not set by the municipality))" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: flood-zone\n    sources: [{fact: x, source: [nowhere]}]\n", encoding="utf-8")
    with pytest.raises(Exception, match="source 'nowhere' is not in `sources`"):
        load_rules(bad)


def test_a_layer_without_the_attribute_a_rule_selects_on_is_not_mapped_with_the_reason(rules: RuleSet) -> None:
    # a flood layer without `gjentaksintervall`: which return period a zone is cannot be told, so neither flood
    # rule can be assessed (NOT_MAPPED, never GREEN), and the sentence names the attribute
    flood = frame([box(-10, -10, 50, 110)])
    f = rows(analyse_zones(zoning([ZONE], arealformal=[1160]), {"flom": layer("flom", "flood", flood)}, rules))
    for rule_id in ("flood-zone", "flood-zone-1000"):
        assert f.loc[rule_id, "risk"] == "NOT_MAPPED" and f.loc[rule_id, "outcome"] == "not_mapped"
        assert "lacks the attribute 'gjentaksintervall'" in f.loc[rule_id, "text_en"]
        assert "«gjentaksintervall»" in f.loc[rule_id, "text_nb"]


def test_a_watercourse_layer_without_verneplan_is_not_mapped_for_protected_watercourses(
        rules: RuleSet, empty_layers) -> None:
    """N1000-like rivers carry no ``verneplan`` at all: which are protected is unknown, so NOT_MAPPED with the
    reason, never GREEN; the plain belt rule still measures the rivers."""
    from constraints.inputs import ConstraintLayer
    from tests.constraints.conftest import WORLD

    river = frame([LineString([(0, -500), (0, 500)])])  # no verneplan column (synthetic)
    zones = zoning([box(30, 0, 60, 30)], arealformal=[1300])
    bare = ConstraintLayer("n1000", "watercourse", river, coverage=WORLD)
    f = analyse_zones(zones, empty_layers(watercourse=bare), rules).set_index("rule_id")
    assert f.loc["watercourse-protected", "risk"] == "NOT_MAPPED"
    assert "verneplan" in f.loc["watercourse-protected", "text_en"]
    assert f.loc["watercourse-belt", "risk"] == "RED"  # 30 m from the river, inside the 100 m default belt
