"""Fault tests of the upload path: kill -9 while publishing (5 runs at random moments), two editors publishing
the same layer at once, and 20 readers over HTTP while 10 uploads are published. Synthetic data."""

from __future__ import annotations

import http.client
import io
import json
import multiprocessing
import os
import random
import signal
import threading
import time
from pathlib import Path

import geopandas as gpd
import pyogrio
from shapely.geometry import box

from geo_service.auth.keys import create_key
from layers.checks import CheckContext, Region
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.staging import Staging, UploadRequest, publish_staged
from layers.store import LayerMeta
from tests.servers import serve_workspace

REGION = Region((415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0))
X0, Y0 = 531_000.0, 6_611_000.0


def plan(n: int, v: int) -> gpd.GeoDataFrame:
    """``n`` zoning squares, every one carrying the version tag ``v``."""
    return gpd.GeoDataFrame({"arealformal": [1300] * n, "v": [v] * n},
                            geometry=[box(X0 + 30 * (i % 300), Y0 + 30 * (i // 300), X0 + 30 * (i % 300) + 20,
                                          Y0 + 30 * (i // 300) + 20) for i in range(n)], crs=25832)


def stage(staging: Staging, n: int, v: int, name: str = "plan.geojson") -> str:
    data = plan(n, v).to_json().encode()
    return staging.stage(name, io.BytesIO(data), UploadRequest("plan", LayerKind.zoning, f"Plan v{v}"),
                         CheckContext(REGION), "kari").id


def consistent(store: GeoPackageStore) -> tuple[int, int]:
    """The catalog points at complete versions: every version file exists and holds its count; the current
    version reads back whole (one tag). Returns (current version, its tag)."""
    for record in store.versions("plan"):
        assert Path(record.location).exists(), record.location
        assert pyogrio.read_info(record.location)["features"] == record.feature_count
    current = store.get_layer("plan").current
    frame = store.read_frame(current)
    tags = set(frame["v"])
    assert len(frame) == current.feature_count and len(tags) == 1
    return current.version, tags.pop()


def _publish_in_child(workspace: Path, root: Path, upload_id: str) -> None:
    publish_staged(GeoPackageStore(workspace), Staging(root), upload_id)  # its own catalog connections


def test_kill_9_during_publish_leaves_a_consistent_catalog(tmp_path: Path) -> None:
    workspace, root = tmp_path / "ws", tmp_path / "staging"
    store = GeoPackageStore(workspace)
    store.publish("plan", plan(50, 1), LayerMeta(LayerKind.zoning, "Plan v1"))
    staging = Staging(root)
    upload_id = stage(staging, 8_000, 2)
    rng = random.Random(10)
    outcomes = []
    for run in range(5):
        child = multiprocessing.get_context("fork").Process(target=_publish_in_child,
                                                            args=(workspace, root, upload_id))
        child.start()
        time.sleep(rng.uniform(0.0, 1.5))
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
        store = GeoPackageStore(workspace)  # the next start
        cleaned = Staging(root)
        cleaned.cleanup()
        version, tag = consistent(store)
        assert not list(root.glob("*.tmp")) and not list(root.glob("*.publishing"))
        if version == 1:  # killed before the commit: v1 serves, the upload is back in review
            assert tag == 1 and cleaned.get(upload_id).id == upload_id
            outcomes.append("before commit")
        else:  # killed after the commit: v2 serves whole; the upload may still be listed (published twice
            assert (version, tag) == (2, 2)  # is refused by nothing, so stop here)
            outcomes.append(f"after commit (run {run})")
            break
    assert outcomes, outcomes
    print("kill -9 outcomes:", outcomes)


def test_two_editors_publish_the_same_layer_at_once(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("plan", plan(5, 1), LayerMeta(LayerKind.zoning, "Plan v1"))
    staging = Staging(tmp_path / "staging")
    ids = {stage(staging, 2_000, 2): 2, stage(staging, 3_000, 3): 3}
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}

    def publish(upload_id: str) -> None:
        barrier.wait()
        results[upload_id] = publish_staged(GeoPackageStore(tmp_path / "ws"), staging, upload_id).version

    threads = [threading.Thread(target=publish, args=(u,)) for u in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [2, 3]
    for record in store.versions("plan")[1:]:  # each version is exactly one upload, never a mix
        frame = store.read_frame(record)
        (tag,) = set(frame["v"])
        assert len(frame) == {2: 2_000, 3: 3_000}[tag]
    assert consistent(store)[0] == 3


def test_20_readers_during_10_published_uploads(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    store = GeoPackageStore(workspace)
    store.publish("plan", plan(1, 1), LayerMeta(LayerKind.zoning, "Plan v1"))
    _, secret = create_key(store, "Kongsberg admin", "admin", [])
    with serve_workspace(workspace, tmp_path / "serve.log",
                         env={"GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0"}) as url:
        port = int(url.rsplit(":", 1)[1])
        auth = {"Authorization": f"Bearer {secret}"}
        staging = Staging(workspace / "staging")  # the server's staging area (same machine)
        staged = [stage(staging, v, v) for v in range(2, 12)]  # the readers then race the publishes themselves
        problems: list[str] = []
        seen: set[int] = set()
        reads = [0]
        done = threading.Event()

        def reader() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                while not done.is_set() and len(problems) < 5:
                    conn.request("GET", "/collections/plan/items?limit=100")
                    response = conn.getresponse()
                    raw = response.read()
                    if response.status != 200:
                        problems.append(f"{response.status}: {raw[:200]!r}")
                        continue
                    doc = json.loads(raw)
                    tags = {f["properties"]["v"] for f in doc["features"]}
                    if len(tags) != 1 or len(doc["features"]) != next(iter(tags)):
                        problems.append(f"mixed: tags {tags}, {len(doc['features'])} features")
                    seen.update(tags)
                    reads[0] += 1
                    time.sleep(0.01)
            except Exception as exc:  # noqa: BLE001
                problems.append(repr(exc))
            finally:
                conn.close()

        readers = [threading.Thread(target=reader) for _ in range(20)]
        for t in readers:
            t.start()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        versions = []
        for upload_id in staged:
            conn.request("POST", f"/layers/uploads/{upload_id}/publish", headers=auth)
            response = conn.getresponse()
            assert response.status == 201, response.read()
            versions.append(json.loads(response.read())["version"])
            time.sleep(0.05)
        done.set()
        for t in readers:
            t.join()
    assert versions == list(range(2, 12))
    assert problems == [] and reads[0] >= 20
    assert len(seen) >= 3  # the readers saw the versions change
    print(f"readers: {reads[0]} reads, versions seen {sorted(seen)}")
