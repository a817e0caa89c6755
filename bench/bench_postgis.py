"""Benchmark: geo-service on the GeoPackage store, geo-service on the PostGIS store, and TiPG on the *same*
PostGIS tables, side by side in one run. Not a test. Every server and client is on this machine (127.0.0.1).

Data: SYNTHETIC farmland (``--farmland`` polygons, default 200 000; 20-vertex parcels in 160 m cells along
40 meandering valleys over Kongsbergregionen's extent, deterministic), written once to a GeoPackage file
that is the ingest source. Nothing here is real geography.

Measured:

* ingest of the source file, median of ``--repeats`` interleaved runs:
  - floor: ``pyogrio.read_dataframe`` + binary COPY into a bare table (psycopg ``write_row``, the textbook
    way; "floor, numpy COPY": the same COPY with our encoder), no validation, no index;
  - geo-service: ``layers.ingest.ingest`` (read, validate/repair/normalise, publish: COPY, keys, GiST
    index, ANALYZE, catalog) into PostGIS, and into the GeoPackage workspace for reference;
* features: ``items?bbox=<1-3 km box>&limit=100`` over 200 random boxes (CRS84) on farmland, with
  ``wrk -t2 -c<connections> -d<duration>`` after a warm-up run: req/s, p50, p99;
* tiles: farmland z10-z14 over Kongsberg: cold (fresh server, each tile once, one client) p50/p95, cold
  throughput (another fresh server, ``--connections`` clients), then warm (wrk over the list after passes that
  fill the cache) req/s.

Servers run with ``--workers`` uvicorn workers (uvloop + httptools); TiPG in its own venv:

    apt-get install -y wrk postgresql-15-postgis-3
    python3 -m venv /tmp/tipg-venv && /tmp/tipg-venv/bin/pip install "tipg==1.6.1" "uvicorn[standard]"
    .venv/bin/python bench/bench_postgis.py            # --help: sizes, durations, --skip-tipg
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wrk_report import parse_wrk

from layers import pg_copy
from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.postgis_store import PostGISStore
from maps.tiles import TMS
from tests.postgis_cluster import Cluster, free_port

HOST = "127.0.0.1"
EXTENT = (415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0)  # Kongsbergregionen, EPSG:25832
KONGSBERG = (536_616.0, 6_614_840.0)
KONGSBERG_LONLAT = (9.40, 59.55, 9.90, 59.78)
LAYER = "farmland"


# -- data -------------------------------------------------------------------------------------------
def make_farmland(n: int, seed: int = 20251126) -> gpd.GeoDataFrame:
    """SYNTHETIC farmland parcels along random valleys (one of them through Kongsberg town)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = EXTENT
    turns = rng.normal(0, 0.12, (40, 150)).cumsum(axis=1) + rng.uniform(0, 2 * np.pi, 40)[:, None]
    steps = np.stack([np.cos(turns), np.sin(turns)], axis=-1) * 300.0
    starts = np.column_stack([rng.uniform(x0 + 6e3, x1 - 6e3, 40), rng.uniform(y0 + 6e3, y1 - 6e3, 40)])
    valleys = np.concatenate([starts[:, None], starts[:, None] + steps.cumsum(axis=1)], axis=1)
    valleys[0] += np.array(KONGSBERG) - valleys[0, 75]
    valleys[..., 0] = valleys[..., 0].clip(x0, x1)
    valleys[..., 1] = valleys[..., 1].clip(y0, y1)
    cell = 160.0
    gx, gy = np.meshgrid(np.arange(x0, x1 - cell, cell) + cell / 2, np.arange(y0, y1 - cell, cell) + cell / 2)
    centres = np.column_stack([gx.ravel(), gy.ravel()])
    _, dist = shapely.STRtree(shapely.linestrings(valleys)).query_nearest(
        shapely.points(centres), return_distance=True, all_matches=False)
    near = np.sort(np.argsort(dist + rng.exponential(300.0, len(dist)), kind="stable")[:n])
    c = centres[near]
    angles = np.sort(rng.uniform(0, 2 * np.pi, (n, 20)), axis=1)
    radii = rng.uniform(52.0, 78.0, (n, 20))
    ring = np.stack([c[:, :1] + radii * np.cos(angles), c[:, 1:] + radii * np.sin(angles)], axis=-1)
    names = {21: "Fulldyrka jord", 22: "Overflatedyrka jord", 23: "Innmarksbeite", 30: "Skog", 50: "Åpen fastmark"}
    code = rng.choice(list(names), size=n, p=[0.55, 0.05, 0.15, 0.15, 0.10])
    return gpd.GeoDataFrame({"arealtype": code, "arealtypenavn": [names[k] for k in code],
                             "kilde": ["synthetic"] * n},
                            geometry=shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1)), crs=25832)


