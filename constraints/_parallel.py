"""Run vectorised shapely work on chunks in threads: shapely 2 releases the GIL, so 2 cores give ~2x.

Thread safety, by design
------------------------
Plain GEOS geometries may be *read* by many threads at once. A **prepared** geometry may not: GEOS builds its
indexes (segment intersector, point-in-area locator) lazily, on the first predicate, without a lock
(libgeos/geos#825, still open in GEOS 3.14). Two threads evaluating ``contains_properly`` on one prepared zone
at the same time crash the process with a segmentation fault, and preparing "up front" does not help, because the
indexes are still built on first use. Hence one rule:

    **A prepared geometry belongs to one thread.** No worker ever sees a geometry that another thread can use.

* :func:`pmap` / :func:`pmap_list` give every chunk its own copies of the geometries to prepare (``prepare=``)
  and of any geometry that arrives already prepared; the copies are made and prepared here, in the calling
  thread, before the pool sees them. Inputs are never prepared or otherwise changed in place.
* Long-lived shared objects (the constraint index used by every request) hold no prepared geometry; they hold a
  :class:`PreparedPerThread`, which hands each thread its own prepared copy.
* ``shapely.prepare`` / ``shapely.prepared.prep`` appear nowhere else in the engine (a test checks the sources).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

MIN_CHUNK = 2_048
_TASK_PREFIX = "constraints-task"
T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    """Threads to use: ``GEO_SERVICE_THREADS`` or the CPU count (at most 8)."""
    env = os.environ.get("GEO_SERVICE_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(os.cpu_count() or 1, 8))


@cache
def _executor(n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="constraints")


@cache
def _task_executor(n: int) -> ThreadPoolExecutor:
    """A second pool for whole tasks (one rule each), which themselves call :func:`pmap` on ``_executor``.

    Separate pools: a task waiting for its chunks never holds a thread the chunks need (no deadlock).
    """
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix=_TASK_PREFIX)


def _clear_pools() -> None:
    _executor.cache_clear()
    _task_executor.cache_clear()


# A forked child (pre-fork servers, multiprocessing) inherits the pool but not its threads: start afresh.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_clear_pools)


# --------------------------------------------------------------------------------------- private copies


def private_copy(geom: BaseGeometry, *, prepare: bool = True) -> BaseGeometry:
    """A copy of ``geom`` that no other thread can reach, prepared when asked (the original is untouched)."""
    copy = shapely.set_srid(geom, shapely.get_srid(geom))  # GEOS clone: same coordinates, new object
    if prepare:
        shapely.prepare(copy)
    return copy


def private_geometries(geoms: np.ndarray, *, prepare: bool) -> np.ndarray:
    """``geoms`` with thread-private copies where a thread could otherwise share a prepared geometry.

    With ``prepare`` every geometry is replaced by a prepared copy; otherwise only those that arrive prepared.
    A geometry that occurs several times gets one copy (repeats stay identical objects, so a prepared zone
    checked against many features is prepared once per chunk). Arrays that are not geometry arrays pass through.
    """
    if geoms.dtype != object or len(geoms) == 0:
        return geoms
    present = ~shapely.is_missing(geoms)
    sel = present if prepare else present & shapely.is_prepared(geoms)
    pos = np.flatnonzero(sel)
    if len(pos) == 0:
        return geoms
    ids = np.fromiter(map(id, geoms[pos]), dtype=np.uintp, count=len(pos))
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    unique = geoms[pos[first]]
    copies = shapely.set_srid(unique, shapely.get_srid(unique))
    if prepare:
        shapely.prepare(copies)
    out = geoms.copy()
    out[pos] = copies[inverse]
    return out


_PARTS_LOCK = threading.Lock()


class PreparedPerThread:
    """One geometry, prepared separately for each thread that asks (for objects shared by many requests).

    Built from ``parts`` alone (``geometry=None``), the geometry is assembled only when a thread asks for it: a
    coverage of 200 000 separate AR5 fields is tested part by part and never needs the MultiPolygon copy.
    """

    def __init__(self, geometry: BaseGeometry | None, parts: np.ndarray | None = None) -> None:
        if geometry is None and parts is None:
            raise ValueError("PreparedPerThread needs a geometry or its parts")
        if geometry is not None and shapely.is_prepared(geometry):
            geometry = private_copy(geometry, prepare=False)
        self._geometry = geometry  # never prepared: safe to read from any thread
        self._known_parts = parts  # the geometry's parts when the caller has them (never prepared either)
        self._local = threading.local()

    @property
    def geometry(self) -> BaseGeometry:
        """The whole geometry (assembled from the parts on first use when only they were given)."""
        found = self._geometry
        if found is None:
            with _PARTS_LOCK:
                found = self._geometry
                if found is None:
                    found = self._geometry = polygons_as_geometry(self._known_parts)
        return found

    def is_empty(self) -> bool:
        """Whether the geometry is empty (without assembling it)."""
        if self._geometry is None:
            return len(self._known_parts) == 0
        return bool(self._geometry.is_empty)

    def num_parts(self) -> int:
        """``shapely.get_num_geometries`` of the geometry (without assembling it)."""
        if self._geometry is None:
            return len(self._known_parts)
        return int(shapely.get_num_geometries(self._geometry))

    def parts(self) -> tuple[np.ndarray, shapely.STRtree]:
        """The geometry's parts and an STRtree over them (built once, before any thread queries it)."""
        found = getattr(self, "_parts", None)
        if found is None:
            with _PARTS_LOCK:
                found = getattr(self, "_parts", None)
                if found is None:
                    parts = self._known_parts if self._known_parts is not None else shapely.get_parts(self._geometry)
                    tree = shapely.STRtree(parts)
                    tree.query(shapely.Point(0, 0))  # GEOS builds the tree on the first query: do it here
                    found = self._parts = (parts, tree)
        return found

    def get(self) -> BaseGeometry:
        """This thread's prepared copy (made on the first call from each thread)."""
        mine = getattr(self._local, "geometry", None)
        if mine is None:
            mine = self._local.geometry = private_copy(self.geometry)
        return mine


