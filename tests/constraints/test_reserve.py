"""Land-reserve accounting per municipality on a synthetic case with hand-computed numbers."""

from __future__ import annotations

import csv
import io
import json

import pytest
from shapely import box

from constraints.business import business_areas
from constraints.index import ConstraintIndex
from constraints.overlay import analyse_zones
from constraints.reserve import RESERVE_COLUMNS, land_reserve, land_reserve_csv, land_reserve_json
from constraints.rules import RuleSet

from .conftest import frame, layer, zoning


@pytest.fixture
def accounting(rules: RuleSet, empty_layers):
    # Kongsberg (3303): pre-approved 10 daa; reserve 20 daa with 5 daa dyrka jord -> conflict (reserve);
    #                   reserve 8 daa clean; an existing KP area (not counted).
    # Notodden (4005): reserve 12 daa clean; a housing area (no business).
    ar5 = frame([box(200, 0, 250, 100)], arealtype=[21])  # 50 x 100 = 5 000 m² inside the 20 daa reserve
    zones = zoning(
        [box(0, 0, 100, 100), box(200, 0, 400, 100), box(500, 0, 580, 100), box(700, 0, 800, 100),
         box(1_000, 0, 1_120, 100), box(1_200, 0, 1_300, 100)],
        arealformal=[1340, 1300, 1300, 1300, 1300, 1110],
        plantype=["reguleringsplan", "kommuneplan", "kommuneplan", "kommuneplan", "kommuneplan", "kommuneplan"],
        arealbruksstatus=[None, 2, 2, 1, 2, 2],
        kommunenummer=["3303", "3303", "3303", "3303", "4005", "4005"],
    )
    layers = empty_layers(farmland=layer("ar5", "farmland", ar5))
    index = ConstraintIndex(layers, rules)
    findings = analyse_zones(zones, layers, rules, index=index)
    business = business_areas(zones, findings, rules, index)
    return land_reserve(business), findings.attrs["provenance"]


def test_reserve_numbers_per_municipality(accounting) -> None:
    table, _ = accounting
    assert list(table.columns) == list(RESERVE_COLUMNS)
    kb = table.set_index("kommunenummer").loc["3303"]
    assert kb["kommunenavn"] == "Kongsberg"
    assert kb["pre_approved_daa"] == pytest.approx(10)
    assert kb["reserve_daa"] == pytest.approx(8)
    assert kb["conflict_daa"] == pytest.approx(20) and kb["conflict_reserve_daa"] == pytest.approx(20)
    assert kb["business_total_daa"] == pytest.approx(38)
    assert kb["net_available_daa"] == pytest.approx(10 + 8 + 15)  # the conflict loses its 5 daa farmland
    assert kb["farmland_in_reserves_daa"] == pytest.approx(5)
    assert (kb["n_pre_approved"], kb["n_reserve"], kb["n_conflict"]) == (1, 1, 1)
    nt = table.set_index("kommunenummer").loc["4005"]
    assert nt["kommunenavn"] == "Notodden" and nt["reserve_daa"] == pytest.approx(12)
    assert nt["farmland_in_reserves_daa"] == 0


def test_reserve_csv_and_json(accounting) -> None:
    table, provenance = accounting
    rows = list(csv.DictReader(io.StringIO(land_reserve_csv(table))))
    assert [r["kommunenummer"] for r in rows] == ["3303", "4005"]
    assert rows[0]["reserve_daa"] == "8.0" and rows[0]["farmland_in_reserves_daa"] == "5.0"
    doc = land_reserve_json(table, provenance)
    json.dumps(doc)  # JSON-able
    assert doc["region"]["reserve_daa"] == pytest.approx(20)
    assert doc["region"]["n_conflict"] == 1
    target = doc["national_farmland_target"]
    assert target["max_rezoned_daa_per_year"] == 2000 and target["by_year"] == 2030
    assert target["reserves_farmland_daa"] == pytest.approx(5)
    assert target["share_of_one_year_national_quota"] == pytest.approx(5 / 2000)
    assert doc["provenance"]["rules_hash"] == provenance["rules_hash"]
