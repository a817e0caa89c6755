"""Benchmark: ingest of 200 000 polygons into each store against the floor (raw pyogrio read + write/COPY),
in one run. Not a test. PostGIS is a throwaway cluster on this machine (127.0.0.1).

Data: SYNTHETIC farmland (``--farmland`` polygons, default 200 000; the generator of ``bench_postgis.py``,
kept as a GeoPackage in the temp folder by ``bench_features.synthetic_source``) and 7 SYNTHETIC
municipalities (vertical strips over Kongsbergregionen's extent) published first, so the region and
municipality checks run as they do in a real workspace. Nothing here is real geography.

Timed, interleaved ``--repeats`` times (best and median reported; wall clock, this process's CPU time and the
PostgreSQL server's CPU time: its processes and the backends that ended meanwhile, read from ``/proc``):

* ``geo-service -> GeoPackage`` / ``-> PostGIS``: what ``geo-service layers add FILE --id farmland --kind
  farmland`` runs: ``layers.ingest.ingest`` with the kind checks (``CheckContext`` from the store's
  municipality layer), i.e. read, normalise, publish (a new version file with its R-tree; or one PostgreSQL
  transaction: table, binary COPY, primary key, GiST index, ANALYZE, catalog rows) with the validity check and
  the kind checks running alongside the write and awaited before the commit (repair and a second write only
  when a geometry is invalid; this SYNTHETIC layer is valid). PostGIS starts that transaction as soon as the
  source is read: the rows go in as the source's WKB while the geometries are decoded and checked
  (``Store.begin_publish``), and are committed once the checks pass. The CLI's
  audit line and the derived refresh that follows are not included (the refresh is the analysis's cost);
* ``floor GeoPackage``: ``pyogrio.read_dataframe`` + ``pyogrio.write_dataframe`` to a new GeoPackage (with the
  R-tree GDAL writes by default);
* ``floor PostGIS``: ``pyogrio.read_dataframe`` + binary COPY into a bare table with the numpy COPY encoder
  (``layers.pg_copy``; no index, no validation). ``floor PostGIS (write_row)`` is the textbook psycopg
  ``Copy.write_row`` loop, often as fast or faster on this machine: ``PostGIS (faster)`` compares each round
  with the faster of the two.

The variants run in a rotating order (round r starts at variant r), with garbage collected before each, so
that none always follows the same one (its garbage, the server's background work after a large write).

Target (issue 17): geo-service <= 1.5 x the floor on both stores. Prints the ratios (per run and their
median, of the medians, of the bests) and the machine load.

    python bench/bench_ingest.py [--repeats 3] [--farmland 200000]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench_features import synthetic_source
from bench_postgis import EXTENT, floor_ingest

from layers.checks import CheckContext, region_from_store
from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.postgis_store import PostGISStore
from layers.store import LayerMeta, Store
from tests.postgis_cluster import Cluster

LAYER = "farmland"


def municipalities() -> gpd.GeoDataFrame:
    """7 SYNTHETIC municipalities: vertical strips over the region's extent."""
    x0, y0, x1, y1 = EXTENT
    edges = np.linspace(x0 - 1.0, x1 + 1.0, 8)
    return gpd.GeoDataFrame({"kommunenummer": [f"33{i:02d}" for i in range(7)],
                             "navn": [f"Syntetisk {i}" for i in range(7)]},
                            geometry=[shapely.box(a, y0 - 1.0, b, y1 + 1.0) for a, b in pairwise(edges)], crs=25832)


def user_ingest(store: Store, source: Path) -> None:
    """What ``geo-service layers add SOURCE --id farmland --kind farmland`` runs (without audit and refresh)."""
    checks = CheckContext(region_from_store(store, EXTENT), None, False)
    ingest(store, source, LAYER, LayerKind.farmland, title="Farmland (synthetic)", checks=checks)


