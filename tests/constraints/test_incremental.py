"""Incremental derived refresh (``constraints.incremental``): random edits, the published results equal a full
recompute, and only the zones an edit can affect are recomputed.

SYNTHETIC DATA, built here in EPSG:25832 near Kongsberg: two municipalities side by side (3006 west, 3007 east),
each with its own zoning layer (kommuneplan grid with business reserves, and in-force reguleringsplan zones over
some of them), AR5-like farmland parcels, streams, heritage points, a municipality layer, and a landslide
awareness layer that the test rule set does not read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.affinity import translate

from constraints import publish
from constraints.publish import BUSINESS_AREAS, OBJECTION_RISK, analyse_store, current_inputs, refresh_derived
from constraints.rules import RuleSet, load_rules
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import FID_COLUMN, LayerMeta, Store

X0, Y0 = 540_000.0, 6_610_000.0
SIDE = 3_000.0  # each municipality is SIDE x SIDE metres
KNR = ("3006", "3007")


def _rules(tmp_path: Path) -> RuleSet:
    """The default rules with landslide awareness switched off (a kind no rule reads)."""
    override = tmp_path / "rules.yaml"
    override.write_text("rules:\n  - id: landslide-awareness\n    enabled: false\n", encoding="utf-8")
    return load_rules(override)


def _zoning(rng: np.random.Generator, m: int) -> gpd.GeoDataFrame:
    """A kommuneplan grid (6 x 6 cells of 500 m) and ~8 in-force reguleringsplan zones over business cells."""
    x0 = X0 + m * SIDE
    geoms, rows = [], []
    for j in range(6):
        for i in range(6):
            geoms.append(shapely.box(x0 + i * 500, Y0 + j * 500, x0 + (i + 1) * 500, Y0 + (j + 1) * 500))
            code = int(rng.choice([1300, 1300, 1110, 5100, 1800, 2010]))
            rows.append({"arealformal": code, "plantype": "kommuneplan", "planstatus": 3,
                         "arealbruksstatus": int(rng.choice([1, 2, 2])),
                         "kommunenummer": None if rng.random() < 0.1 else KNR[m], "planid": f"KP-{KNR[m]}"})
    business = [k for k, r in enumerate(rows) if r["arealformal"] in (1300, 1800)]
    for n, k in enumerate(rng.choice(business, size=min(8, len(business)), replace=False)):
        cx, cy = shapely.centroid(geoms[k]).coords[0]
        size = float(rng.uniform(120, 420))
        geoms.append(shapely.box(cx - size / 2 + rng.uniform(-150, 150), cy - size / 2, cx + size / 2, cy + size / 2))
        rows.append({"arealformal": int(rng.choice([1300, 1340, 1110])), "plantype": "reguleringsplan",
                     "planstatus": int(rng.choice([3, 3, 2])), "arealbruksstatus": 1, "kommunenummer": KNR[m],
                     "planid": f"RP-{KNR[m]}-{n}"})
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=25832)


def _farmland(rng: np.random.Generator, n: int = 500) -> gpd.GeoDataFrame:
    cells = rng.choice(60 * 30, size=n, replace=False)
    geoms = [shapely.box(X0 + (c % 60) * 100 + 5, Y0 + (c // 60) * 100 + 5, X0 + (c % 60) * 100 + 95,
                         Y0 + (c // 60) * 100 + 95) for c in cells]
    return gpd.GeoDataFrame({"arealtype": rng.choice([21, 22, 23, 30], size=n)}, geometry=geoms, crs=25832)


def _streams(rng: np.random.Generator, n: int = 8) -> gpd.GeoDataFrame:
    lines = []
    for _ in range(n):
        x, y = rng.uniform(X0, X0 + 2 * SIDE), rng.uniform(Y0, Y0 + SIDE)
        steps = rng.normal(0, 120, size=(6, 2)).cumsum(axis=0) + (x, y)
        lines.append(shapely.LineString(steps))
    return gpd.GeoDataFrame({"navn": [f"Bekk {k}" for k in range(n)], "verneplan": [None] * n},
                            geometry=lines, crs=25832)


def _heritage(rng: np.random.Generator, n: int = 40) -> gpd.GeoDataFrame:
    points = shapely.points(rng.uniform(X0, X0 + 2 * SIDE, n), rng.uniform(Y0, Y0 + SIDE, n))
    return gpd.GeoDataFrame({"vernetype": rng.choice(["AUT", "VED", "UAV", "LIST"], size=n)},
                            geometry=points, crs=25832)


def _municipalities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kommunenummer": list(KNR), "kommunenavn": ["Kongsberg", "Ringerike"]},
                            geometry=[shapely.box(X0 + m * SIDE, Y0, X0 + (m + 1) * SIDE, Y0 + SIDE) for m in (0, 1)],
                            crs=25832)


def build(store: Store, seed: int = 17) -> None:
    """Publish the synthetic workspace (every layer labelled synthetic)."""
    rng = np.random.default_rng(seed)
    meta = "SYNTETISKE DATA / SYNTHETIC DATA (tests)"
    for m in (0, 1):
        store.publish(f"kp-{KNR[m]}", _zoning(rng, m), LayerMeta(LayerKind.zoning, f"Plan {KNR[m]}", meta))
    store.publish("ar5", _farmland(rng), LayerMeta(LayerKind.farmland, "AR5", meta))
    store.publish("elv", _streams(rng), LayerMeta(LayerKind.watercourse, "Elver", meta))
    store.publish("kulturminner", _heritage(rng), LayerMeta(LayerKind.heritage, "Kulturminner", meta))
    store.publish("kommuner", _municipalities(), LayerMeta(LayerKind.municipality, "Kommuner", meta))


# ------------------------------------------------------------------------------------------------ edits


def _republish(store: Store, layer_id: str, frame: gpd.GeoDataFrame, keep_ids: bool) -> None:
    """A new version: with ``keep_ids`` the feature ids stay (as the edit API does), else they are renumbered
    in row order (as `layers add` of a new file does)."""
    record = store.get_layer(layer_id)
    if keep_ids:
        frame = frame.copy()
        frame[FID_COLUMN] = frame.index.to_numpy()
    else:
        frame = frame.reset_index(drop=True)
    store.publish(layer_id, frame, LayerMeta(record.kind, record.title, record.description))


def edit_constraints(store: Store, rng: np.random.Generator, layer_id: str, n: int) -> None:
    """``n`` random edits of one constraint layer: move, attribute change, remove or add features."""
    frame = store.read_frame(store.get_layer(layer_id).current)
    for _ in range(n):
        op = rng.choice(["move", "attribute", "remove", "add"])
        k = frame.index[int(rng.integers(len(frame)))]
        if op == "move":
            frame.loc[k, "geometry"] = translate(frame.loc[k, "geometry"], *rng.uniform(-150, 150, 2))
        elif op == "attribute" and "arealtype" in frame:
            frame.loc[k, "arealtype"] = int(rng.choice([21, 22, 23, 30]))
        elif op == "attribute" and "vernetype" in frame:
            frame.loc[k, "vernetype"] = str(rng.choice(["AUT", "VED", "UAV", "LIST"]))
        elif op == "remove" and len(frame) > 2:
            frame = frame.drop(index=k)
        else:
            row = frame.loc[[k]].copy()
            row.index = [int(frame.index.max()) + 1]
            row["geometry"] = [translate(row.geometry.iloc[0], *rng.uniform(-300, 300, 2))]
            frame = pd.concat([frame, row])
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=25832)
    _republish(store, layer_id, frame, keep_ids=bool(rng.random() < 0.5))


def edit_zoning(store: Store, rng: np.random.Generator, layer_id: str, n: int) -> None:
    """One zone removed, then ``n`` random edits of one municipality's zoning: formål, reshape, remove or add."""
    frame = store.read_frame(store.get_layer(layer_id).current)
    m = KNR.index(layer_id.removeprefix("kp-"))
    home = shapely.box(X0 + m * SIDE, Y0, X0 + (m + 1) * SIDE, Y0 + SIDE)
    frame = frame.drop(index=frame.index[len(frame) // 3])  # the zones after it get new ids (and so all later layers)
    for _ in range(n):
        op = rng.choice(["formal", "reshape", "remove", "add"])
        k = frame.index[int(rng.integers(len(frame)))]
        if op == "formal":
            frame.loc[k, "arealformal"] = int(rng.choice([1300, 1110, 5100, 1340]))
        elif op == "reshape":
            grown = shapely.buffer(frame.loc[k, "geometry"], float(rng.uniform(-60, 40)), join_style="mitre")
            frame.loc[k, "geometry"] = shapely.intersection(grown, home)  # plans stay in their municipality
        elif op == "remove" and len(frame) > 2:
            frame = frame.drop(index=k)
        else:
            row = frame.loc[[k]].copy()
            row.index = [int(frame.index.max()) + 1]
            cx, cy = shapely.centroid(row.geometry.iloc[0]).coords[0]
            row["geometry"] = [shapely.box(cx - 80, cy - 80, cx + 80, cy + 80)]
            row["plantype"], row["planstatus"], row["arealformal"] = "reguleringsplan", 3, 1300
            frame = pd.concat([frame, row])
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=25832)
    _republish(store, layer_id, frame, keep_ids=False)


# ------------------------------------------------------------------------------------------------ checks


def _same(a: Any, b: Any, where: str) -> None:
    """Equal values; floats to 1e-6 relative; JSON text compared as data."""
    if isinstance(a, str) and isinstance(b, str) and a[:1] in "[{" and b[:1] in "[{":
        a, b = json.loads(a), json.loads(b)
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float | int | np.number) and isinstance(b, float | int | np.number) and not (
            isinstance(a, bool) or isinstance(b, bool)):
        if math.isnan(float(a)) or math.isnan(float(b)):
            assert math.isnan(float(a)) and math.isnan(float(b)), (where, a, b)
        else:
            assert math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6), (where, a, b)
    else:
        na = a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NA
        nb = b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA
        assert (na and nb) or a == b, (where, a, b)


