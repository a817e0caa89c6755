"""The analysis's fast paths give the results of the straightforward ones (issue 17, "results identical").

SYNTHETIC DATA: zones, separate farmland fields (a coverage of 2 400 parts), touching fields, streams and
heritage points near Kongsberg. The whole refresh (``refresh_derived``) runs twice on one GeoPackage store:
with the fast paths, and with each replaced by the plain computation it stands for (global union with
coverage check, prepared-geometry coverage predicates, full re-measure of RED parts, JSON through
``_plain``). Areas must agree to 1e-6 relative, statuses and findings exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from constraints import business, coverage, measure, publish
from constraints._parallel import PreparedPerThread
from constraints.rules import load_rules
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta

X0, Y0 = 530_000.0, 6_610_000.0


def _stars(rng: np.random.Generator, centres: np.ndarray, r0: float, r1: float, k: int = 12) -> np.ndarray:
    ang = np.sort(rng.uniform(0, 2 * np.pi, (len(centres), k)), axis=1)
    r = rng.uniform(r0, r1, (len(centres), k))
    ring = np.stack([centres[:, :1] + r * np.cos(ang), centres[:, 1:] + r * np.sin(ang)], axis=-1)
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def region(seed: int = 17) -> dict[str, tuple[LayerKind, gpd.GeoDataFrame]]:
    """SYNTHETIC: 400 zones over a 10 x 8 km area with fields, streams, heritage and one municipality."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(60), np.arange(40))
    centres = np.column_stack([X0 + gx.ravel() * 160.0 + 80, Y0 + gy.ravel() * 160.0 + 80])
    fields = _stars(rng, centres, 50, 78)  # separate fields
    blocks = shapely.box(X0 + 10_000 + np.arange(30) * 100.0, Y0, X0 + 10_100 + np.arange(30) * 100.0, Y0 + 400)
    farm = gpd.GeoDataFrame({"arealtype": rng.choice([21, 22, 23, 30, 50], len(fields) + 30)},
                            geometry=np.concatenate([fields, blocks]), crs=25832)
    zc = np.column_stack([rng.uniform(X0, X0 + 13_000, 400), rng.uniform(Y0, Y0 + 6_400, 400)])
    zones = _stars(rng, zc, 60, 260)
    zones[:20] = [shapely.MultiPolygon([z, shapely.Polygon(np.asarray(shapely.get_coordinates(z)) + 800)])
                  for z in zones[:20]]
    codes = rng.choice([1300, 1340, 1800, 1110, 5100, 1001], 400)
    zoning = gpd.GeoDataFrame({"arealformal": codes,
                               "plantype": rng.choice(["reguleringsplan", "kommuneplan"], 400),
                               "planstatus": rng.choice([3, 3, 3, 2], 400),
                               "arealbruksstatus": rng.choice([1, 2], 400),
                               "planid": [f"syntetisk-{i}" for i in range(400)], "kommunenummer": "3303"},
                              geometry=zones, crs=25832)
    s0 = np.column_stack([rng.uniform(X0, X0 + 13_000, 120), rng.uniform(Y0, Y0 + 6_400, 120)])
    steps = rng.normal(0, 60, (120, 15, 2)).cumsum(axis=1)
    streams = gpd.GeoDataFrame(geometry=shapely.linestrings(s0[:, None, :] + steps), crs=25832)
    heritage = gpd.GeoDataFrame({"vernetype": rng.choice(["AUT", "LIST"], 150)}, geometry=shapely.points(
        np.column_stack([rng.uniform(X0, X0 + 13_000, 150), rng.uniform(Y0, Y0 + 6_400, 150)])), crs=25832)
    kommune = gpd.GeoDataFrame({"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]},
                               geometry=[shapely.box(X0 - 2000, Y0 - 2000, X0 + 16_000, Y0 + 9000)], crs=25832)
    return {"arealplan": (LayerKind.zoning, zoning), "ar5": (LayerKind.farmland, farm),
            "elv": (LayerKind.watercourse, streams), "kulturminner": (LayerKind.heritage, heritage),
            "kommuner": (LayerKind.municipality, kommune)}


def _reference_with_findings(risk: gpd.GeoDataFrame, findings: pd.DataFrame) -> gpd.GeoDataFrame:
    """``publish._with_findings`` as it was before the fast path (pandas records, NaN left for ``_plain``)."""
    out = risk.copy()
    cols = [c for c in publish._FINDING_FIELDS if c in findings.columns]
    keep = (findings["risk"] != "GREEN") | (findings["outcome"] == "exempt")
    relevant = findings[keep]
    grouped: dict[object, list[dict]] = {}
    for zone_id, record in zip(relevant["zone_id"].to_numpy(), relevant[cols].to_dict("records"), strict=True):
        grouped.setdefault(zone_id, []).append(record)
    out["findings"] = [grouped.get(z, []) for z in out["zone_id"].to_numpy()]
    return out


def _slow_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "_with_findings", _reference_with_findings)
    monkeypatch.setattr(coverage, "_union_parts", lambda g: shapely.get_parts(coverage._union_touching(g)))
    monkeypatch.setattr(measure, "MANY_PARTS", 10**12)
    monkeypatch.setattr(publish, "_dumps", lambda v: json.dumps(publish._plain(v), ensure_ascii=False))
    real = business.measure
    monkeypatch.setattr(business, "measure", lambda *a, **k: real(*a, **{**k, "hits_only": False}))


