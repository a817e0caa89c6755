"""Site check: DOK-arealanalyse-like report for one drawn polygon, fast on a prebuilt index."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import shapely
from shapely import LineString, Point, box

from constraints.errors import SiteGeometryError
from constraints.index import ConstraintIndex
from constraints.rules import RuleSet
from constraints.site import check_site

from .conftest import frame, layer


def test_site_report_per_theme(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(0, 0, 50, 100)], fids=[42], arealtype=[21])
    sites = frame([Point(130, 50)], vernetype=["AUT"])  # 30 m from the site: YELLOW band
    kommuner = frame([box(-1_000, -1_000, 1_000, 1_000)], kommunenummer=["4026"], kommunenavn=["Tinn"])
    layers = empty_layers(farmland=layer("ar5", "farmland", ar5), heritage=layer("km", "heritage", sites))
    del layers["flood"]  # no flood layer loaded: must say NOT-MAPPED, not GREEN
    layers["kommuner"] = layer("kommuner", "municipality", kommuner)
    report = check_site(box(0, 0, 100, 100), layers, rules)
    themes = {t.theme: t for t in report.themes}
    assert report.kommunenummer == "4026" and report.kommunenavn == "Tinn"
    assert report.objection_risk == "RED" and report.status == "HIT-RED"
    farm = themes["farmland"].rules[0]
    assert themes["farmland"].status == "HIT-RED"
    assert farm.hit_area_m2 == pytest.approx(5_000) and farm.hit_area_daa == pytest.approx(5)
    assert farm.share == pytest.approx(0.5) and farm.hit_ids == [42] and farm.coverage == "full"
    assert "jordlova" in farm.legal_basis and farm.guidance_nb and farm.guidance_en
    assert themes["heritage"].status == "HIT-YELLOW"
    assert themes["heritage"].rules[0].distance_m == pytest.approx(30)
    assert themes["flood"].status == "NOT-MAPPED" and themes["flood"].rules[0].coverage == "no-layer"
    assert themes["watercourse"].status == "NO-HIT-GREEN"
    assert themes["road"].status == "NO-HIT-GREEN" and len(themes["road"].rules) == 2
    body = report.to_dict()
    json.dumps(body)
    assert body["provenance"]["rules_hash"] == rules.hash()


def test_site_uses_the_municipality_belt(tmp_path, empty_layers) -> None:
    from constraints.rules import load_rules

    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - id: watercourse-belt\n    municipality_overrides:\n      '3338': {zone_m: 30}\n")
    rs = load_rules(path)
    layers = empty_layers(watercourse=layer("elv", "watercourse", frame([LineString([(140, -500), (140, 500)])])))
    index = ConstraintIndex(layers, rs)
    assert check_site(box(0, 0, 100, 100), index, rs, kommunenummer="3303").objection_risk == "RED"
    report = check_site(box(0, 0, 100, 100), index, rs, kommunenummer="3338")
    belt = next(r for t in report.themes for r in t.rules if r.rule_id == "watercourse-belt")
    assert belt.status == "HIT-YELLOW" and belt.zone_m == 30 and belt.zone_m_source == "municipality:3338"


def test_site_check_with_a_heritage_layer_lacking_vernetype_is_not_mapped_with_the_reason(
        rules: RuleSet, empty_layers) -> None:
    layers = empty_layers(heritage=layer("km", "heritage", frame([Point(50, 50)], navn=["Gravhaug"])))
    report = check_site(box(0, 0, 100, 100), layers, rules)
    heritage = {t.theme: t for t in report.themes}["heritage"]
    result = heritage.rules[0]
    assert heritage.status == "NOT-MAPPED" and result.hit_ids == []
    assert result.note_en.startswith("Layer km has no field vernetype; the rule selects on it")
    assert result.note_nb.startswith("Laget km mangler feltet vernetype")


def test_empty_site_is_refused(rules: RuleSet) -> None:
    with pytest.raises(SiteGeometryError):
        check_site(shapely.Polygon(), {}, rules)


def test_site_check_is_fast_on_a_prebuilt_region_scale_index(rules: RuleSet, empty_layers) -> None:
    """Synthetic: 100 000 farmland parcels, 10 000 stream lines, 5 000 heritage points over 60 x 60 km."""
    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 60_000, (100_000, 2))
    ar5 = frame(list(shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 120, xy[:, 1] + 90)),
                arealtype=list(rng.choice([21, 22, 23, 30], len(xy))))
    starts = rng.uniform(0, 60_000, (10_000, 2))
    steps = rng.normal(0, 80, (10_000, 12, 2)).cumsum(axis=1) + starts[:, None, :]
    rivers = frame(list(shapely.linestrings(steps)))
    pts = rng.uniform(0, 60_000, (5_000, 2))
    heritage = frame(list(shapely.points(pts)), vernetype=list(rng.choice(["AUT", "LIST"], len(pts))))
    layers = empty_layers(farmland=layer("ar5", "farmland", ar5), watercourse=layer("elv", "watercourse", rivers),
                          heritage=layer("km", "heritage", heritage))
    index = ConstraintIndex(layers, rules)
    check_site(box(100, 100, 200, 200), index, rules)  # warm up
    sites = [box(x, y, x + 400, y + 300) for x, y in rng.uniform(1_000, 59_000, (20, 2))]
    started = time.perf_counter()
    reports = [check_site(s, index, rules, kommunenummer="3303") for s in sites]
    per_site = (time.perf_counter() - started) / len(sites)
    assert per_site < 0.25, f"site check took {per_site * 1000:.0f} ms"
    assert all(r.objection_risk in {"RED", "YELLOW", "GREEN"} for r in reports)
