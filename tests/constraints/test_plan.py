"""The plan of a partitioned run from the zones' R-tree envelopes (SYNTHETIC zones and municipalities)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from constraints.plan import ZoneOutlines, plan_partitions, read_outlines
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta

X0, Y0 = 200_000.0, 6_600_000.0
NOTE = "SYNTETISKE DATA / SYNTHETIC DATA (plan test)"


def _publish(store: GeoPackageStore) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    # two municipalities side by side, 10 km each; 12 zones in 3301, 6 in 3303, 3 without kommunenummer (two in
    # 3303's polygon, one 30 km east of both), one without geometry
    kommuner = gpd.GeoDataFrame({"kommunenummer": ["3301", "3303"], "kommunenavn": ["Drammen", "Kongsberg"]},
                                geometry=[box(X0, Y0, X0 + 10_000, Y0 + 10_000),
                                          box(X0 + 10_000, Y0, X0 + 20_000, Y0 + 10_000)], crs=25833)
    geoms = ([box(X0 + 500 + 700 * i, Y0 + 1_000, X0 + 900 + 700 * i, Y0 + 1_400.3) for i in range(12)]
             + [box(X0 + 11_000 + 1_000 * i, Y0 + 2_000, X0 + 11_500.7 + 1_000 * i, Y0 + 2_500) for i in range(6)]
             + [box(X0 + 15_000, Y0 + 5_000, X0 + 15_200, Y0 + 5_200), box(X0 + 16_000, Y0 + 5_000,
                                                                             X0 + 16_300, Y0 + 5_100),
                box(X0 + 50_000, Y0 + 5_000, X0 + 50_100, Y0 + 5_100), None])
    knr = ["3301"] * 12 + [" 3303"] * 6 + [None, "", None, "3301"]
    zones = gpd.GeoDataFrame({"kommunenummer": knr, "arealformal": [1300] * len(knr), "note": NOTE},
                             geometry=gpd.GeoSeries(geoms, crs=25833), crs=25833)
    store.publish("kommuner", kommuner, LayerMeta(kind=LayerKind.municipality, title="Kommuner (syntetiske)"))
    store.publish("arealplan", zones, LayerMeta(kind=LayerKind.zoning, title="Arealplan (syntetisk)"))
    return kommuner, store.read_frame(store.get_layer("arealplan").current)


def test_plan_from_the_r_tree_equals_the_plan_from_the_geometries(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    kommuner, zones = _publish(store)
    record = store.get_layer("arealplan").current
    outlines = read_outlines(store, record)
    exact = ZoneOutlines.of_frame(zones)

    assert outlines.fids.tolist() == exact.fids.tolist() == zones.index.tolist()
    assert outlines.knr.tolist() == exact.knr.tolist() == ["3301"] * 12 + ["3303"] * 6 + [None, None, None, "3301"]
    has = ~np.isnan(exact.bounds).any(axis=1)
    assert has.tolist() == [True] * 21 + [False]
    assert np.isnan(outlines.bounds[~has]).all()  # no geometry: no R-tree entry
    # the R-tree keeps 32-bit floats rounded outward: never smaller than the geometry, off by under a metre here
    lo, hi = outlines.bounds[has], exact.bounds[has]
    assert (lo[:, :2] <= hi[:, :2]).all() and (lo[:, 2:] >= hi[:, 2:]).all()
    assert np.abs(lo - hi).max() < 1.0

    for max_zones in (20_000, 5):
        from_rtree = plan_partitions([outlines], [kommuner], max_zones=max_zones)
        from_geoms = plan_partitions([exact], [kommuner], max_zones=max_zones)
        assert [(p.key, p.fids[0].tolist()) for p in from_rtree] == [(p.key, p.fids[0].tolist()) for p in from_geoms]

    plan = {p.key: p for p in plan_partitions([outlines], [kommuner])}
    assert sorted(plan) == ["3301", "3303", "no-geometry", "unknown@12,330"]
    assert plan["3301"].fids[0].tolist() == list(range(1, 13))
    assert plan["3303"].fids[0].tolist() == list(range(13, 21))  # two located by the municipality polygon
    assert plan["unknown@12,330"].fids[0].tolist() == [21]  # 30 km east of both: a 20 km square of its own
    assert plan["no-geometry"].fids[0].tolist() == [22] and plan["no-geometry"].bbox is None
    assert plan["3301"].bbox == pytest.approx((X0 + 500, Y0 + 1_000, X0 + 8_600, Y0 + 1_400.3), abs=1.0)
    stripes = plan_partitions([outlines], [kommuner], max_zones=5)
    assert [p.key for p in stripes if p.key.startswith("3301")] == ["3301/1", "3301/2", "3301/3"]
    assert sum(p.n_zones for p in stripes) == 22
