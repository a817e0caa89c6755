"""The analysis partitioned by municipality on Dask equals one run over everything (SYNTHETIC workload)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from constraints.distributed import ClusterOptions, RunReport, analyse_distributed, dask_client
from constraints.partition import StoreSpec, StoreUnavailable, reach_m
from constraints.publish import analyse_store
from constraints.rules import RuleSet, load_rules
from layers.gpkg_store import GeoPackageStore
from tests.constraints.partition_workload import OVERRIDES, publish_workload

RTOL = 1e-6


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with dask_client(ClusterOptions(workers=2, memory_limit="1GB")) as c:
        yield c


@pytest.fixture(scope="module")
def override_rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(OVERRIDES, encoding="utf-8")
    return load_rules(path)


def assert_same(single: pd.DataFrame, dist: pd.DataFrame, what: str) -> None:
    """Equal frames: same rows in the same order, numbers to 1e-6 relative, everything else equal."""
    assert list(single.columns) == list(dist.columns), what
    assert len(single) == len(dist), f"{what}: {len(single)} rows vs {len(dist)}"
    for col in single.columns:
        a, b = single[col], dist[col]
        if col == "geometry":
            assert all(x.equals(y) for x, y in zip(a, b, strict=True)), f"{what}.{col}"
        elif pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=RTOL, atol=1e-9,
                                       err_msg=f"{what}.{col}")
        elif col == "findings" and isinstance(a.iloc[0] if len(a) else None, str):
            for x, y in zip(a, b, strict=True):
                _same_json(json.loads(x), json.loads(y), f"{what}.{col}")
        elif col == "findings":
            for x, y in zip(a, b, strict=True):
                _same_json(x, y, f"{what}.{col}")
        else:
            left = [_plain(v) for v in a]
            right = [_plain(v) for v in b]
            assert left == right, f"{what}.{col}: first difference at row " \
                f"{next(i for i, (x, y) in enumerate(zip(left, right, strict=True)) if x != y)}"


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _same_json(a: Any, b: Any, what: str) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=RTOL, abs=1e-9), what
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for k in a:
            _same_json(a[k], b[k], f"{what}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), what
        for x, y in zip(a, b, strict=True):
            _same_json(x, y, what)
    else:
        assert _plain(a) == _plain(b), f"{what}: {a!r} != {b!r}"


def test_partitioned_run_equals_one_run(tmp_path: Path, client: Any, override_rules: RuleSet) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    publish_workload(store, split_zoning=True)  # two zoning layers: global ids 1..N over both
    single = analyse_store(store, override_rules)
    report = RunReport()
    dist = analyse_distributed(store, override_rules, client, keep_findings=True, max_zones=80, report=report)

    # the workload really crosses partitions: stripes, reserves regulated from a neighbour, far distances
    assert report.partitions > 4 and report.zones == len(single.objection_risk)
    assert report.far_distances > 100
    biz = single.business_areas
    assert (biz["regulated_m2"] > 0).sum() >= 4
    assert set(biz["status"]) >= {"pre-approved", "reserve", "conflict"}
    far = single.findings[(single.findings["rule_id"] == "heritage-listed-church")]["distance_m"]
    assert far.max() > 10_000 > reach_m(override_rules)  # churches only in one corner: exact far distances

    assert_same(single.findings.reset_index(drop=True), dist.findings, "findings")
    assert_same(single.objection_risk, dist.objection_risk, "objection_risk")
    assert_same(single.business_areas, dist.business_areas, "business_areas")
    assert_same(single.land_reserve, dist.land_reserve, "land_reserve")
    assert dist.provenance == single.provenance
    assert single.objection_risk["objection_risk"].value_counts().to_dict() == \
        dist.objection_risk["objection_risk"].value_counts().to_dict()


def test_worker_without_the_workspace_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no workspace at .* on this worker"):
        StoreSpec("gpkg", str(tmp_path / "not-shared")).open()


def test_workers_read_postgis_themselves(make_store: Any, client: Any) -> None:
    """The workers open the PostGIS store from its URL (nothing but ids and versions is sent to them)."""
    store = make_store("postgis")
    publish_workload(store, n_zones=160)
    rules = load_rules()
    assert StoreSpec.of(store).kind == "postgis"
    single = analyse_store(store, rules)
    dist = analyse_distributed(store, rules, client, keep_findings=True)
    assert_same(single.findings.reset_index(drop=True), dist.findings, "findings")
    assert_same(single.objection_risk, dist.objection_risk, "objection_risk")
    assert_same(single.business_areas, dist.business_areas, "business_areas")
    assert_same(single.land_reserve, dist.land_reserve, "land_reserve")
    assert (single.business_areas["regulated_m2"] > 0).any()
