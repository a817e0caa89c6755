"""Cold tiles of the GeoPackage store rendered in worker processes, so one service process uses every core.

Rendering a small tile is mostly Python and numpy calls on small arrays, which hold the GIL: however many
render threads a service process has, it renders on about one core at a time, and one service process often
gets all of a client's keep-alive connections (the first worker to wake accepts the whole burst). With
``tile_render_processes`` > 0 (``GEO_SERVICE_TILE_RENDER_PROCESSES``) each service process hands its renders
to that many processes (``ProcessRenderer``), started at start-up from a fork server that has the tile
modules loaded. A render process opens the workspace's version files read-only (``GeoPackageStore.reader``:
no catalog writes, no clean-up) and returns the tile's bytes; the catalog, the cache, single flight and the
coverage grids stay in the service process.

Each render process has a pipe of its own: a render thread takes an idle process, sends the tile's address
(the version record only the first time that process sees the version) and waits for the bytes. No queue
feeder, result thread or futures per tile (``ProcessPoolExecutor``'s cost: ~1 ms of CPU per cold tile here).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from layers.gpkg_store import GeoPackageStore
from layers.store import VersionRecord
from maps.tiles import prepare_render_thread, render_layer

log = logging.getLogger("geo_service.tiles")
_RECORDS_KEPT = 256  # version records a render process keeps (a new one is sent again after a clear)
# loaded once in the fork server, not on each render process's first tile (``layers.cql2_sql``: the SQL
# functions every GeoPackage connection registers, ~80 ms of CPU to import)
_PRELOAD = ["maps.render_processes", "layers.cql2_sql"]
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_KEEP_FREE_BYTES = 256 * 2**20  # freed heap a render process keeps for its next tiles
_MMAP_FROM_BYTES = 32 * 2**20  # allocations this big still get (and give back) their own mapping
_GC_THRESHOLD = 20_000  # allocations between young-generation collections (CPython's default: 700)


def settle_process() -> None:
    """Make this (render) process cheap to run tile after tile (measured: README, "Render processes, round 2").

    * glibc returns freed memory to the kernel (heap trim, ``munmap`` of arrays over ~128 kB) and takes it
      back page fault by page fault for the next tile: ~8 % of a render process's CPU went to page faults.
      Freed memory is kept instead, up to ``_KEEP_FREE_BYTES`` at the top of the heap.
    * The cyclic garbage collector ran every 700 allocations over every object of the process (~3 % of its
      CPU). What the process has loaded is frozen out of the collections, and young collections are rarer: a
      tile's objects are freed by reference counting, not by the collector.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # no mallopt (not glibc): its own defaults
        pass
    else:
        mallopt(_M_TRIM_THRESHOLD, _KEEP_FREE_BYTES)
        mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM_BYTES)
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_THRESHOLD, *gc.get_threshold()[1:])


def _serve(conn: Connection, workspace: str) -> None:
    """A render process: answer tile requests on ``conn`` until the service process closes its end."""
    store = GeoPackageStore.reader(Path(workspace))
    prepare_render_thread()
    settle_process()
    records: dict[tuple[str, int], VersionRecord] = {}
    while True:
        try:
            key, record, z, x, y, names, name = conn.recv()
        except (EOFError, OSError):  # the service process is gone (or closed us): so are we
            return
        if record is not None:
            if len(records) >= _RECORDS_KEPT:
                records.clear()
            records[key] = record
        try:
            reply: tuple[bool, Any] = (True, render_layer(store, records[key], z, x, y, names, name=name))
        except Exception as exc:  # noqa: BLE001 - it goes back to the caller, who raises it
            reply = (False, exc)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception:  # noqa: BLE001 - an exception that does not pickle (nothing was sent): its text
            conn.send((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))


@dataclass
class _RenderProcess:
    process: BaseProcess
    conn: Connection
    known: set[tuple[str, int]] = field(default_factory=set)  # versions this process has been sent

    def render(self, record: VersionRecord, z: int, x: int, y: int, names: list[str], name: str
               ) -> tuple[bool, Any]:
        """(True, the tile's bytes) or (False, the exception the render raised); EOFError or OSError when the
        process is gone."""
        key = (record.layer_id, record.version)
        if len(self.known) >= _RECORDS_KEPT:  # the process clears its records at the same count
            self.known.clear()
        self.conn.send((key, None if key in self.known else record, z, x, y, names, name))
        self.known.add(key)
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.close()  # the process sees EOF and returns
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)


class ProcessRenderer:
    """``render_layer`` for the GeoPackage workspace ``workspace`` on ``processes`` render processes."""

    def __init__(self, workspace: Path, processes: int) -> None:
        self._workspace = str(workspace)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)
        self._idle: queue.SimpleQueue[_RenderProcess] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._all = [self._spawn() for _ in range(processes)]  # started now, not on the first cold tiles
        for worker in self._all:
            self._idle.put(worker)

    @property
    def pids(self) -> set[int]:
        """The process ids of the render processes now serving."""
        with self._lock:
            return {w.process.pid for w in self._all if w.process.pid is not None}

    def _spawn(self) -> _RenderProcess:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_serve, args=(theirs, self._workspace), name="tile-render",
                                        daemon=True)  # ended with the service process, never waited for
        process.start()
        theirs.close()
        return _RenderProcess(process, ours)

    def __call__(self, record: VersionRecord, z: int, x: int, y: int, names: Sequence[str], name: str) -> bytes:
        worker = self._idle.get()  # waits (without the GIL) while every render process is busy
        try:
            try:
                ok, value = worker.render(record, z, x, y, list(names), name)
            except (EOFError, OSError):  # it died (killed, out of memory): a new one, and this tile once more
                log.error("a tile render process died; starting a new one")
                worker = self._replace(worker)
                ok, value = worker.render(record, z, x, y, list(names), name)
        finally:
            self._idle.put(worker)
        if not ok:  # the render's own error (a bad field, a missing file …), raised here as it was there
            raise value
        return value

    def _replace(self, dead: _RenderProcess) -> _RenderProcess:
        dead.stop()
        if self._closed:
            raise RuntimeError("the tile render processes are shut down")
        fresh = self._spawn()
        with self._lock:
            self._all = [fresh if w is dead else w for w in self._all]
        return fresh

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._all)
        for worker in workers:
            worker.stop()