def feature_boxes(frame: gpd.GeoDataFrame, count: int = 200, seed: int = 7) -> list[str]:
    """``count`` CRS84 bboxes of 1-3 km around random parcels."""
    rng = np.random.default_rng(seed)
    centres = shapely.get_coordinates(shapely.centroid(frame.geometry.values[rng.integers(0, len(frame), count)]))
    half = rng.uniform(500, 1500, (count, 2))
    to_lonlat = Transformer.from_crs(25832, 4326, always_xy=True)
    w, s = to_lonlat.transform(centres[:, 0] - half[:, 0], centres[:, 1] - half[:, 1])
    e, n = to_lonlat.transform(centres[:, 0] + half[:, 0], centres[:, 1] + half[:, 1])
    return [f"{a:.6f},{b:.6f},{c:.6f},{d:.6f}" for a, b, c, d in zip(w, s, e, n, strict=True)]


# -- ingest -----------------------------------------------------------------------------------------
def floor_ingest(url: str, source: Path, table: str, numpy_copy: bool) -> float:
    """Seconds for the raw read + binary COPY into a bare table (no validation, no index)."""
    import psycopg

    t0 = time.perf_counter()
    frame = pyogrio.read_dataframe(source)
    n = len(frame)
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(f"CREATE TABLE {table} (fid bigint, geom geometry(Polygon, 25832), arealtype bigint, "
                     "arealtypenavn text, kilde text)")
        if numpy_copy:
            fields = [pg_copy.prepare(frame[c], k, c) for c, k in
                      (("arealtype", "int"), ("arealtypenavn", "str"), ("kilde", "str"))]
            geoms = frame.geometry.to_numpy()
            with conn.cursor().copy(f"COPY {table} ({', '.join(pg_copy.copy_columns(fields, 'geom'))}) "
                                    "FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(pg_copy.HEADER)
                fids = np.arange(1, n + 1)
                for start in range(0, n, 20_000):
                    copy.write(pg_copy.encode_rows(fids, geoms, False, fields, start, min(n, start + 20_000)))
                copy.write(pg_copy.TRAILER)
        else:
            wkb = shapely.to_wkb(frame.geometry.values)
            with conn.cursor().copy(f"COPY {table} (fid, geom, arealtype, arealtypenavn, kilde) "
                                    "FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "bytea", "int8", "text", "text"])
                for row in zip(range(1, n + 1), wkb.tolist(), frame["arealtype"].tolist(),
                               frame["arealtypenavn"].tolist(), frame["kilde"].tolist(), strict=True):
                    copy.write_row(row)
    return time.perf_counter() - t0


def measure_ingest(url: str, pg: PostGISStore, gpkg: GeoPackageStore, source: Path, repeats: int
                   ) -> dict[str, float]:
    runs: dict[str, list[float]] = {"floor (read + COPY write_row)": [], "floor (read + numpy COPY)": [],
                                    "geo-service -> PostGIS": [], "geo-service -> GeoPackage": []}
    for r in range(repeats):  # interleaved, so load from elsewhere hits every variant alike
        runs["floor (read + COPY write_row)"].append(floor_ingest(url, source, f"floor_rows_{r}", False))
        runs["floor (read + numpy COPY)"].append(floor_ingest(url, source, f"floor_numpy_{r}", True))
        t0 = time.perf_counter()
        ingest(pg, source, LAYER, LayerKind.farmland, title="Farmland (synthetic)")
        runs["geo-service -> PostGIS"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ingest(gpkg, source, LAYER, LayerKind.farmland, title="Farmland (synthetic)")
        runs["geo-service -> GeoPackage"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in runs.items()}


# -- servers and load ---------------------------------------------------------------------------------
def wait_idle(roots: list[int], limit: float = 180.0) -> None:
    """Wait until ``roots`` (and their children) use under 5 % of a core over half a second, at most ``limit`` s."""
    from bench_tiles import wait_idle as tiles_wait_idle  # bench_tiles imports this module

    tiles_wait_idle(roots, limit)


@contextlib.contextmanager
def server(name: str, python: str, target: list[str], env: dict[str, str], ready: str, workers: int,
           work: Path) -> Iterator[int]:
    """A uvicorn server on a free loopback port; yields the port once it answers ``ready``."""
    port = free_port()
    cmd = [python, "-m", "uvicorn", *target, "--host", HOST, "--port", str(port), "--workers", str(workers),
           "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    log = (work / f"{name}-{port}.log").open("w")
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while True:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                conn.request("GET", ready)
                if conn.getresponse().status == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {log.name}")
            time.sleep(0.2)
        time.sleep(1.0)  # every worker up
        wait_idle([proc.pid])  # and its background start-up work (geo-service warms its constraint index)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


WRK_LUA = textwrap.dedent("""
    local paths = {}
    for line in io.lines(os.getenv("PATH_LIST")) do paths[#paths + 1] = line end
    local count = 0
    function setup(thread) thread:set("offset", count * 7919); count = count + 1 end
    local i = 0
    function init(args) i = offset or 0 end
    function request() i = i % #paths + 1; return wrk.format("GET", paths[i]) end
""")


def wrk_report(port: int, paths: list[str], work: Path, connections: int, duration: int,
               lua: str = WRK_LUA) -> str:
    """wrk's report of ``wrk -t2 --latency`` cycling over ``paths`` with the script ``lua``."""
    listing = work / f"paths-{port}.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = work / f"cycle-{port}.lua"
    script.write_text(lua)
    return subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
                           f"http://{HOST}:{port}"], env={**os.environ, "PATH_LIST": str(listing)},
                          capture_output=True, text=True, check=True).stdout


def wrk(port: int, paths: list[str], work: Path, connections: int, duration: int) -> dict[str, float]:
    """``wrk -t2`` cycling over ``paths``: req/s, p50 and p99 (ms), non-2xx count (``errors``)."""
    return parse_wrk(wrk_report(port, paths, work, connections, duration))


def sequential(port: int, paths: list[str]) -> tuple[list[float], list[int], list[bytes]]:
    """Each path once on one keep-alive connection: seconds, statuses, bodies."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    times, statuses, bodies = [], [], []
    for path in paths:
        t0 = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - t0)
        statuses.append(response.status)
        bodies.append(body)
    return times, statuses, bodies


def concurrent(port: int, paths: list[str], clients: int) -> tuple[float, list[float], list[int]]:
    """Each path once over ``clients`` keep-alive connections (threads): requests/s, seconds, statuses."""
    todo = iter(enumerate(paths))
    lock = threading.Lock()
    times = [0.0] * len(paths)
    statuses = [0] * len(paths)

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            i, path = item
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            times[i], statuses[i] = time.perf_counter() - t0, response.status

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(paths) / (time.perf_counter() - t0), times, statuses


def pct(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.array(seconds) * 1e3, q))


# -- main -----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--farmland", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3, help="ingest runs of each variant (median)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=15, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before each measured run")
    parser.add_argument("--tipg-python", default="/tmp/tipg-venv/bin/python")
    parser.add_argument("--skip-tipg", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    use_tipg = not args.skip_tipg and Path(args.tipg_python).exists()
    if not args.skip_tipg and not use_tipg:
        print(f"TiPG not found at {args.tipg_python}: running without it (see the module docstring)")

    work = Path(tempfile.mkdtemp(prefix="bench-postgis-"))
    os.chmod(work, 0o755)
    print(f"work folder {work}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    cluster = Cluster(shared_buffers="512MB", max_connections="100").start()
    try:
        run(args, work, cluster, use_tipg)
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, cluster: Cluster, use_tipg: bool) -> None:
    t0 = time.perf_counter()
    frame = make_farmland(args.farmland)
    source = work / "farmland-source.gpkg"
    pyogrio.write_dataframe(frame, source, layer=LAYER)
    print(f"source: {len(frame)} synthetic polygons written in {time.perf_counter() - t0:.1f} s")

    url = cluster.new_database("bench")
    workspace = work / "workspace"
    pg, gpkg = PostGISStore(url, pool_size=2), GeoPackageStore(workspace)
    ingest_times = measure_ingest(url, pg, gpkg, source, args.repeats)
    record = pg.get_layer(LAYER).current
    table = record.location
    print(f"ingest done; serving PostGIS table {table} ({record.feature_count} features)")
    pg.close()

    boxes = feature_boxes(frame)
    tiles = [(t.z, t.x, t.y) for t in TMS.tiles(*KONGSBERG_LONLAT, list(range(10, 15)))]
    env_common = {"GEO_SERVICE_SEED_DEMO": "false", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0",
                  "GEO_SERVICE_TILE_CACHE_BYTES": str(512 * 2**20)}
    servers: list[tuple[str, Callable[[], contextlib.AbstractContextManager[int]], str]] = [
        ("geo-service GeoPackage", lambda: server(
            "gpkg", sys.executable, ["--factory", "geo_service.main:app_factory"],
            {**env_common, "GEO_SERVICE_WORKSPACE": str(workspace)}, "/conformance", args.workers, work),
         f"/collections/{LAYER}"),
        ("geo-service PostGIS", lambda: server(
            "postgis", sys.executable, ["--factory", "geo_service.main:app_factory"],
            {**env_common, "GEO_SERVICE_DATABASE_URL": url, "GEO_SERVICE_WORKSPACE": str(work / "unused")},
            "/conformance", args.workers, work), f"/collections/{LAYER}"),
    ]
    if use_tipg:
        servers.append(("TiPG 1.6 (same tables)", lambda: server(
            "tipg", args.tipg_python, ["tipg.main:app"],
            {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": json.dumps(["geo_layers"]), "TIPG_CATALOG_TTL": "3600"},
            "/healthz", args.workers, work), f"/collections/{table}"))

    results: dict[str, dict[str, float]] = {}
    counts: dict[str, list[int]] = {}
    for name, start, base in servers:
        print(f"\n== {name}")
        item_paths = [f"{base}/items?bbox={b}&limit=100" for b in boxes]
        tile_paths = [f"{base}/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in tiles]
        row: dict[str, float] = {}
        with start() as port:  # cold tiles need a fresh server: one for one client, one for many
            times, statuses, _ = sequential(port, tile_paths)
            row["tile_cold_p50"], row["tile_cold_p95"] = pct(times, 50), pct(times, 95)
            row["tile_bad"] = sum(s not in (200, 204) for s in statuses)
        with start() as port:
            rate, times, statuses = concurrent(port, tile_paths, args.connections)
            row["tile_cold_tps"], row["tile_cold_conc_p50"] = rate, pct(times, 50)
            row["tile_bad"] += sum(s not in (200, 204) for s in statuses)
            sequential(port, tile_paths)  # every tile once more: the other worker's cache too (most of it)
            wrk(port, tile_paths, work, args.connections, args.warmup)
            warm = wrk(port, tile_paths, work, args.connections, args.duration)
            row["tile_warm_rps"], row["tile_warm_p50"], row["tile_non2xx"] = warm["rps"], warm["p50"], warm["errors"]
            print(f"  tiles: cold p50 {row['tile_cold_p50']:.1f} ms, p95 {row['tile_cold_p95']:.1f} ms, "
                  f"{row['tile_cold_tps']:.0f} tiles/s with {args.connections} clients; warm {warm['rps']:.0f} req/s")
            _, statuses, bodies = sequential(port, item_paths[:20])
            counts[name] = [json.loads(b).get("numberMatched", -1) if s == 200 else -s
                            for s, b in zip(statuses, bodies, strict=True)]
            wrk(port, item_paths, work, args.connections, args.warmup)
            feats = wrk(port, item_paths, work, args.connections, args.duration)
            row["items_rps"], row["items_p50"], row["items_p99"], row["items_non2xx"] = (
                feats["rps"], feats["p50"], feats["p99"], feats["errors"])
            print(f"  features: {feats['rps']:.0f} req/s, p50 {feats['p50']:.1f} ms, p99 {feats['p99']:.1f} ms")
        results[name] = row
    report(args, ingest_times, results, counts, len(tiles), record.feature_count)


def report(args: argparse.Namespace, ingest_times: dict[str, float], results: dict[str, dict[str, float]],
           counts: dict[str, list[int]], n_tiles: int, n_features: int) -> None:
    print(f"\n{n_features} synthetic farmland polygons; {args.workers} workers per server; wrk -t2 "
          f"-c{args.connections} -d{args.duration}s after {args.warmup}s warm-up; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"\ningest (median of {args.repeats})")
    for name, seconds in ingest_times.items():
        print(f"  {name:<32} {seconds:6.2f} s")
    floor = ingest_times["floor (read + COPY write_row)"]
    ours = ingest_times["geo-service -> PostGIS"]
    print(f"  ratio geo-service PostGIS / floor: {ours / floor:.2f} (target <= 2); / numpy-COPY floor: "
          f"{ours / ingest_times['floor (read + numpy COPY)']:.2f}")

    header = (f"{'server':<26} {'items r/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'tile cold p50':>13} "
              f"{'p95':>7} {'cold t/s':>8} {'tile warm r/s':>13} {'errors':>6}")
    print(f"\nfeatures: items?bbox=<1-3 km>&limit=100 over 200 boxes; tiles: farmland z10-z14 over Kongsberg "
          f"({n_tiles} tiles)")
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        errors = int(r["tile_bad"] + r["tile_non2xx"] + r["items_non2xx"])
        print(f"{name:<26} {r['items_rps']:>9.0f} {r['items_p50']:>7.1f} {r['items_p99']:>7.1f} "
              f"{r['tile_cold_p50']:>13.1f} {r['tile_cold_p95']:>7.1f} {r['tile_cold_tps']:>8.0f} "
              f"{r['tile_warm_rps']:>13.0f} {errors:>6}")
    names = list(results)
    tipg = next((n for n in names if n.startswith("TiPG")), None)
    if tipg:
        print("\nratios against TiPG on the same tables")
        for name in names:
            if name == tipg:
                continue
            r, t = results[name], results[tipg]
            print(f"  {name:<24} features {r['items_rps'] / t['items_rps']:.2f}x (target >= 1.5); tiles cold p50 "
                  f"{t['tile_cold_p50'] / r['tile_cold_p50']:.2f}x faster, p95 {t['tile_cold_p95'] / r['tile_cold_p95']:.2f}x,"
                  f" cold throughput {r['tile_cold_tps'] / t['tile_cold_tps']:.2f}x; warm {r['tile_warm_rps'] / t['tile_warm_rps']:.2f}x")
    print("\nnumberMatched of the first 20 boxes (must agree)")
    for name, values in counts.items():
        print(f"  {name:<26} {values}")


if __name__ == "__main__":
    main()