def _published(store: GeoPackageStore) -> dict[str, pd.DataFrame]:
    store_rules = load_rules()
    assert publish.refresh_derived(store, store_rules, force=True)
    return {name: store.read_frame(store.get_layer(name).current) for name in
            (publish.OBJECTION_RISK, publish.BUSINESS_AREAS)}


def test_fast_and_plain_paths_publish_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    for layer_id, (kind, frame) in region().items():
        store.publish(layer_id, frame, LayerMeta(kind, f"SYNTETISK {layer_id}"))
    fast = _published(store)
    with monkeypatch.context() as patch:
        _slow_paths(patch)
        plain = _published(store)
    for name in fast:
        a, b = fast[name].drop(columns="geometry"), plain[name].drop(columns="geometry")
        assert list(a.columns) == list(b.columns) and len(a) == len(b) > 20
        for col in a.columns:
            if pd.api.types.is_float_dtype(a[col]):
                np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-6, atol=1e-6,
                                           err_msg=f"{name}.{col}")
            elif col == "findings":  # JSON text: compact (orjson) on the fast path; the same values
                assert [json.loads(v) for v in a[col]] == [json.loads(v) for v in b[col]], f"{name}.{col}"
            else:
                assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), f"{name}.{col}"
    risk = fast[publish.OBJECTION_RISK]
    assert set(risk["objection_risk"]) >= {"RED", "GREEN"}  # the workload exercises the rules
    coverages = {f["coverage"] for text in risk["findings"] for f in json.loads(text)}
    assert coverages >= {"full", "partial", "none"}
    assert (fast[publish.BUSINESS_AREAS]["farmland_m2"] > 0).any()


def test_union_without_overlay_equals_the_union() -> None:
    rng = np.random.default_rng(3)
    gx, gy = np.meshgrid(np.arange(30), np.arange(30))
    stars = _stars(rng, np.column_stack([gx.ravel() * 160.0, gy.ravel() * 160.0]), 40, 79)
    stars = stars[shapely.is_valid(stars)]  # the engine repairs its input before the union
    touching = shapely.box(np.arange(10) * 10.0 + 10_000, 0, np.arange(10) * 10.0 + 10_010, 10)
    for geoms in (stars, np.concatenate([stars, touching]), touching):
        fast, plain = coverage._union(geoms), shapely.union_all(geoms)
        assert fast.is_valid and fast.area == pytest.approx(plain.area, rel=1e-12)
        assert shapely.get_num_geometries(fast) == shapely.get_num_geometries(plain)
        assert fast.symmetric_difference(plain).area < 1e-6


def test_coverage_of_multi_part_zones_part_by_part() -> None:
    """SYNTHETIC: a coverage of separate squares; a zone of two polygons is covered only if each polygon is."""
    squares = shapely.box(np.arange(100) * 20.0, 0, np.arange(100) * 20.0 + 10, 10)
    coverage = shapely.MultiPolygon(list(squares))
    zones = np.array([
        shapely.MultiPolygon([shapely.box(1, 1, 9, 9), shapely.box(41, 1, 49, 9)]),  # both inside: full
        shapely.MultiPolygon([shapely.box(1, 1, 9, 9), shapely.box(15, 1, 17, 9)]),  # one in a gap: partial
        shapely.MultiPolygon([shapely.box(1, 1, 29, 9), shapely.box(41, 1, 49, 9)]),  # spans a gap: partial
        shapely.MultiPolygon([shapely.box(12, 1, 18, 9), shapely.box(12, 20, 18, 29)]),  # outside: none
        shapely.box(61, 1, 69, 9),  # a single polygon inside: full
    ])
    target = type("Target", (), {"coverage": PreparedPerThread(coverage)})()
    got = measure._coverage_by_parts(zones, target, np.full(len(zones), measure.NONE, dtype=object))
    whole = [measure.FULL if coverage.covers(z) else measure.PARTIAL if coverage.intersects(z) else measure.NONE
             for z in zones]
    assert got.tolist() == whole == ["full", "partial", "partial", "none", "full"]