def floor_gpkg(source: Path, out: Path) -> None:
    frame = pyogrio.read_dataframe(source)
    pyogrio.write_dataframe(frame, out, layer=LAYER, driver="GPKG")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu(cluster: Cluster) -> float:
    """CPU seconds of the throwaway server so far: the postmaster with its ended children, and the running ones
    (0 when the cluster is not ours to read, e.g. ``GEO_SERVICE_TEST_DATABASE_URL``). Autovacuum counts too."""
    pid_file = cluster.folder / "data" / "postmaster.pid" if cluster.folder is not None else None
    if pid_file is None or not pid_file.is_file():
        return 0.0
    postmaster, tick, total = int(pid_file.read_text().split()[0]), os.sysconf("SC_CLK_TCK"), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == postmaster:
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
        elif int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def timed(fn: Callable[[], object], cluster: Cluster) -> tuple[float, float, float]:
    t0, c0, s0 = time.perf_counter(), cpu(), server_cpu(cluster)
    fn()
    return time.perf_counter() - t0, cpu() - c0, server_cpu(cluster) - s0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--farmland", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    source, frame = synthetic_source(args.farmland)
    del frame
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    os.chmod(work, 0o755)
    print(f"source {source} ({args.farmland} synthetic polygons); {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}")
    cluster = Cluster(shared_buffers="256MB").start()
    try:
        run(args, work, cluster, source)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, cluster: Cluster, source: Path) -> None:
    url = cluster.new_database("bench")
    pg = PostGISStore(url, pool_size=2)
    gpkg = GeoPackageStore(work / "workspace")
    for store in (pg, gpkg):
        store.publish("kommuner", municipalities(), LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
    variants: dict[str, Callable[[int], object]] = {
        "floor GeoPackage": lambda r: floor_gpkg(source, work / f"floor-{r}.gpkg"),
        "geo-service -> GeoPackage": lambda r: user_ingest(gpkg, source),
        "floor PostGIS": lambda r: floor_ingest(url, source, f"floor_numpy_{r}", True),
        "geo-service -> PostGIS": lambda r: user_ingest(pg, source),
        "floor PostGIS (write_row)": lambda r: floor_ingest(url, source, f"floor_rows_{r}", False),
    }
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.repeats):  # interleaved: load from elsewhere hits every variant alike
        # and in a rotating order, so that no variant always follows the same one (its garbage, the server's
        # background work after a large write)
        for name in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            fn = variants[name]
            runs[name].append(timed(lambda fn=fn, r=r: fn(r), cluster))
            wall, spent, server = runs[name][-1]
            print(f"  run {r + 1} {name:<28} {wall:6.2f} s wall, {spent:6.2f} s CPU here + {server:5.2f} s server, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    record = pg.get_layer(LAYER).current
    other = gpkg.get_layer(LAYER).current
    print(f"\npublished {record.feature_count} features in PostGIS (version {record.version}), "
          f"{other.feature_count} in the GeoPackage (version {other.version})")
    pg.close()
    report(args, runs)


def report(args: argparse.Namespace, runs: dict[str, list[tuple[float, float, float]]]) -> None:
    print(f"\ningest of {args.farmland} synthetic polygons, {args.repeats} interleaved runs; "
          f"load average now {os.getloadavg()[0]:.1f}")
    header = f"{'variant':<28} {'best s':>7} {'median s':>9} {'CPU s (here)':>12} {'+ server':>9}"
    print(header)
    print("-" * len(header))
    for name, values in runs.items():
        walls = [w for w, _, _ in values]
        print(f"{name:<28} {min(walls):>7.2f} {statistics.median(walls):>9.2f} {min(c for _, c, _ in values):>12.2f} "
              f"{statistics.median(s for _, _, s in values):>9.2f}")
    print("\nratio to the floor (target <= 1.5): per run (their median), of the medians, of the bests; CPU: best "
          "here, median here + server")
    # PostGIS has two floors: each round's faster one is the floor of that round
    runs["floor PostGIS (faster)"] = [min(a, b) for a, b in zip(runs["floor PostGIS"], runs["floor PostGIS (write_row)"],
                                                                strict=True)]
    for store in ("GeoPackage", "PostGIS", "PostGIS (faster)"):
        ours, floor = runs[f"geo-service -> {store.split()[0]}"], runs[f"floor {store}"]
        ratios = [o[0] / f[0] for o, f in zip(ours, floor, strict=True)]
        per_run = ", ".join(f"{r:.2f}" for r in ratios) + f" ({statistics.median(ratios):.2f})"
        best = min(w for w, _, _ in ours) / min(w for w, _, _ in floor)
        median = statistics.median(w for w, _, _ in ours) / statistics.median(w for w, _, _ in floor)
        cpu_ratio = min(c for _, c, _ in ours) / min(c for _, c, _ in floor)
        both = statistics.median(c + s for _, c, s in ours) / statistics.median(c + s for _, c, s in floor)
        print(f"  {store:<10} wall {per_run}; medians {median:.2f}; bests {best:.2f}; CPU {cpu_ratio:.2f}; "
              f"CPU with server {both:.2f}")


if __name__ == "__main__":
    main()
