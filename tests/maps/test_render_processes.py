"""Cold tiles rendered in render processes (``maps.render_processes``) are the tiles rendered in the service
process, byte for byte, and the app uses them when ``tile_render_processes`` asks for them. SYNTHETIC data:
1 000 20-vertex parcels with two classes near Kongsberg (EPSG:25832)."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from layers.errors import InvalidQuery
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from maps.render_processes import ProcessRenderer
from maps.tile_cache import TileCache
from maps.tiles import TMS, TileService

X0, Y0 = 536_000.0, 6_614_000.0


def _parcels(n: int = 1_000) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(17)
    centres = np.column_stack((X0 + rng.uniform(0, 4_000, n), Y0 + rng.uniform(0, 4_000, n)))
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    radius = rng.uniform(20, 60, (n, 1)) * (1 + 0.2 * np.sin(3 * angles))
    rings = np.stack((centres[:, :1] + radius * np.cos(angles), centres[:, 1:] + radius * np.sin(angles)), axis=2)
    return gpd.GeoDataFrame({"arealtype": rng.choice([21, 23], n).astype(np.int64)},
                            geometry=shapely.polygons(rings), crs=25832)


def test_render_processes_make_the_same_tiles(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("jorder", _parcels(), LayerMeta(LayerKind.farmland, "Jorder (syntetisk)"))
    layer = store.get_layer("jorder")
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(X0 + 2_000, Y0 + 2_000)
    tiles = [(z, TMS.tile(lon, lat, z).x, TMS.tile(lon, lat, z).y) for z in (10, 12, 14)]
    here = TileService(store, TileCache(2**24))
    renderer = ProcessRenderer(store.workspace, 2)
    try:
        there = TileService(store, TileCache(2**24), renderer=renderer)
        for z, x, y in tiles:
            expected = here.layer_tile(layer, z, x, y)[1].data
            got = there.layer_tile(layer, z, x, y)[1].data
            features = mapbox_vector_tile.decode(got)["jorder"]["features"]
            assert got == expected and len(features) > 0
            assert {f["properties"]["arealtype"] for f in features} <= {21, 23}
        pids = renderer.pids
        assert len(pids) == 2  # started up front
        killed = next(iter(pids))
        os.kill(killed, signal.SIGKILL)  # a render process dies (OOM killer, crash)
        time.sleep(0.5)
        z, x, y = tiles[-1]
        expected = here.layer_tile(layer, z, x, y)[1].data
        for _ in range(3):  # every process serves in turn: the dead one is found, replaced and the tile retried
            assert renderer(layer.current, z, x, y, ["arealtype"], "jorder") == expected
        serving = renderer.pids
        assert killed not in serving and len(serving) == 2 and len(serving & pids) == 1
        with pytest.raises(InvalidQuery, match="nope"):  # an error in a render process arrives as itself
            renderer(layer.current, z, x, y, ["nope"], "jorder")
        assert renderer.pids == serving  # the same processes serve on: nothing broke
        gone = dataclasses.replace(layer.current, version=99, location=str(tmp_path / "gone.gpkg"))
        with pytest.raises(Exception, match="unable to open"):  # a failing render is not a dead process
            renderer(gone, z, x, y, ["arealtype"], "jorder")
        assert renderer.pids == serving
        assert renderer(layer.current, z, x, y, ["arealtype"], "jorder") == expected
    finally:
        renderer.close()


def test_the_service_renders_in_processes_when_asked(tmp_path: Path) -> None:
    from geo_service.settings import Settings
    from geo_service.tile_asgi import open_tiles

    store = GeoPackageStore(tmp_path / "ws")
    assert open_tiles(Settings(workspace=tmp_path / "ws"), store).renderer is None  # the default: threads
    service = open_tiles(Settings(workspace=tmp_path / "ws", tile_render_processes=1), store)
    assert isinstance(service.renderer, ProcessRenderer)
    service.renderer.close()


_SETTLED = """
import gc, resource, sys
import numpy as np
from maps.render_processes import settle_process

def faults_per_round():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):  # what a tile does: arrays of a few MB, made and freed
        arrays = [np.ones(200_000) for _ in range(8)]  # 1.6 MB each, 12.8 MB in all
        del arrays
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20

if sys.argv[1] == "settled":
    settle_process()
faults_per_round()  # the first round grows the heap in either case
print(faults_per_round(), gc.get_threshold()[0], gc.get_freeze_count())
"""


@pytest.mark.parametrize("mode", ["settled", "default"])
def test_a_settled_render_process_keeps_its_memory_and_collects_rarely(mode: str) -> None:
    """A render process (``settle_process``) takes no page faults for memory it freed on earlier tiles, and
    the collector leaves what it loaded alone; an unsettled process faults ~3 000 pages in a round."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _SETTLED, mode], capture_output=True, text=True, check=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)}).stdout.split()
    faults, threshold, frozen = float(out[0]), int(out[1]), int(out[2])
    if mode == "settled":
        assert faults < 50 and threshold == 20_000 and frozen > 10_000
    else:  # glibc's defaults: each 1.6 MB array is mapped and unmapped, 8 x 20 times
        assert faults > 1_000 and threshold == 700 and frozen == 0
