"""Benchmark: vector tiles from geo-service against TiPG on PostGIS and a bare-ASGI ceiling, same tiles, same run.

Not a test. Everything runs on this machine and talks over loopback (127.0.0.1) only.

Data (both in EPSG:25832, loaded into the GeoPackage workspace *and* a throwaway PostGIS cluster):

* ``demo``: the synthetic demo workspace (``layers.demo``: ar5 41 245 farmland polygons, arealplan 6 748 zones, …);
* ``region``: SYNTHETIC region-scale data generated here (deterministic): ``--farmland`` farmland parcels
  (default 200 000, 20-vertex polygons in 160 m cells along 40 meandering valleys) and 5 000 zoning polygons
  around 70 towns, over the real extent of Kongsbergregionen. Nothing here is real geography.

Tile sets (fixed lists): farmland z10-z14 over Kongsberg (the set of issue 17), farmland z8-z9 over Kongsberg
(dense low zooms; their drawn area is compared with the true area, tile by tile) and zoning z8-z12 over the
whole region; demo ar5 z8-z14 and arealplan z8-z12.

Servers, each with ``--workers`` uvicorn workers (uvloop + httptools):

* ``geo-service``: ``geo_service.main:app_factory``, cache in memory only (no disk tier), so "cold" is cold
  for every tile; cold tiles rendered by ``--render-processes`` processes per worker (default: one per core,
  ``GEO_SERVICE_TILE_RENDER_PROCESSES``; 0: the worker's threads); the coverage grids that big polygon layers draw their z <= 9 tiles from (``maps.lowzoom``)
  are built once per version before the servers start (timed), as the service does after a publish;
* ``TiPG`` 1.6.1 (its own venv, ``--tipg-python``) on PostGIS 15/3 (initdb in a temp folder as user postgres,
  a free loopback port; tables loaded with psycopg COPY of hex WKB, GiST index, ANALYZE);
* ``ceiling``: a bare ASGI app returning geo-service's bytes for the same URLs from a dict.

Measures, per tile set and server:

* cold, sequential: every tile once, one client: p50/p95 latency (each server started fresh);
* cold, concurrent: every tile once, ``--connections`` clients, ``--cold-repeats`` times, each on a freshly
  started server: the median run's tiles/s, p50/p95 and CPU (every run's tiles/s is printed too: on this
  2-core VM one run of ~1 s varies by ±30 %);
* warm: ``wrk -t2 -c<connections> -d<duration>`` cycling over the list after a warm-up run: req/s and p50/p99;
* tile sizes per zoom (geo-service and TiPG) and the number of features each server put in the tiles.

Run (from the repository, with its .venv active):

    apt-get install -y wrk postgresql-15-postgis-3
    python3 -m venv /tmp/tipg-venv && /tmp/tipg-venv/bin/pip install "tipg==1.6.1" "uvicorn[standard]"
    python bench/bench_tiles.py                      # --help for sizes, durations, --skip-tipg
    python bench/bench_tiles.py --only region/farmland --tipg-python /path/to/tipg-venv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import pickle
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wrk_report import parse_wrk

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.seed import publish_demo
from layers.store import LayerMeta
from maps.lowzoom import LowZoomGrids, uses_grid
from maps.tiles import TMS

CRS = "EPSG:25832"
EXTENT = (415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0)
KONGSBERG_LONLAT = (9.40, 59.55, 9.90, 59.78)  # west, south, east, north
HOST = "127.0.0.1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTMASTER: list[int] = []  # the throwaway cluster's postmaster: its CPU counts for TiPG


# ------------------------------------------------------------------------------------------------ data
def _stars(rng: np.random.Generator, centres: np.ndarray, r_min: float, r_max: float, k: int) -> np.ndarray:
    ang = np.sort(rng.uniform(0, 2 * np.pi, (len(centres), k)), axis=1)
    r = rng.uniform(r_min, r_max, (len(centres), k))
    ring = np.stack([centres[:, 0:1] + r * np.cos(ang), centres[:, 1:2] + r * np.sin(ang)], axis=-1)
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def make_region(n_farmland: int, n_zones: int = 5_000, seed: int = 20251126) -> dict[str, gpd.GeoDataFrame]:
    """SYNTHETIC farmland and zoning over the region extent (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = EXTENT
    margin = 6_000.0
    n_valleys = 40
    starts = np.column_stack([rng.uniform(x0 + margin, x1 - margin, n_valleys),
                              rng.uniform(y0 + margin, y1 - margin, n_valleys)])
    turns = rng.normal(0, 0.12, (n_valleys, 150)).cumsum(axis=1) + rng.uniform(0, 2 * np.pi, n_valleys)[:, None]
    steps = np.stack([np.cos(turns), np.sin(turns)], axis=-1) * 300.0
    valleys_xy = np.concatenate([starts[:, None], starts[:, None] + steps.cumsum(axis=1)], axis=1)
    valleys_xy[..., 0] = valleys_xy[..., 0].clip(x0, x1)
    valleys_xy[..., 1] = valleys_xy[..., 1].clip(y0, y1)
    # Kongsberg town lies on the first valley, so the farmland tile set has farmland to draw
    valleys_xy[0] += np.array([536_616.0, 6_614_840.0]) - valleys_xy[0, 75]
    tree = shapely.STRtree(shapely.linestrings(valleys_xy))
    cell = 160.0
    gx, gy = np.meshgrid(np.arange(x0, x1 - cell, cell) + cell / 2, np.arange(y0, y1 - cell, cell) + cell / 2)
    centres = np.column_stack([gx.ravel(), gy.ravel()])
    _, dist = tree.query_nearest(shapely.points(centres), return_distance=True, all_matches=False)
    near = np.sort(np.argsort(dist + rng.exponential(300.0, len(dist)), kind="stable")[:n_farmland])
    names = {21: "Fulldyrka jord", 22: "Overflatedyrka jord", 23: "Innmarksbeite", 30: "Skog", 50: "Åpen fastmark"}
    code = rng.choice(list(names), size=len(near), p=[0.55, 0.05, 0.15, 0.15, 0.10])
    farmland = gpd.GeoDataFrame({"arealtype": code, "arealtypenavn": [names[c] for c in code]},
                                geometry=_stars(rng, centres[near], 52.0, 78.0, 20), crs=CRS)
    towns = valleys_xy[rng.integers(0, n_valleys, 70), rng.integers(0, valleys_xy.shape[1], 70)]
    towns[0] = (536_616.0, 6_614_840.0)
    zt = rng.integers(0, len(towns), n_zones)
    z_xy = towns[zt] + rng.normal(0, 1_600, (n_zones, 2))
    codes = rng.choice([1110, 1300, 1340, 1800, 1001, 5100, 3001, 2010], size=n_zones,
                       p=[0.30, 0.15, 0.05, 0.05, 0.08, 0.22, 0.08, 0.07])
    size = np.where(codes == 5100, rng.uniform(300, 900, n_zones), rng.uniform(40, 180, n_zones))
    zones = _stars(rng, z_xy, 0.7, 1.0, 12)
    coords = shapely.get_coordinates(zones)
    owner = np.repeat(np.arange(n_zones), shapely.get_num_coordinates(zones))
    coords = z_xy[owner] + (coords - z_xy[owner]) * size[owner, None]
    zones = shapely.set_coordinates(zones, coords)
    zoning = gpd.GeoDataFrame({"arealformal": codes, "planid": [f"synthetic-{t}-{i}" for i, t in enumerate(zt)]},
                              geometry=zones, crs=CRS)
    return {"farmland": farmland, "zoning": zoning}


@dataclass
class TileSet:
    dataset: str  # workspace / PostGIS schema
    layer: str
    zooms: range
    bbox: tuple[float, float, float, float]  # lon/lat
    tiles: list[tuple[int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tiles = [(t.z, t.x, t.y) for t in TMS.tiles(*self.bbox, list(self.zooms))]

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.layer} z{self.zooms.start}-{self.zooms.stop - 1}"


# ---------------------------------------------------------------------------------------------- PostGIS
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgis(folder: Path) -> Iterator[str]:
    """A throwaway PostGIS cluster on a free loopback port, run as user postgres; yields its URL."""
    folder.mkdir(parents=True)
    shutil.chown(folder, "postgres")
    data = folder / "data"
    port = free_port()

    def as_postgres(*cmd: str) -> None:
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8")
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                f"\"-p {port} -k {folder} -c listen_addresses={HOST} -c shared_buffers=512MB -c fsync=off "
                f"-c synchronous_commit=off -c max_connections=100\"", "start")
    POSTMASTER.append(int((data / "postmaster.pid").read_text().split()[0]))
    try:
        yield f"postgresql://postgres@{HOST}:{port}/postgres"
    finally:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")


def load_postgis(url: str, schema: str, table: str, frame: gpd.GeoDataFrame) -> None:
    """Copy a frame (index = fid) into schema.table with a GiST index: hex WKB through COPY, no ogr2ogr."""
    import psycopg

    kinds = {"i": "bigint", "u": "bigint", "f": "double precision", "b": "boolean"}
    columns = [c for c in frame.columns if c != frame.geometry.name]
    decl = ", ".join(f'"{c}" {kinds.get(frame[c].dtype.kind, "text")}' for c in columns)  # Int64 is kind "i"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        db.execute(f'DROP TABLE IF EXISTS {schema}."{table}"')
        db.execute(f'CREATE TABLE {schema}."{table}" (fid bigint PRIMARY KEY, {decl}, '
                   f"geom geometry(Geometry, 25832))")
        wkb = shapely.to_wkb(frame.geometry.values, hex=True)
        values = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in columns]
        with db.cursor().copy(f'COPY {schema}."{table}" (fid, {", ".join(chr(34) + c + chr(34) for c in columns)}, '
                              "geom) FROM STDIN") as copy:
            for i, fid in enumerate(frame.index.tolist()):
                row = [fid, *(v[i] for v in values), f"SRID=25832;{wkb[i]}"]
                copy.write_row(row)
        db.execute(f'CREATE INDEX ON {schema}."{table}" USING gist (geom)')
        db.execute(f'ANALYZE {schema}."{table}"')