def assert_equal_frames(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, name: str) -> None:
    assert list(got.columns) == list(want.columns), name
    assert got["zone_id"].tolist() == want["zone_id"].tolist(), name
    assert shapely.equals_exact(np.asarray(got.geometry.array), np.asarray(want.geometry.array), 1e-6).all(), name
    for col in got.columns:
        if col == got.geometry.name:
            continue
        for zone, x, y in zip(got["zone_id"], got[col].tolist(), want[col].tolist(), strict=True):
            _same(x, y, f"{name}[zone {zone}].{col}")


def assert_like_full(store: Store, rules: RuleSet, full_store: GeoPackageStore) -> None:
    """The published (incremental) versions hold what a full recompute publishes, field types included."""
    inputs = current_inputs(store)
    result = analyse_store(store, rules, inputs)
    with full_store.exclusive(publish.DERIVED_LOCK):
        publish.publish_analysis(full_store, rules, inputs, result)
    for layer_id in (OBJECTION_RISK, BUSINESS_AREAS):
        got, want = store.get_layer(layer_id).current, full_store.get_layer(layer_id).current
        assert got.fields == want.fields, layer_id
        assert got.feature_count == want.feature_count, layer_id
        assert_equal_frames(store.read_frame(got), full_store.read_frame(want), layer_id)


