"""Site portfolio speed: search, drive-time isochrones and workforce, with a baseline in the same run.

    python bench/bench_sites.py [--workspace DIR] [--sites 5000] [--repeat 200]

Without ``--workspace`` the synthetic demo workspace is built in a temporary folder first (about half a minute).

* **search**: 10 criteria (3 filters + 7 weighted criteria) over the demo register replicated with jitter to
  ``--sites`` rows; p50/p95 of ``sites.search.search`` against the same search written with pandas
  (``query`` + per-column normalisation + ``sort_values``). Target p95 < 50 ms.
* **isochrone**: 15/30/45 min from Kongsberg on the demo road network: cold (network build + Dijkstra +
  polygons, a fresh service) and cached (the service's LRU); baseline: a pure-Python heapq Dijkstra (what a
  networkx-style graph does) for the same bounded search. Target < 1 s cold, < 50 ms cached.
* **workforce**: population within 30/45/60 min for every site of the register and for ``--sites`` sites,
  batched csgraph runs against one run per site. Target < 30 s.
"""

from __future__ import annotations

import argparse
import heapq
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo_service.settings import Settings
from geo_service.sites_service import SitesService
from layers.gpkg_store import GeoPackageStore
from sites.drive_time import workforce
from sites.publish import SITES, refresh_sites
from sites.search import SiteTable, parse_request, search

REQUEST = {
    "filters": {"net_available_daa": {"min": 5}, "substation_free_mw": {"min": 2}},
    "has_fibre": True,
    "criteria": [
        {"attribute": "population_45min", "weight": 25, "direction": "higher"},
        {"attribute": "employed_60min", "weight": 10, "direction": "higher"},
        {"attribute": "main_road_km", "weight": 15, "direction": "lower"},
        {"attribute": "airport_min", "weight": 10, "direction": "lower"},
        {"attribute": "rail_station_min", "weight": 10, "direction": "lower"},
        {"attribute": "net_available_daa", "weight": 20, "direction": "ideal", "ideal": 30},
        {"attribute": "competence_30km_count", "weight": 10, "direction": "higher"},
    ],
    "limit": 20,
}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def workspace(path: str | None) -> Path:
    if path:
        return Path(path)
    from constraints.publish import refresh_derived
    from constraints.rules import load_rules
    from layers.seed import publish_demo
    from sites.config import load_sites_config

    folder = Path(tempfile.mkdtemp(prefix="bench-sites-")) / "ws"
    t = time.perf_counter()
    store = GeoPackageStore(folder)
    publish_demo(store)
    refresh_derived(store, load_rules(None))
    refresh_sites(store, load_sites_config())
    print(f"built the demo workspace in {time.perf_counter() - t:.1f} s: {folder}")
    return folder


