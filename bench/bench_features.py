"""Benchmark: OGC API Features ``items?bbox=`` of geo-service (GeoPackage and PostGIS stores) against TiPG on the
*same* PostGIS tables, in one run. Not a test. Every server and client is on this machine (127.0.0.1).

Data: SYNTHETIC farmland (``--farmland`` polygons, default 200 000; the generator of ``bench_postgis.py``:
20-vertex parcels in 160 m cells along 40 meandering valleys over Kongsbergregionen, deterministic), loaded
with ``layers.ingest.ingest`` into a GeoPackage workspace and a throwaway PostGIS cluster. Nothing here is real
geography.

Load: ``items?bbox=<1-3 km box, CRS84>&limit=100`` cycling over 200 random boxes around parcels, with
``wrk -t2 -c<connections> -d<duration>`` after a warm-up run, per server:

* ``geo-service GeoPackage`` and ``geo-service PostGIS``: this checkout (``geo_service.main:app_factory``);
* ``TiPG``: TiPG (its own venv, ``--tipg-python``) over the PostGIS store's version table;
* with ``--before DIR``: the same two servers from another checkout (e.g. ``/work/main``), for before/after.

Every server runs ``--workers`` uvicorn workers (uvloop + httptools). Servers are measured in turn, ``--rounds``
times (interleaved, so load from elsewhere hits all alike); it prints req/s, p50, p95 and p99 per round and
server, the ratios to TiPG per round, and the machine load at each run. Before timing, the first
``--check`` boxes are fetched from every server: ids and ``numberMatched`` must agree (the script stops if not).

TiPG's venv (not a dependency of the service):

    python3 -m venv /work/tipg-venv && /work/tipg-venv/bin/pip install "tipg==1.6.1" "uvicorn[standard]"
    python bench/bench_features.py [--before /work/main] [--rounds 2]     # --help for sizes and durations
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import geopandas as gpd
import pyogrio

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench_postgis import HOST, LAYER, feature_boxes, make_farmland, server, wrk_report
from bench_postgis import WRK_LUA as CYCLE_LUA
from bench_tiles import cpu_seconds
from wrk_report import parse_wrk

from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.postgis_store import PostGISStore
from tests.postgis_cluster import Cluster

WRK_LUA = CYCLE_LUA + textwrap.dedent("""
    function done(summary, latency, requests)
      io.write(string.format("P95_US %d\\n", latency:percentile(95)))
    end
""")


def server_pid(port: int) -> int:
    """The uvicorn process serving ``port`` (its workers are its children)."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"uvicorn" in argv and b"--port" in argv and argv[argv.index(b"--port") + 1] == str(port).encode():
            return int(entry.name)
    raise RuntimeError(f"no uvicorn process on port {port}")


def database_pid(cluster: Cluster) -> int | None:
    """The postmaster of the throwaway cluster (None for an external database: its CPU is not counted)."""
    if cluster.folder is None:
        return None
    return int((cluster.folder / "data" / "postmaster.pid").read_text().split()[0])


def wrk(port: int, paths: list[str], work: Path, connections: int, duration: int,
        database: int | None = None) -> dict[str, float]:
    """``wrk -t2`` cycling over ``paths``: req/s, p50/p95/p99 (ms), non-2xx responses, load average, and the CPU
    milliseconds per request of the server (``cpu``) and of the database (``db_cpu``)."""
    roots = [server_pid(port)]
    before = cpu_seconds(roots), cpu_seconds([database]) if database else 0.0
    out = wrk_report(port, paths, work, connections, duration, WRK_LUA)
    result = parse_wrk(out)
    p95 = [line.split()[1] for line in out.splitlines() if line.startswith("P95_US")]
    result["p95"] = float(p95[0]) / 1e3 if p95 else float("nan")
    result["load"] = os.getloadavg()[0]
    after = cpu_seconds(roots), cpu_seconds([database]) if database else 0.0
    requests = max(result["requests"], 1.0)
    result["cpu"] = 1e3 * (after[0] - before[0]) / requests
    result["db_cpu"] = 1e3 * (after[1] - before[1]) / requests if database else float("nan")
    return result