def polygons_as_geometry(polygons: np.ndarray) -> BaseGeometry:
    """Polygons that meet at points at most as one geometry (empty, the polygon, or a MultiPolygon)."""
    if len(polygons) == 0:
        return shapely.Polygon()
    if len(polygons) == 1:
        return polygons[0]
    return shapely.multipolygons(polygons)


# ------------------------------------------------------------------------------------------------ maps


def pmap(fn: Callable[..., np.ndarray], *arrays: np.ndarray, min_chunk: int = MIN_CHUNK,
         prepare: Sequence[int] = ()) -> np.ndarray:
    """``fn(*arrays)`` computed on row chunks in parallel and concatenated (same result as one call).

    ``prepare`` lists the positions of the geometry arguments to prepare (e.g. ``(0,)`` for the ``a`` of
    ``contains_properly(a, b)``); each chunk gets its own prepared copies (see the module docstring).
    """
    n = len(arrays[0])
    k = min(workers(), n // min_chunk)
    if k <= 1:
        return fn(*(_private(a, True) if i in prepare else a for i, a in enumerate(arrays)))
    cuts = np.linspace(0, n, k + 1).astype(int)
    chunks = [tuple(_private(a[cuts[c]:cuts[c + 1]], i in prepare) for i, a in enumerate(arrays))
              for c in range(k)]

    def run(chunk: tuple[np.ndarray, ...]) -> np.ndarray:
        return fn(*chunk)

    return np.concatenate(list(_executor(workers()).map(run, chunks)))


def pmap_list(fn: Callable[[T], R], items: Sequence[T], weights: Sequence[float] | None = None,
              min_items: int = 64) -> list[R]:
    """``[fn(x) for x in items]`` on threads, split into contiguous runs of about equal total weight.

    Geometries among the items (single or arrays) that arrive prepared are copied per run. ``fn`` must not
    reach prepared geometries by other ways (closures): pass them as items, or use :class:`PreparedPerThread`.
    """
    k = min(workers(), len(items) // min_items)
    if k <= 1:
        return [fn(x) for x in items]
    w = np.cumsum(np.asarray(weights if weights is not None else np.ones(len(items)), dtype=float))
    cuts = np.r_[0, np.searchsorted(w, w[-1] * np.arange(1, k) / k), len(items)]
    runs = [[_private_item(x) for x in items[cuts[i]:cuts[i + 1]]] for i in range(k)]

    def run(chunk: list[Any]) -> list[R]:
        return [fn(x) for x in chunk]

    return [r for chunk in _executor(workers()).map(run, runs) for r in chunk]


def run_tasks(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]`` with the items run side by side on threads (results in order).

    For independent tasks that mix Python with vectorised shapely calls (e.g. one rule each): while one task
    holds the GIL in Python, another's GEOS work runs on the other core. ``fn`` must be thread-safe: it may
    read shared geometries but never prepare them (see the module docstring); the first error is raised.
    """
    n = min(workers(), len(items))
    if n <= 1 or threading.current_thread().name.startswith(_TASK_PREFIX):  # nested: never wait on our own pool
        return [fn(x) for x in items]
    return list(_task_executor(workers()).map(fn, items))


def _private(a: np.ndarray, prepare: bool) -> np.ndarray:
    return private_geometries(a, prepare=prepare) if isinstance(a, np.ndarray) else a


def _private_item(x: Any) -> Any:
    if isinstance(x, BaseGeometry):
        return private_copy(x) if shapely.is_prepared(x) else x
    if isinstance(x, np.ndarray):
        return private_geometries(x, prepare=False)
    return x
