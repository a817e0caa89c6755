"""Cold tiles of the GeoPackage store rendered in worker processes, so one service process uses every core.

Rendering a small tile is mostly Python and numpy calls on small arrays, which hold the GIL: however many
render threads a service process has, it renders on about one core at a time, and on a busy machine it gets
the CPU share of one runnable thread. With ``tile_render_processes`` > 0 (``GEO_SERVICE_TILE_RENDER_PROCESSES``)
each service process hands its renders to that many processes (``ProcessRenderer``), started at start-up
from a fork server that has the tile modules loaded. A render process opens the workspace's version files
read-only (``GeoPackageStore.reader``: no catalog writes, no clean-up) and returns the tile's bytes; the
catalog, the cache, single flight and the coverage grids stay in the service process.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from layers.gpkg_store import GeoPackageStore
from layers.store import VersionRecord
from maps.tiles import prepare_render_thread, render_layer

log = logging.getLogger("geo_service.tiles")
_STORE: GeoPackageStore | None = None  # in a render process: the workspace it reads


def _open(workspace: str) -> None:
    global _STORE
    _STORE = GeoPackageStore.reader(Path(workspace))
    prepare_render_thread()


def _started(_: int) -> None:
    time.sleep(0.05)  # holds its process so that each start-up task starts a process of its own


def _render(record: VersionRecord, z: int, x: int, y: int, names: list[str], name: str) -> bytes:
    assert _STORE is not None
    return render_layer(_STORE, record, z, x, y, names, name=name)


class ProcessRenderer:
    """``render_layer`` for the GeoPackage workspace ``workspace`` on ``processes`` render processes."""

    def __init__(self, workspace: Path, processes: int) -> None:
        self._workspace, self._processes = workspace, processes
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["maps.render_processes"])
        pool = ProcessPoolExecutor(self._processes, mp_context=context, initializer=_open,
                                   initargs=(str(self._workspace),))
        for i in range(self._processes):  # start them now, not on the first cold tiles
            pool.submit(_started, i)
        return pool

    def __call__(self, record: VersionRecord, z: int, x: int, y: int, names: Sequence[str], name: str) -> bytes:
        pool = self._pool
        try:
            return pool.submit(_render, record, z, x, y, list(names), name).result()
        except BrokenProcessPool:  # a render process died (killed, out of memory): new ones for every later tile
            log.error("a tile render process died; starting new render processes")
            with self._lock:
                if self._pool is pool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._start()
            return self._pool.submit(_render, record, z, x, y, list(names), name).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
