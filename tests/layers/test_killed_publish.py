"""``kill -9`` of ``geo-service layers add`` during the write phase: what it leaves is removed when the store is next
opened (or before the next publish), the catalog stays consistent and the previous version keeps serving.

Each run starts the real console script on a synthetic 20 000-feature layer, watches the layer folder and sends
SIGKILL at a chosen moment of the write. The runs print what they left and what was cleaned (``-s`` shows it).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta

GEO_SERVICE = Path(sys.executable).with_name("geo-service")
N = 20_000


def big_layer() -> gpd.GeoDataFrame:
    """Synthetic: 20 000 small polygons with text, ~15 MB as GeoPackage (the write takes a moment)."""
    x = np.arange(N) % 200 * 30 + 540_000.0
    y = np.arange(N) // 200 * 30 + 6_600_000.0
    return gpd.GeoDataFrame({"navn": [f"Teig {i} ved Kåla" for i in range(N)], "arealtype": np.full(N, 21)},
                            geometry=shapely.buffer(shapely.points(x, y), 10, quad_segs=8), crs=25832)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "ar5.gpkg"
    big_layer().to_file(path, layer="ar5")
    return path


def published(store: GeoPackageStore) -> dict[str, tuple[int, list[tuple[int, str]]]]:
    return {layer.id: (layer.current.version, [(v.version, hashlib.sha256(Path(v.location).read_bytes()).hexdigest())
                                               for v in store.versions(layer.id)])
            for layer in store.list_layers()}


def files(workspace: Path) -> list[str]:
    root = workspace / "layers"
    return sorted(str(p.relative_to(workspace)) + ("/" if p.is_dir() else "") for p in root.rglob("*"))


def tmp_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob(".*.tmp.gpkg*")) if folder.is_dir() else 0


MOMENTS: dict[str, Callable[[Path], bool]] = {
    "marker taken, nothing written": lambda f: any(f.glob(".*.writing")) if f.is_dir() else False,
    "temporary file begun": lambda f: tmp_size(f) > 0,
    "temporary file at 2 MB": lambda f: tmp_size(f) > 2_000_000,
    "temporary file at 6 MB": lambda f: tmp_size(f) > 6_000_000,
    "temporary file at 10 MB": lambda f: tmp_size(f) > 10_000_000,
}


def kill_during_add(workspace: Path, source: Path, layer_id: str, moment: Callable[[Path], bool]) -> str:
    """Start ``layers add``, SIGKILL it when ``moment(layer folder)`` holds; return how it ended."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    proc = subprocess.Popen([str(GEO_SERVICE), "layers", "add", str(source), "--id", layer_id, "--kind", "farmland",
                             "-w", str(workspace)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    folder = workspace / "layers" / layer_id
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if moment(folder):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return "killed"
            time.sleep(0.002)
        return f"finished with exit {proc.poll()} before the moment"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_during_the_write_leaves_nothing_after_the_next_open(moment: str, source: Path,
                                                                    tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    store = GeoPackageStore(workspace)
    first = big_layer().iloc[:100]
    store.publish("ar5", first, LayerMeta(LayerKind.farmland, "AR5 v1 (syntetisk)"))
    before = published(store)
    before_files = set(files(workspace))
    # the first moment also covers a layer's first publish (its folder did not exist before)
    layer_id = "ny-ar5" if moment == "marker taken, nothing written" else "ar5"
    ended = kill_during_add(workspace, source, layer_id, MOMENTS[moment])
    left = sorted(set(files(workspace)) - before_files)
    reopened = GeoPackageStore(workspace)  # what `serve` or the next command does first
    print(f"\n[{moment}] {ended}; left {left}; cleaned {reopened.removed_leftovers}")
    assert ended == "killed"
    assert left, "a kill in the write phase leaves something to clean"
    assert published(reopened) == before  # the catalog and every version file are as before the kill
    assert reopened.get_layer("ar5").current.version == 1
    assert len(reopened.read_frame(reopened.get_layer("ar5").current)) == 100  # the previous version serves
    after = files(workspace)
    assert not [f for f in after if ".tmp." in f or f.endswith((".writing", "-journal", "-wal", "-shm"))], after
    assert "layers/ny-ar5/" not in after  # no empty folder of a layer that never got published
    locations = {Path(v.location).name for layer in reopened.list_layers() for v in reopened.versions(layer.id)}
    assert {Path(f).name for f in after if f.endswith(".gpkg")} == locations  # no orphan version file either
    # and the next publish works
    assert reopened.publish("ar5", first, LayerMeta(LayerKind.farmland, "AR5 v2")).version == 2


def test_leftovers_are_removed_before_the_next_publish_of_a_running_process(source: Path, tmp_path: Path) -> None:
    """A server keeps its store open for days: its next publish cleans what a killed CLI publish left."""
    workspace = tmp_path / "ws"
    server_store = GeoPackageStore(workspace)
    server_store.publish("veg", big_layer().iloc[:10], LayerMeta(LayerKind.road, "Veg (syntetisk)"))
    assert kill_during_add(workspace, source, "ar5", MOMENTS["temporary file at 2 MB"]) == "killed"
    assert any(".tmp." in f for f in files(workspace))
    server_store.publish("veg", big_layer().iloc[:20], LayerMeta(LayerKind.road, "Veg v2 (syntetisk)"))
    assert [f for f in files(workspace) if "ar5" in f] == []
    assert server_store.get_layer("veg").current.version == 2


def test_a_running_publish_is_never_cleaned_by_another_process(tmp_path: Path) -> None:
    """The marker's flock tells a live publish from a dead one (the lock dies with its process)."""
    workspace = tmp_path / "ws"
    GeoPackageStore(workspace)
    folder = workspace / "layers" / "ar5"
    folder.mkdir(parents=True)
    code = ("import fcntl, sys, time; h = open(sys.argv[1], 'a+b'); fcntl.flock(h, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder / ".ar5-abc123.writing")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        (folder / ".ar5-abc123.tmp.gpkg").write_bytes(b"x" * 100)
        (folder / ".ar5-dead00.tmp.gpkg").write_bytes(b"x" * 100)  # no marker: a dead publish
        removed = GeoPackageStore(workspace).removed_leftovers
        assert removed == ["layers/ar5/.ar5-dead00.tmp.gpkg"]
        assert (folder / ".ar5-abc123.tmp.gpkg").exists()
    finally:
        holder.kill()
        holder.wait()
    assert sorted(GeoPackageStore(workspace).removed_leftovers) == [
        "layers/ar5/", "layers/ar5/.ar5-abc123.tmp.gpkg", "layers/ar5/.ar5-abc123.writing"]


def test_postgis_drops_version_tables_without_a_catalog_row(postgis_url: str) -> None:
    """PostGIS publishes in one transaction (a kill rolls it back); tables left by anything else are dropped."""
    from layers.postgis_store import PostGISStore

    with PostGISStore(postgis_url, pool_size=2) as store:
        store.publish("ar5", big_layer().iloc[:10], LayerMeta(LayerKind.farmland, "AR5 (syntetisk)"))
        with store._connection() as conn:  # an orphan as an interrupted older release could leave it
            conn.execute('CREATE TABLE geo_layers."ar5_v7" (fid bigint)')
            conn.execute('CREATE TABLE geo_layers."ny_v1" (fid bigint)')
    with PostGISStore(postgis_url, pool_size=2) as reopened:
        assert sorted(reopened.removed_leftovers) == ["geo_layers.ar5_v7", "geo_layers.ny_v1"]
        assert reopened.get_layer("ar5").current.version == 1
        assert len(reopened.read_frame(reopened.get_layer("ar5").current)) == 10
        assert reopened.drop_orphan_tables() == []
