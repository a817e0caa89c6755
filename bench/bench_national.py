"""Benchmark: the analysis partitioned by municipality on Dask, at national scale, on a local cluster.

SYNTHETIC DATA (``bench/national_workload.py``): 356 municipalities over Norway's extent in EPSG:25833, at 100 %
300 108 zones, 5 000 020 farmland parcels, 1 002 138 stream segments, 200 072 heritage sites, roads, flood
zones. Workspaces are generated once under ``--root`` (default /tmp/geo-national) and kept.

For each ``--fractions`` value it starts a LocalCluster (``--workers`` processes, one thread each,
``--memory-limit`` each), runs the whole derived refresh as ``geo-service analyse --distributed --force`` does
(plan, partitions on the workers, combine, publish ONE version) and prints: the total time and its parts, the
time per 100 000 zones, the peak memory of every worker (VmHWM of the worker process, and the highest RSS
sampled each second through ``client.run``), the client's peak, and the machine load before and after.

``--region`` also runs the region workload of ``bench/bench_analysis.py`` (5 000 zones, 200 000 farmland parcels,
with municipality overrides) both ways in the same run, single process (``analyse_store``) and distributed,
and prints whether every result is identical (areas to 1e-6 relative, statuses and risks equal) and both times.

Run:  python bench/bench_national.py --fractions 0.1 0.3 [1.0] [--region]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from constraints.analysis import ZoneAnalysis
from constraints.distributed import ClusterOptions, RunReport, analyse_distributed, dask_client
from constraints.publish import analyse_store, current_inputs, publish_derived
from constraints.rules import RuleSet, load_rules
from layers.gpkg_store import GeoPackageStore


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process (VmHWM), MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class MemorySampler:
    """Samples every worker's RSS once a second (``client.run``) and keeps the highest per worker."""

    def __init__(self, client: Any, every_s: float = 1.0) -> None:
        self.client, self.every_s = client, every_s
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> MemorySampler:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                for worker, mb in self.client.run(_rss_mb).items():
                    self.peak[worker] = max(self.peak.get(worker, 0.0), mb)
            except Exception:  # noqa: BLE001, S112 - a sample lost while the cluster shuts down
                continue


def load() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} {b:.2f} {c:.2f}"


def run_national(ws: Path, rules: RuleSet, workers: int, memory_limit: str) -> dict[str, Any]:
    """One distributed refresh of ``ws`` with a fresh LocalCluster; figures as a dict."""
    store = GeoPackageStore(ws)
    load_before = load()
    started = time.perf_counter()
    with dask_client(ClusterOptions(workers=workers, memory_limit=memory_limit)) as client:
        cluster_s = time.perf_counter() - started
        report = RunReport()
        cpu_before = client.run(_cpu_s)
        client_cpu = _cpu_s()
        with MemorySampler(client) as sampler:
            t0 = time.perf_counter()
            with store.exclusive("derived-layers"):
                inputs = current_inputs(store)
                done = {"zones": 0, "partitions": 0}

                def progress(result: Any) -> None:
                    done["zones"] += int(result.stats.get("zones", 0))
                    done["partitions"] += 1
                    if done["partitions"] % 25 == 0:
                        cpu_now = sum(v - cpu_before.get(w, 0.0) for w, v in client.run(_cpu_s).items())
                        print(f"    {time.perf_counter() - t0:7.1f} s: {done['partitions']} partitions, "
                              f"{done['zones']:,} zones done; workers' CPU {cpu_now:.0f} s; RSS now "
                              f"{', '.join(f'{v:.0f}' for v in client.run(_rss_mb).values())} MB "
                              f"(load {load()})", flush=True)

                analysis = analyse_distributed(store, rules, client, inputs=inputs, report=report,
                                               on_result=progress)
                t_pub = time.perf_counter()
                published = publish_derived(store, rules, inputs, analysis.objection_risk, analysis.business_areas,
                                            analysis.provenance)
                report.seconds["publish"] = time.perf_counter() - t_pub
            run_s = time.perf_counter() - t0
        hwm = client.run(_vm_hwm_mb)
        cpu = {w: s - cpu_before.get(w, 0.0) for w, s in client.run(_cpu_s).items()}
        client_cpu = _cpu_s() - client_cpu
    total_s = time.perf_counter() - started
    return {"zones": report.zones, "partitions": report.partitions, "workers": report.workers,
            "cluster_s": cluster_s, "run_s": run_s, "total_s": total_s, "parts": dict(report.seconds),
            "hwm": hwm, "cpu": cpu, "client_cpu": client_cpu, "sampled": sampler.peak, "load_before": load_before, "load_after": load(),
            "published": [(r.layer_id, r.version, r.feature_count) for r in published],
            "slowest": report.slowest, "far": report.far_distances, "tasks": report.tasks,
            "tasks_started_at": report.started_at, "statuses":
            analysis.business_areas["status"].value_counts().to_dict()}