# ---------------------------------------------------------------------------------------------- servers
CEILING_APP = '''
import os, pickle
TILES = pickle.load(open(os.environ["CEILING_TILES"], "rb"))
CT = [(b"content-type", b"application/vnd.mapbox-vector-tile")]

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    if scope["query_string"]:
        path += "?" + scope["query_string"].decode()
    found = TILES.get(path)
    if found is None:
        await send({"type": "http.response.start", "status": 200 if path == "/ping" else 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    status, body = found
    await send({"type": "http.response.start", "status": status,
                "headers": CT + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
'''


CLK_TCK = os.sysconf("SC_CLK_TCK")
CPU_ROOTS: dict[str, list[int]] = {}  # server url -> pids whose CPU time (and their children's) is the server's


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) of ``roots``, their live children and their reaped children."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children[int(fields[1])].append(int(entry.name))
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        fields = _stat(pid)
        if fields:
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            todo.extend(children.get(pid, []))
    return total / CLK_TCK


def wait_idle(roots: list[int], limit: float = 180.0) -> float:
    """Wait until ``roots`` use less than 5 % of a core over half a second (at most ``limit`` s); the seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        c0 = cpu_seconds(roots)
        time.sleep(0.5)
        if cpu_seconds(roots) - c0 < 0.025:
            break
    return time.monotonic() - t0


@contextlib.contextmanager
def server(name: str, python: str, target: list[str], env: dict[str, str], ready: str, workers: int,
           cwd: Path, extra_cpu: list[int] | None = None) -> Iterator[str]:
    """A uvicorn server with ``workers`` workers on a free loopback port; yields its base URL when ready."""
    port = free_port()
    cmd = [python, "-m", "uvicorn", *target, "--host", HOST, "--port", str(port), "--workers", str(workers),
           "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    log = open(cwd / f"{name}-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(url + ready, timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {log.name}") from None
                time.sleep(0.2)
        time.sleep(1.0 if workers > 1 else 0.2)  # let every worker finish its startup
        wait_idle([proc.pid])  # and its background start-up work (geo-service warms its constraint index)
        CPU_ROOTS[url] = [proc.pid, *(extra_cpu or [])]
        yield url
    finally:
        CPU_ROOTS.pop(url, None)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


# ---------------------------------------------------------------------------------------------- clients
MISSES: list[int] = [0]  # responses with X-Tile-Cache: miss in the last fetch_all


async def _fetch_all(port: int, paths: list[str], concurrency: int) -> list[tuple[int, float, bytes]]:
    """Each path once over ``concurrency`` keep-alive connections: (status, seconds, body) in path order."""
    results: list[tuple[int, float, bytes]] = [(0, 0.0, b"")] * len(paths)
    MISSES[0] = 0
    todo = iter(range(len(paths)))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        for i in todo:
            t0 = time.perf_counter()
            writer.write(f"GET {paths[i]} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    chunk = await reader.readexactly(size + 2)
                    if size == 0:
                        break
                    body += chunk[:-2]
            else:
                body = await reader.readexactly(int(headers.get("content-length", "0")))
            results[i] = (status, time.perf_counter() - t0, body)
            MISSES[0] += headers.get("x-tile-cache") == "miss"
        writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results


def fetch_all(url: str, paths: list[str], concurrency: int) -> tuple[list[tuple[int, float, bytes]], float]:
    port = int(url.rsplit(":", 1)[1])
    t0 = time.perf_counter()
    try:
        import uvloop

        results = uvloop.run(_fetch_all(port, paths, concurrency))
    except ImportError:
        results = asyncio.run(_fetch_all(port, paths, concurrency))
    return results, time.perf_counter() - t0


WRK_SCRIPT = textwrap.dedent("""
    local paths = {}
    for line in io.lines(os.getenv("TILE_LIST")) do paths[#paths + 1] = line end
    local threads = 0
    function setup(thread)
      thread:set("offset", threads * 7919)
      threads = threads + 1
    end
    local i = 0
    function init(args) i = offset or 0 end
    function request()
      i = i % #paths + 1
      return wrk.format("GET", paths[i])
    end
""")


def wrk(url: str, paths_file: Path, script: Path, connections: int, duration: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
                         env={**os.environ, "TILE_LIST": str(paths_file)}, capture_output=True, text=True,
                         check=True).stdout
    return parse_wrk(out)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1e3, q)) if values else float("nan")


# ---------------------------------------------------------------------------------------------- area
AREAS: list[tuple[str, int, int, int, float, float]] = []  # tile set, z, x, y, true m², drawn m²


def tile_areas(frame: gpd.GeoDataFrame, body: bytes, layer: str, z: int, x: int, y: int) -> tuple[float, float]:
    """True and drawn polygon area inside tile (z, x, y), both in tile units² converted to m² of EPSG:3857.

    True: the layer's polygons projected with PROJ (EPSG:25832 -> 3857), scaled to tile units and clipped to
    the tile square. Drawn: the tile decoded with mapbox-vector-tile, its polygons clipped to the square.
    """
    from pyproj import Transformer
    from shapely.geometry import shape

    b = TMS.xy_bounds(x, y, z)
    unit = (b.right - b.left) / 4096
    near = frame
    coords = shapely.get_coordinates(near.geometry.values)
    mx, my = Transformer.from_crs(25832, 3857, always_xy=True).transform(coords[:, 0], coords[:, 1])
    units = np.column_stack(((mx - b.left) / unit, (b.top - my) / unit))
    geoms = shapely.set_coordinates(np.array(near.geometry.values, dtype=object), units)
    box = shapely.box(0, 0, 4096, 4096)
    hit = shapely.intersects(geoms, box)
    true = float(shapely.area(shapely.clip_by_rect(geoms[hit], 0, 0, 4096, 4096)).sum())
    drawn = 0.0
    if body:
        for feature in mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})[layer]["features"]:
            drawn += shapely.area(shapely.clip_by_rect(shape(feature["geometry"]), 0, 0, 4096, 4096))
    return true * unit * unit, drawn * unit * unit


# ---------------------------------------------------------------------------------------------- run
@dataclass
class Row:
    tileset: str
    server: str
    tiles: int
    seq_p50: float = float("nan")
    seq_p95: float = float("nan")
    cold_tps: float = float("nan")
    cold_p50: float = float("nan")
    cold_p95: float = float("nan")
    warm_rps: float = float("nan")
    warm_p50: float = float("nan")
    warm_p99: float = float("nan")
    cold_cpu: float = float("nan")  # server CPU ms per tile (TiPG: with PostgreSQL's)
    warm_cpu: float = float("nan")
    features: int = 0
    sizes: dict[int, list[int]] = field(default_factory=dict)
    cold_runs: list[float] = field(default_factory=list)  # tiles/s of each cold concurrent run


def count_features(bodies: list[bytes]) -> int:
    total = 0
    for body in bodies:
        if body:
            total += sum(len(layer["features"]) for layer in mapbox_vector_tile.decode(body).values())
    return total


def measure(row: Row, make: object, paths: list[str],
            zooms: list[int], args: argparse.Namespace, work: Path, script: Path) -> list[tuple[int, bytes]]:
    """Cold sequential (fresh server), cold concurrent (fresh server), then warm with wrk on that server."""
    with make() as url:  # type: ignore[operator]
        seq, _ = fetch_all(url, paths, 1)
    row.seq_p50, row.seq_p95 = pct([r[1] for r in seq], 50), pct([r[1] for r in seq], 95)
    paths_file = work / f"paths-{row.server}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    runs: list[tuple[float, float, float, float]] = []  # tiles/s, CPU ms per tile, p50, p95
    for attempt in range(args.cold_repeats):  # each on a fresh server; the last one goes on to the warm runs
        stack = contextlib.ExitStack()
        url = stack.enter_context(make())  # type: ignore[operator]
        cpu0 = cpu_seconds(CPU_ROOTS[url])
        cold, elapsed = fetch_all(url, paths, args.connections)
        bad = [r[0] for r in cold if r[0] not in (200, 204)]
        if bad:
            print(f"  !! {row.server}: {len(bad)} responses not 200/204 (e.g. {bad[0]})")
        runs.append((len(paths) / elapsed, (cpu_seconds(CPU_ROOTS[url]) - cpu0) * 1e3 / len(paths),
                     pct([r[1] for r in cold], 50), pct([r[1] for r in cold], 95)))
        if attempt + 1 < args.cold_repeats:
            stack.close()
    row.cold_runs = [r[0] for r in runs]
    row.cold_tps, row.cold_cpu, row.cold_p50, row.cold_p95 = sorted(runs)[len(runs) // 2]  # the median run
    with stack:
        for _ in range(8):  # warm every worker: passes until no response says it was rendered (geo-service)
            fetch_all(url, paths, args.connections)
            if not MISSES[0]:
                break
        wrk(url, paths_file, script, args.connections, args.warmup)
        cpu0 = cpu_seconds(CPU_ROOTS[url])
        warm = wrk(url, paths_file, script, args.connections, args.duration)
        row.warm_cpu = (cpu_seconds(CPU_ROOTS[url]) - cpu0) * 1e3 / max(warm.get("requests", 1), 1)
        row.warm_rps, row.warm_p50, row.warm_p99 = warm.get("rps", 0), warm.get("p50", 0), warm.get("p99", 0)
    for z, (_, _, body) in zip(zooms, cold, strict=True):
        row.sizes.setdefault(z, []).append(len(body))
    row.features = count_features([r[2] for r in cold])
    return [(r[0], r[2]) for r in cold]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--farmland", type=int, default=200_000, help="region farmland polygons")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=15, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of the wrk run before each measured one")
    parser.add_argument("--tipg-python", default="/tmp/tipg-venv/bin/python")
    parser.add_argument("--skip-tipg", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated tile-set names to run (e.g. region/farmland)")
    parser.add_argument("--cold-repeats", type=int, default=3,
                        help="cold concurrent runs per server, each on a fresh server (the median run is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--render-processes", type=int, default=os.cpu_count() or 1,
                        help="geo-service render processes per worker (0: render in the worker's threads)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    use_tipg = not args.skip_tipg and Path(args.tipg_python).exists() and (PG_BIN / "initdb").exists()
    if not args.skip_tipg and not use_tipg:
        print("TiPG or PostGIS missing: running without TiPG (see the module docstring)")

    work = Path(tempfile.mkdtemp(prefix="bench-tiles-"))
    os.chmod(work, 0o755)
    script = work / "tiles.lua"
    script.write_text(WRK_SCRIPT)
    print(f"work folder {work}")
    t0 = time.perf_counter()
    demo_ws, region_ws = work / "demo-ws", work / "region-ws"
    demo = GeoPackageStore(demo_ws)
    publish_demo(demo)
    region = GeoPackageStore(region_ws)
    frames = make_region(args.farmland)
    for layer_id, frame in frames.items():
        kind = LayerKind.farmland if layer_id == "farmland" else LayerKind.zoning
        region.publish(layer_id, frame, LayerMeta(kind, f"{layer_id} (synthetic, region scale)"))
    print(f"workspaces built in {time.perf_counter() - t0:.1f} s: demo ar5 {demo.get_layer('ar5').current.feature_count}"
          f", region farmland {region.get_layer('farmland').current.feature_count} polygons")
    # what the service does in the background after a publish (maps.lowzoom): the coverage grid of the big
    # polygon layer, measured once per version and kept in the workspace for every worker and restart
    t0 = time.perf_counter()
    for store, ws in ((demo, demo_ws), (region, region_ws)):
        grids = LowZoomGrids(store, ws / "tile-grids")
        for layer in store.list_layers():
            if uses_grid(layer.current):
                grids.grid(layer.current)
                print(f"coverage grid of {layer.id} ({layer.current.feature_count} features) built")
    print(f"coverage grids built in {time.perf_counter() - t0:.1f} s (once per published version)")
    region_lonlat = (7.47, 59.40, 10.10, 60.51)
    tilesets = [TileSet("demo", "ar5", range(8, 15), KONGSBERG_LONLAT),
                TileSet("demo", "arealplan", range(8, 13), region_lonlat),
                TileSet("region", "farmland", range(10, 15), KONGSBERG_LONLAT),  # the set issue 17 names
                TileSet("region", "farmland", range(8, 10), KONGSBERG_LONLAT),  # dense low zooms, area checked
                TileSet("region", "zoning", range(8, 13), region_lonlat)]
    if args.only:
        wanted = set(args.only.split(","))
        tilesets = [t for t in tilesets if f"{t.dataset}/{t.layer}" in wanted]

    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        pg_url = None
        if use_tipg:
            t0 = time.perf_counter()
            pg_url = stack.enter_context(postgis(work / "pg"))
            stores = {"demo": demo, "region": region}
            for ts in {(t.dataset, t.layer) for t in tilesets}:
                store = stores[ts[0]]
                load_postgis(pg_url, ts[0], ts[1], store.read_frame(store.get_layer(ts[1]).current))
            print(f"PostGIS loaded in {time.perf_counter() - t0:.1f} s")
        for ts in tilesets:
            print(f"\n== {ts.name}: {len(ts.tiles)} tiles "
                  f"({', '.join(f'z{z}: {sum(t[0] == z for t in ts.tiles)}' for z in ts.zooms)})")
            ws = demo_ws if ts.dataset == "demo" else region_ws
            ours_paths = [f"/collections/{ts.layer}/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in ts.tiles]
            zooms = [z for z, _, _ in ts.tiles]
            env = {"GEO_SERVICE_WORKSPACE": str(ws), "GEO_SERVICE_SEED_DEMO": "false",
                   "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0", "GEO_SERVICE_TILE_CACHE_BYTES": str(512 * 2**20),
                   "GEO_SERVICE_TILE_RENDER_PROCESSES": str(args.render_processes)}

            def ours(env: dict[str, str] = env) -> contextlib.AbstractContextManager[str]:
                return server("geo-service", sys.executable, ["--factory", "geo_service.main:app_factory"], env,
                              "/conformance", args.workers, work)

            row = Row(ts.name, "geo-service", len(ts.tiles))
            ours_bodies = measure(row, ours, ours_paths, zooms, args, work, script)
            rows.append(row)
            if ts.zooms.stop <= 10:  # dense low zooms: drawn area against the true area, per tile
                store = demo if ts.dataset == "demo" else region
                frame = store.read_frame(store.get_layer(ts.layer).current)
                for (z, x, y), (_, body) in zip(ts.tiles, ours_bodies, strict=True):
                    true, drawn = tile_areas(frame, body, ts.layer, z, x, y)
                    AREAS.append((ts.name, z, x, y, true, drawn))
            print(f"  geo-service done: {row.cold_tps:.0f} cold tiles/s, {row.warm_rps:.0f} warm req/s")
            if pg_url:
                tipg_paths = [f"/collections/{ts.dataset}.{ts.layer}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                              for z, x, y in ts.tiles]
                tipg_env = {"DATABASE_URL": pg_url, "TIPG_DB_SCHEMAS": json.dumps([ts.dataset]),
                            "TIPG_CATALOG_TTL": "3600"}

                def tipg(env: dict[str, str] = tipg_env) -> contextlib.AbstractContextManager[str]:
                    return server("tipg", args.tipg_python, ["tipg.main:app"], env, "/healthz", args.workers, work,
                                  extra_cpu=POSTMASTER)

                row = Row(ts.name, "TiPG", len(ts.tiles))
                measure(row, tipg, tipg_paths, zooms, args, work, script)
                rows.append(row)
                print(f"  TiPG done: {row.cold_tps:.0f} cold tiles/s, {row.warm_rps:.0f} warm req/s")
            # ceiling: the same bytes for the same URLs from a dict
            tiles_file = work / "ceiling.pickle"
            tiles_file.write_bytes(pickle.dumps(dict(zip(ours_paths, ours_bodies, strict=True))))
            (work / "ceiling_app.py").write_text(CEILING_APP)
            paths_file = work / "paths-ceiling.txt"
            paths_file.write_text("\n".join(ours_paths) + "\n")
            with server("ceiling", sys.executable, ["ceiling_app:app"], {"CEILING_TILES": str(tiles_file),
                                                                        "PYTHONPATH": str(work)},
                        "/ping", args.workers, work) as url:
                wrk(url, paths_file, script, args.connections, args.warmup)
                cpu0 = cpu_seconds(CPU_ROOTS[url])
                warm = wrk(url, paths_file, script, args.connections, args.duration)
                cpu = (cpu_seconds(CPU_ROOTS[url]) - cpu0) * 1e3 / max(warm.get("requests", 1), 1)
            rows.append(Row(ts.name, "bare ASGI dict", len(ts.tiles), warm_rps=warm.get("rps", 0),
                            warm_p50=warm.get("p50", 0), warm_p99=warm.get("p99", 0), warm_cpu=cpu))
            print(f"  ceiling done: {warm.get('rps', 0):.0f} req/s")
    report(rows, args)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\nworkers {args.workers} (geo-service: {args.render_processes} render processes each), {args.connections} concurrent connections, wrk {args.duration} s "
          f"(after {args.warmup} s warm-up); latencies in ms; cpu: server CPU ms per tile (TiPG: uvicorn + "
          f"PostgreSQL), robust to load from other processes; load average at the end "
          f"{os.getloadavg()[0]:.1f}")
    header = (f"{'tile set':<26} {'server':<15} {'tiles':>5} {'seq p50':>8} {'seq p95':>8} {'cold t/s':>9} "
              f"{'cold p50':>9} {'cold p95':>9} {'cold cpu':>9} {'warm r/s':>9} {'warm p50':>9} {'warm p99':>9} "
              f"{'warm cpu':>9} {'features':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        def f(v: float, d: int = 1) -> str:
            return "-" if math.isnan(v) else f"{v:.{d}f}"
        print(f"{r.tileset:<26} {r.server:<15} {r.tiles:>5} {f(r.seq_p50, 2):>8} {f(r.seq_p95, 2):>8} "
              f"{f(r.cold_tps, 0):>9} {f(r.cold_p50, 2):>9} {f(r.cold_p95, 2):>9} {f(r.cold_cpu, 2):>9} "
              f"{f(r.warm_rps, 0):>9} {f(r.warm_p50, 2):>9} {f(r.warm_p99, 2):>9} {f(r.warm_cpu, 3):>9} "
              f"{r.features if r.features else '-':>9}")
    print("\ncold concurrent runs, tiles/s (fresh server each; the table shows the median run)")
    for r in rows:
        if r.cold_runs:
            print(f"  {r.tileset:<26} {r.server:<15} {', '.join(f'{v:.0f}' for v in r.cold_runs)}")
    print("\nratios (geo-service / TiPG; geo-service / ceiling)")
    by = defaultdict(dict)
    for r in rows:
        by[r.tileset][r.server] = r
    for name, servers in by.items():
        ours, tipg, ceiling = servers.get("geo-service"), servers.get("TiPG"), servers.get("bare ASGI dict")
        parts = []
        if ours and tipg:
            parts.append(f"cold throughput x{ours.cold_tps / tipg.cold_tps:.2f}, cold p50 x{ours.cold_p50 / tipg.cold_p50:.2f}"
                         f" (lower is better), sequential p50 x{ours.seq_p50 / tipg.seq_p50:.2f}, "
                         f"cold CPU per tile x{ours.cold_cpu / tipg.cold_cpu:.2f}, "
                         f"warm x{ours.warm_rps / tipg.warm_rps:.1f}")
        if ours and ceiling:
            parts.append(f"warm vs ceiling {ours.warm_rps / ceiling.warm_rps:.0%}")
        print(f"  {name:<26} " + "; ".join(parts))
    if AREAS:
        print("\ndrawn area of the dense low-zoom tiles (m² of EPSG:3857 inside the tile; geo-service)")
        for name, z, x, y, true, drawn in AREAS:
            share = drawn / true - 1 if true else float("nan")
            print(f"  {name:<26} {z}/{x}/{y}: true {true / 1e6:9.2f} km², drawn {drawn / 1e6:9.2f} km² ({share:+.2%})")
    print("\ntile sizes per zoom, kB (mean / max)")
    for name, servers in by.items():
        for server_name in ("geo-service", "TiPG"):
            r = servers.get(server_name)
            if r and r.sizes:
                cells = ", ".join(f"z{z} {statistics.mean(s) / 1e3:.1f}/{max(s) / 1e3:.0f}"
                                  for z, s in sorted(r.sizes.items()))
                print(f"  {name:<26} {server_name:<12} {cells}")


if __name__ == "__main__":
    main()