def replicate(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The register repeated to ``n`` rows, numbers jittered ±20 % so the ranking has work to do."""
    reps = int(np.ceil(n / len(frame)))
    out = pd.concat([frame] * reps, ignore_index=True).iloc[:n].copy()
    out["site_id"] = [f"s-{i}" for i in range(n)]
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col] * rng.uniform(0.8, 1.2, n)
    return out


def pandas_search(frame: pd.DataFrame) -> pd.DataFrame:
    """The same search written directly with pandas (the baseline)."""
    df = frame.query("net_available_daa >= 5 and substation_free_mw >= 2 and fibre == True")
    score = pd.Series(0.0, index=df.index)
    for c in REQUEST["criteria"]:
        v = df[c["attribute"]].astype(float)
        if c["direction"] == "ideal":
            gap = (v - c["ideal"]).abs()
            s = 1 - gap / gap.max()
        elif c["direction"] == "higher":
            s = (v - v.min()) / (v.max() - v.min())
        else:
            s = (v.max() - v) / (v.max() - v.min())
        score += c["weight"] * s.fillna(0)
    return df.assign(score=score).sort_values(["score", "site_id"], ascending=[False, True]).head(20)


def python_dijkstra(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, source: int, limit: float) -> int:
    """Pure-Python bounded Dijkstra over CSR arrays; returns the number of nodes reached."""
    dist = {source: 0.0}
    heap = [(0.0, source)]
    done = set()
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        for k in range(indptr[u], indptr[u + 1]):
            v, nd = int(indices[k]), d + float(data[k])
            if nd <= limit and nd < dist.get(v, float("inf")):
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return len(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace")
    parser.add_argument("--sites", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores")
    folder = workspace(args.workspace)
    store = GeoPackageStore(folder)
    register = store.read_frame(store.get_layer(SITES).current)
    rng = np.random.default_rng(1)

    # --- search ---------------------------------------------------------------------------------------------
    big = replicate(register.drop(columns="geometry"), args.sites, rng)
    table = SiteTable.from_frame(big, 1)
    request = parse_request(REQUEST)
    result = search(table, request)
    ours = timed(lambda: search(table, parse_request(REQUEST)), args.repeat)
    theirs = timed(lambda: pandas_search(big), max(args.repeat // 4, 10))
    print(f"\nsearch, {len(big)} sites, 10 criteria ({result.number_matched} pass the filters):")
    print(f"  sites.search   p50 {percentile(ours, 50):6.2f} ms  p95 {percentile(ours, 95):6.2f} ms  (target p95 < 50)")
    print(f"  pandas         p50 {percentile(theirs, 50):6.2f} ms  p95 {percentile(theirs, 95):6.2f} ms")
    print(f"  ratio pandas / ours at p50: {percentile(theirs, 50) / percentile(ours, 50):.1f}x")

    # --- isochrones -----------------------------------------------------------------------------------------
    settings = Settings(workspace=folder, seed_demo=False)
    x, y = 536_616.0, 6_614_840.0
    cold = []
    for _ in range(3):
        service = SitesService(store, settings)
        t = time.perf_counter()
        service.drive_time(x, y, [15, 30, 45])
        cold.append((time.perf_counter() - t) * 1000)
    cached = timed(lambda: service.drive_time(x, y, [15, 30, 45]), args.repeat)
    net = service.network().graph
    node = int(net.snap(np.array([x]), np.array([y])).node[0])
    csr = net.seconds
    fast = timed(lambda: net.times_from(np.array([node]), 45 * 60), 20)
    slow = timed(lambda: python_dijkstra(csr.indptr, csr.indices, csr.data, node, 45 * 60), 5)
    print(f"\nisochrone 15/30/45 min from Kongsberg, demo roads ({net.node_count} nodes, {len(net.edges)} edges):")
    print(f"  cold (network + Dijkstra + polygons)  median {statistics.median(cold):7.1f} ms  (target < 1000)")
    print(f"  cached                                p95 {percentile(cached, 95):9.3f} ms  (target < 50)")
    print(f"  bounded Dijkstra: csgraph {statistics.median(fast):.2f} ms, pure-Python heapq "
          f"{statistics.median(slow):.1f} ms: {statistics.median(slow) / statistics.median(fast):.0f}x")

    # --- workforce ------------------------------------------------------------------------------------------
    cells_frame = store.read_frame(store.get_layer("befolkning").current)
    centre = shapely.point_on_surface(cells_frame.geometry.to_numpy())
    cells = net.snap(shapely.get_x(centre), shapely.get_y(centre))
    pop = cells_frame["pop_tot"].to_numpy(float)
    emp = cells_frame["sysselsatte"].to_numpy(float)
    anchors = shapely.point_on_surface(register.geometry.to_numpy())
    ax, ay = shapely.get_x(anchors), shapely.get_y(anchors)
    for label, xs, ys in (("register", ax, ay),
                          (f"{args.sites} sites", np.resize(ax, args.sites) + rng.normal(0, 300, args.sites),
                           np.resize(ay, args.sites) + rng.normal(0, 300, args.sites))):
        sites = net.snap(xs, ys)
        t = time.perf_counter()
        workforce(net, sites, cells, pop, emp, (30, 45, 60))
        batched = time.perf_counter() - t
        t = time.perf_counter()
        sample = min(len(xs), 200)
        workforce(net, net.snap(xs[:sample], ys[:sample]), cells, pop, emp, (30, 45, 60), batch=1)
        one_by_one = (time.perf_counter() - t) * len(xs) / sample
        print(f"\nworkforce 30/45/60 min, {label} ({len(xs)} sites, {len(np.unique(sites.node))} distinct nodes, "
              f"{len(cells.node)} cells):")
        print(f"  batched csgraph {batched:.2f} s (target < 30 s); one run per site ≈ {one_by_one:.2f} s "
              f"(extrapolated from {sample}): {one_by_one / batched:.1f}x")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
