"""Benchmark: CQL2 filters pushed down to each store against reading with geopandas and filtering in memory.
Not a test. Everything runs in this process and a throwaway PostGIS server on this machine.

Data: SYNTHETIC farmland (``--farmland`` polygons, default 200 000; the generator of ``bench_postgis.py``:
20-vertex parcels along meandering valleys over Kongsbergregionen, arealtype 21/22/23/30/50), published once
to a GeoPackage workspace and to PostGIS. Nothing here is real geography.

Queries (each answers a first page of 100 features and ``numberMatched``, as ``/items`` does):

* ``spatial``: ``arealtype IN (21,22,23) AND S_INTERSECTS(geometry, <polygon of ~4 x 3 km, CRS84>)``,
  over ``--polygons`` different polygons around parcels;
* ``attribute``: ``arealtype IN (22, 23) AND NOT arealtype = 22`` (no spatial part: a full scan in both);
* ``sorted``: the spatial query with ``sortby=-arealtype``.

Baselines in the same run: ``geopandas full``: read the whole version file (pyogrio) and filter with
pandas + shapely; ``geopandas bbox``: read with pyogrio's ``bbox`` (R-tree) and ``where`` pushed into GDAL,
then the exact shapely test. Every way must find the same features; the script stops if not.

    .venv/bin/python bench/bench_cql2.py            # --help for sizes
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_postgis import make_farmland

from layers.cql2 import parse_filter, parse_sortby
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store
from tests.postgis_cluster import Cluster

LAYER = "farmland"
TO_LONLAT = Transformer.from_crs(25832, 4326, always_xy=True)


def query_polygons(frame, count: int, seed: int = 11) -> list[shapely.Polygon]:
    """``count`` irregular hexagons of about 4 x 3 km (working CRS) centred on random parcels."""
    rng = np.random.default_rng(seed)
    centres = shapely.get_coordinates(shapely.centroid(frame.geometry.values[rng.integers(0, len(frame), count)]))
    angles = np.linspace(0, 2 * np.pi, 7)[:-1]
    out = []
    for cx, cy in centres:
        r = rng.uniform(1500, 2000, 6)
        out.append(shapely.Polygon(np.column_stack([cx + r * np.cos(angles) * 1.1, cy + r * np.sin(angles) * 0.8])))
    return out


def to_lonlat(poly: shapely.Polygon) -> shapely.Polygon:
    return shapely.transform(poly, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1])))


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median seconds of ``repeats`` runs (after one warm-up) and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def store_query(store: Store, text: str, sortby: str = "") -> tuple[int, list[int]]:
    record = store.get_layer(LAYER).current
    page = store.query(record, None, {}, 100, 0, cql=parse_filter(text), sortby=parse_sortby(sortby))
    return page.number_matched, page.ids.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--farmland", type=int, default=200_000, help="synthetic polygons (default 200 000)")
    parser.add_argument("--polygons", type=int, default=20, help="spatial queries, one polygon each")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per query (median)")
    args = parser.parse_args()

    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), cores: {os.cpu_count()}")
    t0 = time.perf_counter()
    frame = make_farmland(args.farmland)
    print(f"{len(frame)} synthetic polygons made in {time.perf_counter() - t0:.1f} s")
    cluster = Cluster().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            from layers.postgis_store import PostGISStore

            gpkg = GeoPackageStore(Path(tmp) / "ws")
            pg = PostGISStore(cluster.new_database(), pool_size=2)
            meta = LayerMeta(LayerKind.farmland, "Jorder (syntetisk)", "synthetic")
            for name, store in (("gpkg", gpkg), ("postgis", pg)):
                t0 = time.perf_counter()
                store.publish(LAYER, frame, meta)
                print(f"published to {name} in {time.perf_counter() - t0:.1f} s")
            record = gpkg.get_layer(LAYER).current
            run(args, frame, gpkg, pg, record.location)
            pg.close()
    finally:
        cluster.stop()
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")


def run(args: argparse.Namespace, frame, gpkg: Store, pg: Store, location: str) -> None:
    polygons = query_polygons(frame, args.polygons)
    codes = [21, 22, 23]
    rows: dict[str, dict[str, list[float]]] = {}

    def record(query: str, way: str, seconds: float) -> None:
        rows.setdefault(query, {}).setdefault(way, []).append(seconds)

    full_read = [0.0]

    def geopandas_full(poly: shapely.Polygon | None, wanted: list[int]) -> tuple[int, list[int]]:
        t0 = time.perf_counter()
        data = pyogrio.read_dataframe(location, layer=LAYER, fid_as_index=True)
        full_read[0] = time.perf_counter() - t0
        mask = np.array(data.arealtype.isin(wanted), dtype=bool)
        if poly is not None:
            mask &= shapely.intersects(data.geometry.values, poly)
        ids = np.sort(data.index.to_numpy()[mask])
        return len(ids), ids[:100].tolist()

    def geopandas_bbox(poly: shapely.Polygon, wanted: list[int]) -> tuple[int, list[int]]:
        where = f"arealtype IN ({','.join(map(str, wanted))})"
        data = pyogrio.read_dataframe(location, layer=LAYER, fid_as_index=True,
                                      bbox=tuple(poly.bounds), where=where)
        ids = np.sort(data.index.to_numpy()[shapely.intersects(data.geometry.values, poly)])
        return len(ids), ids[:100].tolist()

    matched_total = 0
    for poly in polygons:
        text = f"arealtype IN (21,22,23) AND S_INTERSECTS(geometry, {to_lonlat(poly).wkt})"
        results = {}
        for way, fn in (("gpkg", lambda t=text: store_query(gpkg, t)), ("postgis", lambda t=text: store_query(pg, t)),
                        ("geopandas bbox+where", lambda p=poly: geopandas_bbox(p, codes))):
            seconds, results[way] = timed(fn, args.repeats)
            record("spatial", way, seconds)
        # CRS84 edges are straight in lon/lat: the stores test the reprojected polygon; so does the baseline
        seconds, results["geopandas full"] = timed(lambda p=poly: geopandas_full(p, codes), 1)
        record("spatial", "geopandas full", seconds)
        sorted_ways = {}
        for way, store in (("gpkg", gpkg), ("postgis", pg)):
            seconds, sorted_ways[way] = timed(lambda s=store, t=text: store_query(s, t, "-arealtype"),
                                              args.repeats)
            record("spatial, sortby=-arealtype", way, seconds)
        if len({str(r) for r in results.values()}) != 1 or sorted_ways["gpkg"] != sorted_ways["postgis"]:
            raise SystemExit(f"different answers for {text[:60]}…: {results} / {sorted_ways}")
        matched_total += results["gpkg"][0]
    print(f"spatial queries: {len(polygons)} polygons, {matched_total / len(polygons):.0f} matches on average")

    text = "arealtype IN (22, 23) AND NOT arealtype = 22"
    answers = {}
    for way, fn in (("gpkg", lambda: store_query(gpkg, text)), ("postgis", lambda: store_query(pg, text)),
                    ("geopandas full", lambda: geopandas_full(None, [23]))):
        seconds, answers[way] = timed(fn, args.repeats)
        record("attribute", way, seconds)
    if len({str(a) for a in answers.values()}) != 1:
        raise SystemExit(f"different answers for {text}: {answers}")
    print(f"attribute query: {answers['gpkg'][0]} matches; geopandas full read alone {full_read[0] * 1000:.0f} ms")

    print(f"\n{'query':30s} {'way':22s} {'median ms':>10s} {'p95 ms':>8s} {'x faster than geopandas full':>30s}")
    for query, ways in rows.items():
        base = statistics.median(rows[query.split(",")[0]]["geopandas full"])
        for way, times in ways.items():
            med = statistics.median(times)
            p95 = float(np.percentile(times, 95))
            print(f"{query:30s} {way:22s} {med * 1000:10.1f} {p95 * 1000:8.1f} {base / med:30.1f}")


if __name__ == "__main__":
    main()