def print_national(fraction: float, r: dict[str, Any]) -> None:
    per_100k = r["run_s"] / r["zones"] * 100_000
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in r["parts"].items())
    print(f"\n== {fraction:.0%} of the national workload: {r['zones']:,} zones in {r['partitions']} partitions, "
          f"{r['workers']} workers", flush=True)
    print(f"  total {r['total_s']:.1f} s (cluster start {r['cluster_s']:.1f} s + analysis and publish "
          f"{r['run_s']:.1f} s: {parts})")
    cpu = sum(r["cpu"].values())
    print(f"  time per 100 000 zones: {per_100k:.1f} s (analysis and publish); CPU: workers "
          f"{cpu / r['zones'] * 100_000:.1f} s + client {r['client_cpu'] / r['zones'] * 100_000:.1f} s "
          f"(workers {cpu:.1f} s, client {r['client_cpu']:.1f} s in all)")
    for worker, mb in sorted(r["hwm"].items()):
        print(f"  worker {worker}: peak RSS {mb:,.0f} MB (VmHWM); highest sampled {r['sampled'].get(worker, 0):,.0f} MB")
    print(f"  client peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB (whole bench so far)")
    print_tasks(r)
    print(f"  far distances looked up again: {r['far']:,}; slowest partitions: "
          + ", ".join(f"{k} {s:.1f} s" for k, s in r["slowest"]))
    print(f"  published: {r['published']}; business status {r['statuses']}")
    print(f"  load average before {r['load_before']}, after {r['load_after']} (2 cores, shared)", flush=True)


def print_tasks(r: dict[str, Any]) -> None:
    """The engine's CPU inside the tasks against the workers' whole CPU, and how busy each worker was."""
    tasks = r["tasks"]
    if not tasks:
        return
    engine = sum(t.get("cpu_s", 0.0) for t in tasks)
    print(f"  CPU inside the tasks (engine, one thread each): {engine:.1f} s = "
          f"{engine / r['zones'] * 100_000:.1f} s per 100 000 zones; the workers' processes used "
          f"{sum(r['cpu'].values()) - engine:.1f} s besides (Dask, first imports); far distances "
          f"{sum(t.get('far_cpu_s', 0.0) for t in tasks):.1f} s of the engine's")
    t0 = r["tasks_started_at"]
    end = max(t["ended_at"] for t in tasks) - t0
    by_worker: dict[float, list[dict[str, Any]]] = {}
    for t in tasks:
        by_worker.setdefault(t["pid"], []).append(t)
    for pid, mine in sorted(by_worker.items()):
        busy = sum(t["ended_at"] - t["started_at"] for t in mine)
        last = max(t["ended_at"] for t in mine) - t0
        print(f"  worker pid {int(pid)}: {len(mine)} partitions, busy {busy:.1f} s of the {end:.1f} s the tasks took "
              f"({busy / end:.0%}); first task began after {min(t['started_at'] for t in mine) - t0:.1f} s, "
              f"last ended {end - last:.1f} s before the end")


def verdict(results: dict[float, dict[str, Any]], goal_s: float = 600.0) -> None:
    """The ≤ 10 minute verdict for the largest fraction run and the linearity of the time per 100 000 zones."""
    if not results:
        return
    print("\n== summary")
    rows = []
    for fraction, r in sorted(results.items()):
        cpu = sum(r["cpu"].values())
        rows.append((fraction, r["total_s"] / r["zones"] * 100_000, cpu / r["zones"] * 100_000,
                     (cpu + r["client_cpu"]) / r["zones"] * 100_000))
        print(f"  {fraction:>5.0%}: {r['zones']:>7,} zones, total {r['total_s']:7.1f} s = {rows[-1][1]:6.1f} s per 100 000 "
              f"zones (wall); CPU per 100 000 zones: workers {rows[-1][2]:6.1f} s, workers + client {rows[-1][3]:6.1f} s "
              f"(load after {r['load_after']})")
    if len(rows) > 1:
        walls, cpus = [w for _, w, _, _ in rows], [c for _, _, _, c in rows]
        print(f"  linearity: time per 100 000 zones ranges {min(walls):.1f}–{max(walls):.1f} s wall "
              f"(largest/smallest {max(walls) / min(walls):.2f}), {min(cpus):.1f}–{max(cpus):.1f} s CPU "
              f"({max(cpus) / min(cpus):.2f}); 1.00 is perfectly linear")
    fraction, r = max(results.items())
    ok = r["total_s"] <= goal_s
    print(f"  VERDICT {fraction:.0%} ({r['zones']:,} zones, {r['workers']} workers): total {r['total_s']:.1f} s "
          f"{'<=' if ok else '>'} {goal_s:.0f} s: {'MET' if ok else 'NOT MET'}; peak worker RSS "
          f"{max(r['hwm'].values()):,.0f} MB ({'<=' if max(r['hwm'].values()) <= 4096 else '>'} 4 GB); "
          f"load average during it {r['load_before']} -> {r['load_after']}", flush=True)