def engine(store: Store) -> dict[str, Any]:
    return store.get_layer(OBJECTION_RISK).current.provenance["engine"]


# ------------------------------------------------------------------------------------------------ tests


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    return _rules(tmp_path)


def test_random_edits_give_what_a_full_recompute_gives(tmp_path: Path, rules: RuleSet) -> None:
    store, full_store = GeoPackageStore(tmp_path / "ws"), GeoPackageStore(tmp_path / "full")
    build(store)
    refresh_derived(store, rules)
    first = engine(store)
    assert first["mode"] == "full" and first["full_reason"] == "no previous results"
    n_zones = first["recomputed_zones"]
    rng = np.random.default_rng(2026)
    modes, renumbered, scopes = [], 0, set()
    for round_, what in enumerate(["ar5", "kulturminner", "zoning", "elv", "ar5+kulturminner", "zoning"]):
        if what == "zoning":
            layer_id = f"kp-{KNR[round_ % 2]}"
            edit_zoning(store, rng, layer_id, int(rng.integers(1, 3)))
        else:
            for layer_id in what.split("+"):
                edit_constraints(store, rng, layer_id, int(rng.integers(1, 6)))
        assert publish.analysis_status(store, rules).status == "behind"
        refresh_derived(store, rules)
        assert publish.analysis_status(store, rules).status == "current"
        info = engine(store)
        modes.append((what, info["mode"], info["recomputed_zones"]))
        renumbered += sum("renumbered" in c for c in info["changed_layers"].values())
        scopes.add(tuple(info["index_whole_layers"]) if "index_whole_layers" in info else None)
        assert info["mode"] == "incremental", (what, info.get("full_reason"))
        assert info["recomputed_zones"] < n_zones / 2, modes
        if what == "zoning":  # one municipality's plans: nothing in the other is recomputed
            assert info["recomputed_municipalities"] in ([], [KNR[round_ % 2]]), info
        assert_like_full(store, rules, full_store)
    assert sum(z for _, _, z in modes) > 0  # the edits did reach zones
    assert renumbered  # a new file renumbered features: findings keep the new feature ids (hit_ids)
    assert () in scopes  # recomputed with only the features near the zones (the usual case)