def fetch(port: int, path: str) -> dict:
    for attempt in range(10):  # a worker may still be starting on a busy machine
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=60) as response:
                return json.loads(response.read())
        except (ConnectionError, urllib.error.URLError):
            if attempt == 9:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def synthetic_source(farmland: int) -> tuple[Path, gpd.GeoDataFrame]:
    """The SYNTHETIC farmland source file (made once per size and kept in the temp folder: ~40 s to make)."""
    source = Path(tempfile.gettempdir()) / f"bench-farmland-{farmland}.gpkg"
    if source.exists():
        return source, pyogrio.read_dataframe(source)
    frame = make_farmland(farmland)
    pyogrio.write_dataframe(frame, source.with_suffix(".tmp.gpkg"), layer=LAYER)
    source.with_suffix(".tmp.gpkg").replace(source)
    return source, frame


def load_stores(work: Path, url: str, farmland: int) -> tuple[str, list[str]]:
    """Ingest the synthetic source into both stores; returns the PostGIS version table and the query boxes."""
    t0 = time.perf_counter()
    source, frame = synthetic_source(farmland)
    gpkg = GeoPackageStore(work / "workspace")
    ingest(gpkg, source, LAYER, LayerKind.farmland, title="Farmland (synthetic)")
    with PostGISStore(url, pool_size=2) as pg:
        ingest(pg, source, LAYER, LayerKind.farmland, title="Farmland (synthetic)")
        record = pg.get_layer(LAYER).current
    print(f"{record.feature_count} synthetic farmland polygons loaded into both stores in "
          f"{time.perf_counter() - t0:.1f} s; PostGIS table {record.location}")
    return record.location, feature_boxes(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--farmland", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before the first measured run")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs of each server, interleaved")
    parser.add_argument("--check", type=int, default=30, help="boxes whose answers are compared across servers")
    parser.add_argument("--tipg-python", default="/work/tipg-venv/bin/python")
    parser.add_argument("--before", type=Path, help="another checkout to run as 'before' (e.g. /work/main)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    if not Path(args.tipg_python).exists():
        sys.exit(f"TiPG not found at {args.tipg_python} (see the module docstring)")

    work = Path(tempfile.mkdtemp(prefix="bench-features-"))
    os.chmod(work, 0o755)
    print(f"work folder {work}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    cluster = Cluster(shared_buffers="256MB", max_connections="100").start()
    try:
        run(args, work, cluster)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, cluster: Cluster) -> None:
    url = cluster.new_database("bench")
    table, boxes = load_stores(work, url, args.farmland)
    boxes = [f"bbox={b}&limit=100" for b in boxes]
    common = {"GEO_SERVICE_SEED_DEMO": "false", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0"}
    stores = {"GeoPackage": {"GEO_SERVICE_WORKSPACE": str(work / "workspace")},
              "PostGIS": {"GEO_SERVICE_DATABASE_URL": url, "GEO_SERVICE_WORKSPACE": str(work / "unused")}}
    checkouts = [("", ROOT)] + ([(" (before)", args.before.resolve())] if args.before else [])
    specs = []  # name, python, target, env, ready, collection path
    for suffix, checkout in checkouts:
        for store, env in stores.items():
            specs.append((f"geo-service {store}{suffix}", sys.executable, ["--factory", "geo_service.main:app_factory"],
                          {**common, **env, "PYTHONPATH": str(checkout)}, "/conformance", f"/collections/{LAYER}"))
    specs.append(("TiPG", args.tipg_python, ["tipg.main:app"],
                  {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": json.dumps(["geo_layers"]), "TIPG_CATALOG_TTL": "3600"},
                  "/healthz", f"/collections/{table}"))

    database = database_pid(cluster)
    with _servers(specs, args, work) as ports:
        check(ports, specs, boxes[:args.check])
        rounds: list[dict[str, dict[str, float]]] = []
        for name, *_ in specs:  # warm-up: connections, caches, the OS page cache
            wrk(ports[name], [f"{_path(specs, name)}/items?{b}" for b in boxes], work, args.connections, args.warmup)
        for r in range(args.rounds):
            row = {}
            for name, *_ in (specs if r % 2 == 0 else specs[::-1]):
                row[name] = wrk(ports[name], [f"{_path(specs, name)}/items?{b}" for b in boxes], work,
                                args.connections, args.duration, database)
                m = row[name]
                print(f"  round {r + 1} {name:<32} {m['rps']:7.0f} req/s  p50 {m['p50']:6.1f}  p95 {m['p95']:6.1f}  "
                      f"p99 {m['p99']:6.1f} ms  non-2xx {m['errors']:.0f}  CPU {m['cpu']:.2f} + db {m['db_cpu']:.2f} "
                      f"ms/req  load {m['load']:.1f}", flush=True)
            rounds.append(row)
    report(args, specs, rounds)


class _servers:
    """Start every server (one after the other) and stop them all at the end."""

    def __init__(self, specs: list, args: argparse.Namespace, work: Path) -> None:
        self.specs, self.args, self.work = specs, args, work
        self.stack: list = []

    def __enter__(self) -> dict[str, int]:
        ports = {}
        for name, python, target, env, ready, _ in self.specs:
            cm = server(name.replace(" ", "-").replace("(", "").replace(")", ""), python, target, env, ready,
                        self.args.workers, self.work)
            ports[name] = cm.__enter__()
            self.stack.append(cm)
        return ports

    def __exit__(self, *exc: object) -> None:
        for cm in reversed(self.stack):
            cm.__exit__(None, None, None)


def _path(specs: list, name: str) -> str:
    return next(s[5] for s in specs if s[0] == name)


def check(ports: dict[str, int], specs: list, boxes: list[str]) -> None:
    """Every server finds the same features (ids, numberMatched) for the first boxes."""
    answers = {}
    for name, *_ in specs:
        answers[name] = [(_matched(page), [f["id"] for f in page["features"]])
                         for page in (fetch(ports[name], f"{_path(specs, name)}/items?{b}") for b in boxes)]
    first = specs[0][0]
    for name, got in answers.items():
        if got != answers[first]:
            bad = next(i for i, (a, b) in enumerate(zip(got, answers[first], strict=True)) if a != b)
            sys.exit(f"{name} answers box {bad} differently from {first}: {got[bad]} vs {answers[first][bad]}")
    matched = [m for m, _ in answers[first]]
    print(f"all servers agree on {len(boxes)} boxes (numberMatched {min(matched)}-{max(matched)}, "
          f"median {statistics.median(matched):.0f})")


def _matched(page: dict) -> int:
    return int(page.get("numberMatched", -1))


def report(args: argparse.Namespace, specs: list, rounds: list[dict[str, dict[str, float]]]) -> None:
    print(f"\nitems?bbox=<1-3 km>&limit=100 over 200 boxes, {args.farmland} synthetic farmland polygons; "
          f"{args.workers} workers per server; wrk -t2 -c{args.connections} -d{args.duration}s; "
          f"load average now {os.getloadavg()[0]:.1f}")
    header = (f"{'server':<34} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'x TiPG':>7} "
              f"{'CPU ms':>7} {'db ms':>6} {'load':>5}")
    print(header)
    print("-" * len(header))
    for r, row in enumerate(rounds):
        tipg = row["TiPG"]["rps"]
        for name, *_ in specs:
            m = row[name]
            print(f"{name + f' #{r + 1}':<34} {m['rps']:>7.0f} {m['p50']:>7.1f} {m['p95']:>7.1f} {m['p99']:>7.1f} "
                  f"{m['rps'] / tipg:>7.2f} {m['cpu']:>7.2f} {m['db_cpu']:>6.2f} {m['load']:>5.1f}")
    print("\nratio to TiPG, median over rounds (target >= 3.0 on both stores):")
    for name, *_ in specs:
        if name != "TiPG":
            ratios = [row[name]["rps"] / row["TiPG"]["rps"] for row in rounds]
            p95 = [row["TiPG"]["p95"] / row[name]["p95"] for row in rounds]
            cpu = [_cpu_total(row["TiPG"]) / _cpu_total(row[name]) for row in rounds]
            print(f"  {name:<32} {statistics.median(ratios):.2f}x req/s   p95 {statistics.median(p95):.2f}x lower   "
                  f"CPU per request (server + db) {statistics.median(cpu):.2f}x less")


def _cpu_total(m: dict[str, float]) -> float:
    return m["cpu"] + (0.0 if m["db_cpu"] != m["db_cpu"] else m["db_cpu"])  # NaN: database not counted


if __name__ == "__main__":
    main()
