"""Business-area status and net available area on small synthetic cases (EPSG:25832)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point, box

from constraints.business import BUSINESS_COLUMNS, business_areas
from constraints.formal import in_group
from constraints.index import ConstraintIndex
from constraints.overlay import analyse_zones
from constraints.rules import RuleSet

from .conftest import CRS, frame, layer, zoning


def run(zones: gpd.GeoDataFrame, layers: dict, rules: RuleSet, built_up: gpd.GeoDataFrame | None = None
        ) -> pd.DataFrame:
    index = ConstraintIndex(layers, rules)
    findings = analyse_zones(zones, layers, rules, index=index)
    return business_areas(zones, findings, rules, index, built_up=built_up).set_index("zone_id")


def codes_frame(codes: list[int], plantype: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"arealformal": codes, "plantype": plantype})


def test_business_codes_kp_rp_and_pbl1985(rules: RuleSet) -> None:
    business = rules.formal_groups["business"]
    combined = rules.formal_groups["business_combined"]
    cases = [  # (code, plantype, is business, is combined)
        (1300, "kommuneplan", True, False), (1340, "reguleringsplan", True, False),
        (1342, "reguleringsplan", True, False), (1390, "reguleringsplan", True, False),
        (1800, "kommuneplan", False, True), (1826, "reguleringsplan", False, True),
        (1801, "reguleringsplan", False, False),  # bolig/forretning: no business part
        (1150, "kommuneplan", False, False),  # forretninger (retail)
        (5230, "kommuneplan", False, False),  # LNFR spredt næring: not a business area
        (5100, "kommuneplan", False, False), (6001, "reguleringsplan", False, False),
        (130, "kommuneplan", True, False), (130, "reguleringsplan", True, False),  # Erverv (KP) / Kontor (RP)
        (133, "kommuneplan", True, False),  # KP-1985 Industri
        (140, "reguleringsplan", True, False), (140, "kommuneplan", False, False),  # RP Industri / KP fritid
        (140, None, False, False),  # unknown plan type: ambiguous old code is not claimed
        (930, "reguleringsplan", False, True),
    ]
    df = codes_frame([c[0] for c in cases], [c[1] for c in cases])
    assert list(in_group(df, business)) == [c[2] for c in cases]
    assert list(in_group(df, combined)) == [c[3] for c in cases]


def test_building_group_excludes_lnfr_and_green_structure(rules: RuleSet) -> None:
    building = rules.formal_groups["building"]
    df = codes_frame([1001, 1110, 1300, 1800, 5100, 5230, 3001, 6001, 2010, 110, 170, 170, 500],
                     ["kommuneplan"] * 10 + ["kommuneplan", "reguleringsplan", "kommuneplan"])
    assert list(in_group(df, building)) == [True, True, True, True, False, False, False, False, False, True,
                                            False, True, False]


def test_statuses_on_small_cases(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(1_000, 0, 1_100, 40)], arealtype=[21])  # 4 daa dyrka jord inside zone 4
    zones = zoning(
        [box(0, 0, 100, 100), box(200, 0, 300, 100), box(400, 0, 500, 100), box(600, 0, 700, 100),
         box(1_000, 0, 1_100, 100), box(1_200, 0, 1_300, 100), box(1_400, 0, 1_500, 100)],
        arealformal=[1340, 1300, 1300, 1300, 1300, 1110, 1800],
        plantype=["reguleringsplan", "kommuneplan", "kommuneplan", "reguleringsplan", "kommuneplan",
                  "kommuneplan", "kommuneplan"],
        planstatus=[3, 3, 3, 2, 3, 3, 3],
        arealbruksstatus=[None, 2, 1, None, 2, 2, 2],
        fids=[1, 2, 3, 4, 5, 6, 7],
    )
    out = run(zones, empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    assert list(out.reset_index().columns) == list(BUSINESS_COLUMNS)
    assert out.loc[1, "status"] == "pre-approved"
    assert out.loc[2, "status"] == "reserve"
    assert out.loc[3, "status"] == "existing"  # nåværende næring in the KP: not a reserve
    assert out.loc[4, "status"] == "not-in-force" and "planstatus 2" in out.loc[4, "reasons"][0]
    assert out.loc[5, "status"] == "conflict" and out.loc[5, "conflict_of"] == "reserve"
    assert out.loc[5, "red_rules"] == ["farmland-jordvern"]
    assert out.loc[5, "reasons"][0].startswith("farmland-jordvern: 4.0 daa")
    assert "Statsforvalteren (landbruk)" in out.loc[5, "reasons"][0]
    assert out.loc[5, "farmland_daa"] == pytest.approx(4.0)
    assert out.loc[5, "net_available_daa"] == pytest.approx(6.0)
    assert out.loc[5, "red_m2"] == pytest.approx(4_000)
    assert 6 not in out.index  # housing is no business area
    assert out.loc[7, "business_class"] == "combined" and out.loc[7, "status"] == "reserve"
    assert out.loc[1, "kommunenavn"] == "Kongsberg"


def test_reserve_already_regulated_is_cut_or_superseded(rules: RuleSet, empty_layers) -> None:
    kp = box(0, 0, 100, 100)
    zones = zoning([kp, box(0, 0, 40, 100), box(200, 0, 300, 100), box(200, 0, 300, 100)],
                   arealformal=[1300, 1340, 1300, 2010],
                   plantype=["kommuneplan", "reguleringsplan", "kommuneplan", "reguleringsplan"],
                   arealbruksstatus=[2, None, 2, None], fids=[1, 2, 3, 4])
    out = run(zones, empty_layers(), rules)
    assert out.loc[1, "status"] == "reserve"
    assert out.loc[1, "regulated_m2"] == pytest.approx(4_000)
    assert out.loc[1, "counted_m2"] == pytest.approx(6_000)  # only the unregulated remainder is a reserve
    assert out.loc[1, "net_available_m2"] == pytest.approx(6_000)
    assert out.loc[2, "status"] == "pre-approved" and out.loc[2, "net_available_m2"] == pytest.approx(4_000)
    # a KP reserve wholly covered by a vedtatt reguleringsplan (here to road) is no reserve any more
    assert out.loc[3, "status"] == "regulated" and out.loc[3, "net_available_m2"] == pytest.approx(0, abs=1e-6)


def test_net_available_subtracts_union_of_red_parts_and_built_up(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(0, 0, 100, 30)], arealtype=[22])  # 3 000 m² dyrka jord along the south edge
    river = frame([LineString([(190, -1_000), (190, 1_000)])])  # belt reaches x >= 90: 1 000 m², 300 m² shared
    sites = frame([Point(50, 95)], vernetype=["AUT"])  # its 5 m safety zone (§ 6) just fits inside the zone
    built = gpd.GeoDataFrame(geometry=[box(40, 40, 60, 60), box(80, 40, 100, 60)], crs=CRS)  # 400 + 400 m²
    layers = empty_layers(farmland=layer("ar5", "farmland", ar5), watercourse=layer("elv", "watercourse", river),
                          heritage=layer("km", "heritage", sites))
    out = run(zoning([box(0, 0, 100, 100)], arealformal=[1300]), layers, rules, built_up=built)
    row = out.loc[0]
    assert row["status"] == "conflict"
    assert set(row["red_rules"]) == {"farmland-jordvern", "watercourse-belt", "heritage-automatic"}
    heritage_part = 16 * 25 * float(np.sin(2 * np.pi / 32))  # the 5 m circle as the 32-gon GEOS builds
    expected_red = 3_000 + 1_000 - 300 + heritage_part  # union: farmland and belt share 10 x 30 m
    assert row["red_m2"] == pytest.approx(expected_red, rel=1e-9)
    # built-up: 400 m² at (40..60) counts fully; the one at (80..100) loses 200 m² to the river belt
    assert row["built_up_m2"] == pytest.approx(400 + 200)
    assert row["net_available_m2"] == pytest.approx(10_000 - expected_red - 600, rel=1e-9)


def test_pre_approved_on_farmland_stays_pre_approved(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(0, 0, 100, 100)], arealtype=[21])
    out = run(zoning([box(0, 0, 100, 100)], arealformal=[1340], plantype="reguleringsplan", arealbruksstatus=None),
              empty_layers(farmland=layer("ar5", "farmland", ar5)), rules)
    assert out.loc[0, "status"] == "pre-approved"  # jordlova § 2: regulated land is no longer under § 9
    assert out.loc[0, "net_available_m2"] == pytest.approx(10_000)
    assert out.loc[0, "farmland_m2"] == pytest.approx(10_000)


def test_pre_approved_with_heritage_is_conflict(rules: RuleSet, empty_layers) -> None:
    sites = frame([Point(50, 50)], vernetype=["AUT"])
    out = run(zoning([box(0, 0, 100, 100)], arealformal=[1300], plantype="reguleringsplan", arealbruksstatus=None),
              empty_layers(heritage=layer("km", "heritage", sites)), rules)
    assert out.loc[0, "status"] == "conflict" and out.loc[0, "conflict_of"] == "pre-approved"
    assert "kulturminneloven" in out.loc[0, "reasons"][0]
