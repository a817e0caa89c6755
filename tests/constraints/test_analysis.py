"""The one-call analysis: all derived results share the provenance of one run (synthetic geometry)."""

from __future__ import annotations

from shapely import box

from constraints import run_analysis
from constraints.rules import RuleSet

from .conftest import frame, layer, zoning


def test_run_analysis_returns_every_derived_result(rules: RuleSet, empty_layers) -> None:
    ar5 = frame([box(0, 0, 50, 100)], arealtype=[21])
    zones = zoning([box(0, 0, 100, 100), box(300, 0, 400, 100)], arealformal=[1300, 5100])
    result = run_analysis(zones, empty_layers(farmland=layer("ar5", "farmland", ar5, version=7)), rules)
    assert result.provenance["rules_hash"] == rules.hash()
    assert result.provenance["inputs"]["ar5"]["version"] == 7
    assert result.objection_risk.set_index("zone_id")["objection_risk"].to_dict() == {0: "RED", 1: "GREEN"}
    assert result.business_areas["status"].tolist() == ["conflict"]
    assert result.land_reserve["farmland_in_reserves_daa"].tolist() == [5.0]
    assert result.objection_risk.attrs["provenance"] == result.provenance
