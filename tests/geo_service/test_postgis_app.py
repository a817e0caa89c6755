"""The HTTP service over PostGIS (``GEO_SERVICE_DATABASE_URL``): the same answers as over the GeoPackage
workspace, and several server processes on one database that stay consistent while a third process
publishes new versions in a loop."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.kinds import LayerKind
from layers.store import LayerMeta
from maps.tiles import TMS
from tests.geo_service.conftest import ORIGIN, farmland_grid, heritage_points
from tests.postgis_cluster import free_port

X0, Y0 = ORIGIN
TO_4326 = Transformer.from_crs(25832, 4326, always_xy=True)
LIVE = "live"


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def tile_over(x: float, y: float, z: int) -> tuple[int, int, int]:
    t = TMS.tile(*TO_4326.transform(x, y), z)
    return z, t.x, t.y


@pytest.fixture
def pg_client(postgis_url: str) -> Iterator[TestClient]:
    from layers.postgis_store import PostGISStore

    with PostGISStore(postgis_url, pool_size=2) as store:
        store.publish("jorder", farmland_grid(), LayerMeta(LayerKind.farmland, "Jorder (syntetisk)",
                                                           "Synthetic AR5 grid for tests", "synthetic"))
        store.publish("kulturminner", heritage_points(), LayerMeta(LayerKind.heritage, "Kulturminner (syntetisk)"))
    settings = Settings(database_url=postgis_url, seed_demo=False, analysis_refresh_seconds=0, database_pool_size=4)
    with TestClient(create_app(settings)) as c:
        yield c


def _comparable(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _comparable(v) for k, v in body.items() if k not in ("timeStamp", "versionCreated")}
    if isinstance(body, list):
        return [_comparable(v) for v in body]
    return body


def test_http_answers_match_the_geopackage(client: TestClient, pg_client: TestClient) -> None:
    lon0, lat0 = TO_4326.transform(X0 + 150, Y0 + 150)
    lon1, lat1 = TO_4326.transform(X0 + 420, Y0 + 330)
    requests = [
        "/collections", "/collections/jorder", "/collections/jorder/queryables",
        "/collections/jorder/items", "/collections/jorder/items?limit=7&offset=20",
        f"/collections/jorder/items?bbox={lon0},{lat0},{lon1},{lat1}",
        (f"/collections/jorder/items?bbox={X0 + 150},{Y0 + 150},{X0 + 420},{Y0 + 330}"
         "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/25832&crs=http://www.opengis.net/def/crs/EPSG/0/25832"),
        "/collections/jorder/items?arealtype=22&limit=5&offset=3", "/collections/jorder/items/42",
        f"/collections/jorder/items?bbox={lon0},{lat0},{lon1},{lat1}&crs=http://www.opengis.net/def/crs/EPSG/0/4326",
        "/collections/jorder/items?sortby=-arealtype&limit=4&offset=2", "/collections/jorder/items?offset=5000",
        "/collections/jorder/items?filter=arealtype%3D22&limit=3",
        "/collections/kulturminner/items?vernetype=VED", "/collections/jorder/tiles/WebMercatorQuad/tilejson.json",
        # errors: the same status and body
        "/collections/nope/items", "/collections/jorder/items/999", "/collections/jorder/items?arealtype=x",
        "/collections/jorder/items?nope=1", "/collections/jorder/items?bbox=1,2,3",
    ]
    for path in requests:
        a, b = client.get(path), pg_client.get(path)
        assert (a.status_code, a.headers.get("content-type")) == (b.status_code, b.headers.get("content-type")), path
        assert _comparable(a.json()) == _comparable(b.json()), path
        assert a.headers.get("x-layer-version") == b.headers.get("x-layer-version"), path
    page = pg_client.get("/collections/jorder/items?arealtype=21").json()
    assert page["numberMatched"] == 25 and {f["properties"]["arealtype"] for f in page["features"]} == {21}

    z, x, y = tile_over(X0 + 500, Y0 + 500, 13)
    for path in (f"/collections/jorder/tiles/WebMercatorQuad/{z}/{x}/{y}",
                 f"/tiles/WebMercatorQuad/{z}/{x}/{y}?collections=jorder,kulturminner"):
        a, b = client.get(path), pg_client.get(path)
        assert a.status_code == b.status_code == 200
        ta, tb = decode(a.content), decode(b.content)
        assert list(ta) == list(tb)
        for layer in ta:
            fa = {f["id"]: f["properties"] for f in ta[layer]["features"]}
            fb = {f["id"]: f["properties"] for f in tb[layer]["features"]}
            assert fa == fb and len(fa) > 0
    assert pg_client.get(f"/collections/jorder/tiles/WebMercatorQuad/{z}/{x}/{y}").headers["x-tile-cache"] == "hit"


def test_cli_on_postgis(postgis_url: str, tmp_path: Path) -> None:
    """``geo-service layers add|list|versions|rollback`` with GEO_SERVICE_DATABASE_URL: no workspace is made."""
    from tests.geo_service.test_cli import plan_25833, run

    source = plan_25833(tmp_path / "plan.gpkg", n=3)
    env = {"GEO_SERVICE_DATABASE_URL": postgis_url}
    for _ in range(2):
        added = run("layers", "add", source, "--id", "plan", "--kind", "other", cwd=tmp_path, env=env)
        assert added.returncode == 0, added.stderr
    assert "published plan version 2" in added.stdout and "repaired 1 invalid" in added.stdout
    listed = run("layers", "list", cwd=tmp_path, env=env)
    assert re.search(r"plan\s+.*other\s+.*2\s+.*3", listed.stdout), listed.stdout
    back = run("layers", "rollback", "plan", "1", cwd=tmp_path, env=env)
    assert back.returncode == 0 and "plan now serves version 1 (3 features)" in back.stdout
    assert not (tmp_path / "workspace").exists()


# -- several processes ---------------------------------------------------------------------------------
PUBLISHER = r"""
import sys, time
import geopandas as gpd
from shapely.geometry import box
from layers.kinds import LayerKind
from layers.postgis_store import PostGISStore
from layers.store import LayerMeta