# ------------------------------------------------------------------------------------------ region check


def _plain(v: Any) -> Any:
    """A value for comparing: every missing value (None, NaN, NA) alike, arrays as lists, numpy as Python."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def compare(single: ZoneAnalysis, dist: ZoneAnalysis) -> tuple[bool, float, list[str]]:
    """(identical, largest relative difference of any number, problems) between the two analyses."""
    worst, problems = 0.0, []
    for name in ("findings", "objection_risk", "business_areas", "land_reserve"):
        a = getattr(single, name).reset_index(drop=True)
        b = getattr(dist, name).reset_index(drop=True)
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            problems.append(f"{name}: shape {a.shape} vs {b.shape}")
            continue
        for col in a.columns:
            x, y = a[col], b[col]
            if col == "geometry":
                if not all(g.equals(h) for g, h in zip(x, y, strict=True)):
                    problems.append(f"{name}.{col}")
            elif pd.api.types.is_float_dtype(x):
                xv, yv = x.to_numpy(float), y.to_numpy(float)
                if not np.array_equal(np.isnan(xv), np.isnan(yv)):
                    problems.append(f"{name}.{col}: NaN differ")
                    continue
                ok = ~np.isnan(xv)
                rel = np.abs(xv[ok] - yv[ok]) / np.maximum(np.abs(xv[ok]), 1e-9)
                diff = float(rel.max()) if len(rel) else 0.0
                worst = max(worst, diff)
                if diff > 1e-6:
                    problems.append(f"{name}.{col}: relative difference {diff:.2e}")
            else:
                left, right = [_plain(v) for v in x], [_plain(v) for v in y]
                if left != right:
                    i = next(i for i, (u, v) in enumerate(zip(left, right, strict=True)) if u != v)
                    problems.append(f"{name}.{col}: values differ (row {i}: {left[i]!r} vs {right[i]!r})")
    return not problems, worst, problems


def run_region(root: Path, workers: int, memory_limit: str) -> None:
    from bench_analyse_process import build_workspace
    from bench_analysis import OVERRIDES

    ws = root / "region-ws"
    if not (ws / ".bench-complete").exists():
        print(f"building the synthetic region workspace in {ws} …", flush=True)
        build_workspace(ws)
        (ws / ".bench-complete").write_text("synthetic region workspace\n")
    path = Path(tempfile.mkdtemp()) / "rules.yaml"
    path.write_text(OVERRIDES, encoding="utf-8")
    rules = load_rules(path)
    store = GeoPackageStore(ws)
    load_before = load()
    t0 = time.perf_counter()
    single = analyse_store(store, rules)
    single_s = time.perf_counter() - t0
    with dask_client(ClusterOptions(workers=workers, memory_limit=memory_limit)) as client:
        t1 = time.perf_counter()
        report = RunReport()
        dist = analyse_distributed(store, rules, client, keep_findings=True, report=report)
        dist_s = time.perf_counter() - t1
    same, worst, problems = compare(single, dist)
    print("\n== region workload (5 000 zones, 200 000 farmland, with overrides): single process vs distributed")
    print(f"  single process analyse_store: {single_s:.1f} s; distributed ({report.partitions} partitions, "
          f"{report.workers} workers, cluster running): {dist_s:.1f} s")
    print(f"  findings {len(single.findings):,} rows, objection risk {len(single.objection_risk):,}, business areas "
          f"{len(single.business_areas):,}, land reserve {len(single.land_reserve)} municipalities")
    print(f"  CHECK identical results: {'YES' if same else 'NO'} (largest relative difference of any number "
          f"{worst:.1e}; statuses and risks equal: {same})" + ("" if same else f"; {problems[:5]}"))
    print(f"  load average before {load_before}, after {load()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("/tmp/geo-national"))
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.1, 0.3])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--region", action="store_true", help="also the region check (single vs distributed)")
    args = parser.parse_args()
    from national_workload import COMPLETE, generate

    rules = load_rules()
    results: dict[float, dict[str, Any]] = {}
    print(f"SYNTHETIC national workload; {os.cpu_count()} cores; load average {load()}", flush=True)
    if args.region:
        run_region(args.root, args.workers, args.memory_limit)
    for fraction in args.fractions:
        ws = args.root / f"ws-{fraction:g}"
        if not (ws / COMPLETE).exists():
            print(f"\ngenerating {fraction:.0%} into {ws} (load {load()}) …", flush=True)
            t0 = time.perf_counter()
            generate(ws, fraction)
            print(f"  generation took {time.perf_counter() - t0:.1f} s (load {load()})", flush=True)
        results[fraction] = run_national(ws, rules, args.workers, args.memory_limit)
        print_national(fraction, results[fraction])
    verdict(results)


if __name__ == "__main__":
    main()
