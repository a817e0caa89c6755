"""Stress the engine's threaded paths on large synthetic inputs; run as a subprocess so a crash is a failed test.

``python -m tests.constraints.stress_engine ITERATIONS`` prints one JSON line per round and exits 0. Run with
``GEO_SERVICE_THREADS=2`` (or more): every chunked call then runs on at least two threads. Before the engine
kept prepared geometries thread-private, the first site check here died with SIGSEGV (-11).

All data is synthetic, built in code in EPSG:25832 near Kongsberg:
* farmland: a 72 x 72 grid of 70 m AR5 parcels (5 184 polygons, arealtype 21/22/23/30), plus 300 parcels
  that overlap their neighbours (forces the union path);
* heritage: 1 200 points (AUT/VED/LIST); watercourse: 40 long rivers of 400 vertices; roads: 100 lines;
* zones: one 56 km zone around everything, one 5 km site, a self-touching bow-tie, a zone with 100 holes, a
  2 000-vertex circle and 400 small zones.
"""

from __future__ import annotations

import json
import sys
import threading

import geopandas as gpd
import numpy as np
import shapely

from constraints.analysis import run_analysis
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer
from constraints.rules import load_rules
from constraints.site import check_site

X0, Y0 = 530_000.0, 6_610_000.0
CRS = "EPSG:25832"


def _frame(geoms: np.ndarray, **columns: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(dict(columns), geometry=list(geoms), crs=CRS, index=np.arange(1, len(geoms) + 1))


def constraint_layers() -> dict[str, ConstraintLayer]:
    """The synthetic constraint layers (large enough that every pmap call splits into chunks)."""
    i, j = np.meshgrid(np.arange(72), np.arange(72))
    x, y = X0 + i.ravel() * 70.0, Y0 + j.ravel() * 70.0
    parcels = shapely.box(x, y, x + 70, y + 70)
    rng = np.random.default_rng(7)
    k = rng.choice(len(parcels), 300, replace=False)
    overlapping = shapely.box(x[k] + 20, y[k] + 20, x[k] + 90, y[k] + 90)
    farm = np.concatenate([parcels, overlapping])
    codes = np.array([21, 22, 23, 30])[np.arange(len(farm)) % 4]
    px, py = X0 + rng.uniform(-500, 5500, 1200), Y0 + rng.uniform(-500, 5500, 1200)
    heritage = shapely.points(px, py)
    t = np.linspace(0, 1, 400)
    rivers = np.array([shapely.LineString(np.c_[X0 - 1000 + 7000 * t, Y0 + 150 * r + 200 * np.sin(t * 20 + r)])
                       for r in range(40)], dtype=object)
    roads = np.array([shapely.LineString([(X0 + 60 * r, Y0 - 1000), (X0 + 60 * r + 300, Y0 + 7000)])
                      for r in range(100)], dtype=object)
    world = shapely.box(X0 - 60_000, Y0 - 60_000, X0 + 60_000, Y0 + 60_000)
    return {
        "ar5": ConstraintLayer("ar5", "farmland", _frame(farm, arealtype=codes), coverage=world, version=1),
        "kulturminner": ConstraintLayer("kulturminner", "heritage", _frame(
            heritage, vernetype=np.array(["AUT", "VED", "LIST"])[np.arange(1200) % 3]), version=1),
        "vassdrag": ConstraintLayer("vassdrag", "watercourse", _frame(rivers), coverage=world, version=1),
        "veg": ConstraintLayer("veg", "road", _frame(roads, vegkategori=np.array(["E", "F", "K"])[
            np.arange(100) % 3]), coverage=world, version=1),
    }


def pathological_zones() -> list[shapely.Geometry]:
    """Large and awkward zone geometries (valid or not; the engine repairs invalid ones)."""
    big = shapely.box(X0 - 25_000, Y0 - 25_000, X0 + 31_000, Y0 + 31_000)  # 56 km across
    site = shapely.box(X0 - 100, Y0 - 100, X0 + 5100, Y0 + 5100)
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 4000, Y0 + 4000), (X0 + 4000, Y0), (X0, Y0 + 4000), (X0, Y0)])
    hx, hy = np.meshgrid(np.arange(10), np.arange(10))
    holes = [shapely.box(X0 + 100 + 480 * a, Y0 + 100 + 480 * b, X0 + 200 + 480 * a, Y0 + 200 + 480 * b)
             .exterior.coords for a, b in zip(hx.ravel(), hy.ravel(), strict=True)]
    holey = shapely.Polygon(shapely.box(X0, Y0, X0 + 5000, Y0 + 5000).exterior.coords, holes)
    circle = shapely.Point(X0 + 2500, Y0 + 2500).buffer(2600, quad_segs=500)
    return [big, site, bowtie, holey, circle]


def zoning() -> gpd.GeoDataFrame:
    """Three pathological zones plus 400 ordinary 120 m zones, all zoned for business (building rules apply)."""
    i, j = np.meshgrid(np.arange(20), np.arange(20))
    small = shapely.box(X0 + i.ravel() * 250, Y0 + j.ravel() * 250, X0 + i.ravel() * 250 + 120,
                        Y0 + j.ravel() * 250 + 120)
    big, _, bowtie, holey, _ = pathological_zones()
    geoms = np.concatenate([np.array([big, bowtie, holey], dtype=object), small])
    n = len(geoms)
    return _frame(geoms, arealformal=np.full(n, 1300), plantype=["kommuneplan"] * n, planstatus=np.full(n, 3),
                  arealbruksstatus=np.full(n, 2), kommunenummer=["3303"] * n, planid=[f"S{k}" for k in range(n)])


def _site_summary(index: ConstraintIndex, geom: shapely.Geometry) -> list[tuple[str, str, float, int]]:
    report = check_site(geom, index, index.rules, kommunenummer="3303")
    return [(r.rule_id, r.status, round(r.hit_area_m2, 3), len(r.hit_ids)) for t in report.themes for r in t.rules]


def main(iterations: int) -> None:
    rules = load_rules()
    layers = constraint_layers()
    zones = pathological_zones()
    index = ConstraintIndex(layers, rules)  # shared by every round and thread, as in the server
    expected = [_site_summary(index, z) for z in zones]
    for n in range(iterations):
        # two "request" threads check sites on the shared index at once, each also using the pmap pool
        results: dict[int, list[object]] = {}

        def request(slot: int, order: list[int], out: dict[int, list[object]] = results) -> None:
            out[slot] = [(k, _site_summary(index, zones[k])) for k in order]

        threads = [threading.Thread(target=request, args=(s, list(range(len(zones)))[::1 - 2 * s]))
                   for s in (0, 1)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for slot in (0, 1):
            for k, summary in results[slot]:
                if summary != expected[k]:
                    raise SystemExit(f"round {n}: site {k} answered differently on thread {slot}")
        line: dict[str, object] = {"round": n, "site_checks": 2 * len(zones)}
        if n == 0:  # the derived refresh's path: the whole zoning analysis (own index, as in refresh)
            result = run_analysis(zoning(), layers, rules)
            counts = result.objection_risk["objection_risk"].value_counts().to_dict()
            line["analysis"] = {str(k): int(v) for k, v in counts.items()}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