url, first, last, x0, y0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
with PostGISStore(url, pool_size=1) as store:
    for v in range(first, last + 1):
        n = 3 + v  # version v has 3 + v features, each with v = v: a response must show exactly one version
        frame = gpd.GeoDataFrame({"v": [v] * n, "nr": list(range(n))},
                                 geometry=[box(x0 + 30 * i, y0, x0 + 30 * i + 20, y0 + 20) for i in range(n)],
                                 crs=25832)
        store.publish("live", frame, LayerMeta(LayerKind.other, f"Live v{v}"))
        print(v, flush=True)
        time.sleep(0.12)
"""


def _live_frame(v: int) -> Any:
    import geopandas as gpd
    from shapely.geometry import box

    n = 3 + v
    return gpd.GeoDataFrame({"v": [v] * n, "nr": list(range(n))},
                            geometry=[box(X0 + 30 * i, Y0, X0 + 30 * i + 20, Y0 + 20) for i in range(n)], crs=25832)


def _serve(url: str, tmp_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": url, "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0",
           "GEO_SERVICE_DATABASE_POOL_SIZE": "4"}
    exe = Path(sys.executable).with_name("geo-service")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--no-seed-demo", "--workspace",
                             str(tmp_path / "unused")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, port


def _wait_ready(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/conformance")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"geo-service serve did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)


def test_servers_stay_consistent_while_another_process_publishes(postgis_url: str, tmp_path: Path) -> None:
    from layers.postgis_store import PostGISStore

    with PostGISStore(postgis_url, pool_size=1) as store:
        store.publish(LIVE, _live_frame(1), LayerMeta(LayerKind.other, "Live v1"))
    servers = [_serve(postgis_url, tmp_path) for _ in range(2)]
    last = 14
    try:
        for proc, port in servers:
            _wait_ready(proc, port)
        z, tx, ty = tile_over(X0 + 300, Y0 + 10, 13)
        assert len({tile_over(X0 + 30 * i, Y0 + d, 13) for i in range(3 + last) for d in (0, 20)}) == 1  # one tile holds all
        publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, postgis_url, "2", str(last), str(X0), str(Y0)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        problems: list[str] = []
        seen: dict[str, set[int]] = {"items": set(), "tiles": set()}
        counts = {"items": 0, "tiles": 0}
        lock = threading.Lock()

        def check_items(conn: http.client.HTTPConnection) -> None:
            conn.request("GET", f"/collections/{LIVE}/items?limit=1000")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                problems.append(f"items {response.status}: {body[:200]!r}")
                return
            version = int(response.getheader("X-Layer-Version"))
            doc = json.loads(body)
            values = {f["properties"]["v"] for f in doc["features"]}
            if values != {version} or doc["numberMatched"] != 3 + version or len(doc["features"]) != 3 + version:
                problems.append(f"items mixed versions: header {version}, values {values}, "
                                f"matched {doc['numberMatched']}, returned {len(doc['features'])}")
            with lock:
                seen["items"].add(version)
                counts["items"] += 1

        def check_tile(conn: http.client.HTTPConnection) -> None:
            conn.request("GET", f"/collections/{LIVE}/tiles/WebMercatorQuad/{z}/{tx}/{ty}")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                problems.append(f"tile {response.status}: {body[:200]!r}")
                return
            features = decode(body)[LIVE]["features"]
            values = {f["properties"]["v"] for f in features}
            if len(values) != 1 or len(features) != 3 + next(iter(values)):
                problems.append(f"tile mixed versions: values {values}, {len(features)} features")
                return
            with lock:
                seen["tiles"].add(next(iter(values)))
                counts["tiles"] += 1

        def client(port: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            deadline = time.monotonic() + 40
            try:
                while publisher.poll() is None and time.monotonic() < deadline and len(problems) < 5:
                    check_items(conn)
                    check_tile(conn)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"client error: {exc!r}")
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(port,)) for _, port in servers for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out, err = publisher.communicate(timeout=30)
        assert publisher.returncode == 0, err.decode()[-2000:]
        assert out.decode().split() == [str(v) for v in range(2, last + 1)]
        assert problems == []
        assert counts["items"] > 20 and counts["tiles"] > 20
        assert len(seen["items"]) >= 4 and len(seen["tiles"]) >= 4  # the readers saw the versions change
        # the last publish is seen by every server on its next request once the versions' bound has passed
        # (items read the catalog; tiles the in-memory versions, at most MAX_AGE_SECONDS behind a commit)
        from layers.pg_versions import MAX_AGE_SECONDS

        time.sleep(MAX_AGE_SECONDS)
        for _, port in servers:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            check_items(conn)
            conn.request("GET", f"/collections/{LIVE}/items?limit=1")
            response = conn.getresponse()
            response.read()
            assert response.getheader("X-Layer-Version") == str(last)
            conn.request("GET", f"/collections/{LIVE}/tiles/WebMercatorQuad/{z}/{tx}/{ty}")
            features = decode(conn.getresponse().read())[LIVE]["features"]
            conn.close()
            assert {f["properties"]["v"] for f in features} == {last} and len(features) == 3 + last
        assert problems == []
    finally:
        for proc, _ in servers:
            proc.terminate()
        for proc, _ in servers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
