"""Benchmark: the per-request cost of a warm (cached) tile through the service's ASGI stack, in process.

SYNTHETIC DATA: 2 000 small squares near Kongsberg in a throwaway workspace. One tile is rendered once, then
the same GET is sent ``--requests`` times straight into the ASGI app (no socket, no HTTP parser), through

* ``served``: what the uvicorn workers serve (``geo_service.main``): the app behind ``CachedTileDoor``;
* ``service``: the whole app as ``create_app`` builds it (``EdgeGuard`` → ``TileFastPath`` → …);
* ``no edge``: the same app without ``EdgeGuard`` (what the security headers and limits cost);
* ``bare``: an ASGI callable sending the same bytes from a dict (the ceiling).

It prints microseconds per request and the ratios. Run it with another checkout's code on PYTHONPATH to
compare versions (same machine, same minute). Run:  python bench/bench_tile_edge.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.middleware import EdgeGuard
from geo_service.settings import Settings
from geo_service.tile_asgi import with_tile_door
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from maps.tiles import TMS

X0, Y0 = 536_000.0, 6_614_000.0
_LON, _LAT = Transformer.from_crs(25832, 4326, always_xy=True).transform(X0 + 1000, Y0 + 1000)
_TILE = TMS.tile(_LON, _LAT, 14)
PATH = f"/collections/jord/tiles/WebMercatorQuad/14/{_TILE.x}/{_TILE.y}"


def workspace() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bench-edge-")) / "ws"
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(0, 2000, 2000), rng.uniform(0, 2000, 2000)
    geoms = shapely.box(X0 + xs, Y0 + ys, X0 + xs + 20, Y0 + ys + 20)
    GeoPackageStore(folder).publish("jord", gpd.GeoDataFrame({"arealtype": np.full(len(geoms), 21)}, geometry=geoms, crs=25832),
                                    LayerMeta(LayerKind.farmland, "SYNTETISK"))
    return folder


async def run(app: Any, n: int) -> float:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": PATH, "raw_path": PATH.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*"), (b"user-agent", b"wrk")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(200):  # warm
        await app(dict(scope), receive, send)
    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - start
    assert set(statuses) == {200}, set(statuses)
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    settings = Settings(workspace=workspace(), seed_demo=False, analysis_refresh_seconds=0)
    full = create_app(settings)
    bare_app = create_app(settings)
    bare_app.user_middleware = [m for m in bare_app.user_middleware if m.cls is not EdgeGuard]
    with TestClient(full) as client, TestClient(bare_app) as other:
        for c in (client, other):
            r = c.get(PATH)
            assert r.status_code == 200, (r.status_code, r.text[:300])
        body = client.get(PATH).content
        headers = [(b"content-type", b"application/vnd.mapbox-vector-tile"),
                   (b"content-length", str(len(body)).encode())]

        async def bare(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        async def measure() -> dict[str, float]:
            out: dict[str, float] = {}
            for _ in range(2):  # alternate, keep the best
                for name, app in (("served", served), ("service", full), ("no edge", bare_app), ("bare", bare)):
                    out[name] = min(out.get(name, 1e9), await run(app, args.requests))
            return out

        served = with_tile_door(full)
        results = asyncio.run(measure())
    print(f"load: {os.getloadavg()[0]:.1f} (1 min); tile {len(body)} bytes; {args.requests} requests per run")
    for name, us in results.items():
        print(f"  {name:8s} {us:7.1f} µs/request  ({results['bare'] / us:.2f} of bare)")
    print(f"  EdgeGuard costs {results['service'] - results['no edge']:.1f} µs per warm tile")


if __name__ == "__main__":
    main()
