"""Benchmark: incremental derived refresh against a full recompute, on the region workload.

SYNTHETIC DATA: the region of ``bench/bench_analysis.py`` (5 000 zones, 200 000 farmland parcels, 20 000 streams,
5 000 heritage sites, roads, flood zones, 7 municipalities) published once into a GeoPackage workspace
(``--workspace``, default a folder under /tmp kept between runs). The rule set is the default with
landslide awareness switched off, so a landslide-awareness layer is one no rule reads.

Each run, in one process (reading and writing the store included, imports not):

* ``edit``: 10 farmland parcels under zoning areas change class (a re-exported AR5 file: same features, same order), published as a
  new version; ``refresh_derived`` (incremental: only the zones those parcels can affect) is timed, then the
  same inputs recomputed in full (``refresh_derived(force=True)``) and timed; the two published results are
  compared (statuses, areas to 1e-6 relative, findings);
* ``unread``: a landslide-awareness layer is published; the refresh (nothing recomputed, the previous results
  republished with the new input versions) is timed against the full recompute.

Prints every time, recomputed zone counts, the ratios incremental / full and the machine load.
Run:  python bench/bench_incremental.py [--runs 2] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_analyse_process import build_workspace

from constraints.publish import BUSINESS_AREAS, OBJECTION_RISK, refresh_derived
from constraints.rules import RuleSet, load_rules
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta


def rules_without_landslide_awareness(folder: Path) -> RuleSet:
    path = folder / "bench-rules.yaml"
    path.write_text("rules:\n  - id: landslide-awareness\n    enabled: false\n", encoding="utf-8")
    return load_rules(path)


def edit_farmland(store: GeoPackageStore, rng: np.random.Generator, n: int = 10) -> None:
    """``n`` parcels under zoning areas change class; everything else (order, geometry) stays as it was."""
    record = store.get_layer("ar5")
    frame = store.read_frame(record.current)
    zones = np.asarray(store.read_frame(store.get_layer("arealplan").current).geometry.array, dtype=object)
    under, _ = shapely.STRtree(zones).query(np.asarray(frame.geometry.array, dtype=object), predicate="intersects")
    picked = rng.choice(np.unique(under), size=n, replace=False)
    col = frame.columns.get_loc("arealtype")
    frame.iloc[picked, col] = np.where(frame.iloc[picked, col].to_numpy() == 30, 21, 30)
    store.publish("ar5", frame.reset_index(drop=True), LayerMeta(record.kind, record.title, record.description))


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def snapshot(store: GeoPackageStore) -> dict[str, object]:
    """What the comparison looks at: per zone status, areas and findings, of both derived collections."""
    out: dict[str, object] = {}
    for layer_id, cols in ((OBJECTION_RISK, ["zone_id", "objection_risk", "area_m2", "findings"]),
                           (BUSINESS_AREAS, ["zone_id", "status", "net_available_m2", "red_m2", "farmland_m2"])):
        frame = store.read_frame(store.get_layer(layer_id).current)[cols]
        out[layer_id] = frame.reset_index(drop=True)
    return out


def identical(a: dict[str, object], b: dict[str, object]) -> bool:
    for layer_id, x in a.items():
        y = b[layer_id]
        if len(x) != len(y) or (x["zone_id"].to_numpy() != y["zone_id"].to_numpy()).any():  # type: ignore[index]
            return False
        for col in x.columns:  # type: ignore[attr-defined]
            u, v = x[col].to_numpy(), y[col].to_numpy()  # type: ignore[index]
            if u.dtype.kind == "f":
                if not np.allclose(u, v, rtol=1e-6, atol=1e-6, equal_nan=True):
                    return False
            elif col == "findings":
                if [json.loads(s) for s in u] != [json.loads(s) for s in v]:
                    return _close_findings(u, v)
            elif not (u == v).all():
                return False
    return True


def _close_findings(u: np.ndarray, v: np.ndarray) -> bool:
    for s, t in zip(u, v, strict=True):
        a, b = json.loads(s), json.loads(t)
        if len(a) != len(b):
            return False
        for f, g in zip(a, b, strict=True):
            for key in f:
                p, q = f[key], g.get(key)
                if isinstance(p, float) and isinstance(q, float):
                    if not np.isclose(p, q, rtol=1e-6, atol=1e-6):
                        return False
                elif p != q:
                    return False
    return True


def compare(store: Any, rules: Any, change: str, run: int, rows: list[tuple]) -> dict[str, Any]:
    """Time the refresh after ``change`` (incremental) against a forced full one; add a row; the engine record."""
    t_incr = timed(lambda: refresh_derived(store, rules))
    engine = store.get_layer(OBJECTION_RISK).current.provenance["engine"]
    incremental = snapshot(store)
    t_full = timed(lambda: refresh_derived(store, rules, force=True))
    rows.append((change, run, t_incr, t_full, engine["mode"], engine["recomputed_zones"], engine.get("zones"),
                 identical(incremental, snapshot(store))))
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "geo-bench-incremental")
    args = parser.parse_args()
    ws = args.workspace
    if not (ws / "catalog.sqlite").exists():
        print(f"building the synthetic region workspace in {ws} …", flush=True)
        build_workspace(ws)
    store = GeoPackageStore(ws)
    rules = rules_without_landslide_awareness(ws.parent)
    refresh_derived(store, rules)  # the starting point: current results for these rules
    rng = np.random.default_rng(2026)
    print(f"load before: {os.getloadavg()}")
    rows = []
    for run in range(args.runs):
        edit_farmland(store, rng)
        engine = compare(store, rules, "10 farmland parcels", run, rows)
        print(f"run {run}: layers read whole for the recomputed zones: {engine.get('index_whole_layers')}")

        aware = store.read_frame(store.get_layer("kommuner").current).iloc[:1][["geometry"]]
        store.publish(f"aktsomhet-{run}", aware, LayerMeta(LayerKind.landslide_awareness, "Aktsomhet (syntetisk)"))
        compare(store, rules, "layer no rule reads", run, rows)
        print(f"run {run} done", flush=True)
    print(f"load after: {os.getloadavg()}")
    print(f"{'change':22} {'run':>3} {'incremental s':>13} {'full s':>8} {'ratio':>6} {'mode':>12} "
          f"{'zones recomputed':>17} {'identical':>9}")
    for what, run, ti, tf, mode, recomputed, zones, same in rows:
        print(f"{what:22} {run:>3} {ti:13.2f} {tf:8.2f} {ti / tf:6.2f} {mode:>12} {recomputed:>8} of {zones or '?':>6} "
              f"{same!s:>9}")
    for what in ("10 farmland parcels", "layer no rule reads"):
        best_i = min(r[2] for r in rows if r[0] == what)
        best_f = min(r[3] for r in rows if r[0] == what)
        print(f"best {what}: incremental {best_i:.2f} s, full {best_f:.2f} s, ratio {best_i / best_f:.2f}")


if __name__ == "__main__":
    main()