def test_ten_farmland_parcels_recompute_few_zones_and_an_unread_layer_none(tmp_path: Path, rules: RuleSet) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    build(store)
    refresh_derived(store, rules)
    n_zones = engine(store)["zones"]
    frame = store.read_frame(store.get_layer("ar5").current)
    picked = frame.index[:: len(frame) // 10][:10]  # ten parcels spread over the region change class
    frame.loc[picked, "arealtype"] = np.where(frame.loc[picked, "arealtype"] == 30, 21, 30)
    _republish(store, "ar5", frame, keep_ids=True)
    refresh_derived(store, rules)
    info = engine(store)
    assert info["mode"] == "incremental" and info["changed_layers"] == {"ar5": {"added": 0, "removed": 0,
                                                                               "changed": 10}}
    assert 1 <= info["recomputed_zones"] <= 20 < n_zones  # the zones under those parcels (and the NOT_MAPPED ones
    # whose nearest parcel they were), not the 80 zones
    risk_version = store.get_layer(OBJECTION_RISK).current.version

    aware = gpd.GeoDataFrame({"navn": ["Aktsomhet"]}, geometry=[shapely.box(X0, Y0, X0 + 900, Y0 + 900)], crs=25832)
    store.publish("skred-aktsomhet", aware, LayerMeta(LayerKind.landslide_awareness, "Aktsomhet (syntetisk)"))
    assert publish.is_stale(store, rules)
    refresh_derived(store, rules)
    info = engine(store)
    assert info["mode"] == "unchanged" and info["recomputed_zones"] == 0 and info["unread_layers"] == [
        "skred-aktsomhet"]
    record = store.get_layer(OBJECTION_RISK).current
    assert record.version == risk_version + 1 and record.provenance["inputs"]["skred-aktsomhet"] == 1
    assert not publish.is_stale(store, rules) and publish.analysis_status(store, rules).status == "current"


def test_what_cannot_be_proven_local_is_recomputed_in_full(tmp_path: Path, rules: RuleSet) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    build(store)
    refresh_derived(store, rules)
    municipalities = store.read_frame(store.get_layer("kommuner").current)
    _republish(store, "kommuner", municipalities.iloc[::-1], keep_ids=False)
    refresh_derived(store, rules)
    assert engine(store)["mode"] == "full" and "municipality layer kommuner changed" in engine(store)["full_reason"]
    other = load_rules()  # another rule set (landslide awareness back on)
    refresh_derived(store, other)
    assert engine(store)["mode"] == "full" and engine(store)["full_reason"] == "the rules changed"
    store.publish("veg", gpd.GeoDataFrame({"vegkategori": ["F"]}, geometry=[shapely.LineString(
        [(X0, Y0 + 10), (X0 + 500, Y0 + 10)])], crs=25832), LayerMeta(LayerKind.road, "Veg (syntetisk)"))
    refresh_derived(store, other)
    assert engine(store)["mode"] == "full" and "input layer veg added" in engine(store)["full_reason"]


def test_postgis_incremental_refresh_and_refresh_lock(make_store: Any, tmp_path: Path, rules: RuleSet) -> None:
    """The same on PostGIS: an AR5 edit and one municipality's zoning edit, spliced exactly; the lock says since
    when a refresh runs and a queued one does not pile up."""
    from layers.locks import held_since, refreshing, try_exclusive

    store = make_store("postgis")
    build(store)
    refresh_derived(store, rules)
    rng = np.random.default_rng(5)
    edit_constraints(store, rng, "ar5", 6)
    edit_zoning(store, rng, "kp-3006", 2)
    refresh_derived(store, rules)
    info = engine(store)
    assert info["mode"] == "incremental" and 0 < info["recomputed_zones"] < info["zones"] / 2, info
    assert_like_full(store, rules, GeoPackageStore(tmp_path / "full"))

    assert held_since(store, publish.DERIVED_LOCK) is None
    with store.exclusive(publish.DERIVED_LOCK), refreshing(store, publish.DERIVED_LOCK):
        since = held_since(store, publish.DERIVED_LOCK)
        assert since is not None and abs((publish.now_utc() - since).total_seconds()) < 60
        with try_exclusive(store, publish.DERIVED_LOCK) as got:
            assert got is False
    assert held_since(store, publish.DERIVED_LOCK) is None
    with try_exclusive(store, "derived-refresh-queue") as got:
        assert got is True
        with try_exclusive(store, "derived-refresh-queue") as again:
            assert again is False
