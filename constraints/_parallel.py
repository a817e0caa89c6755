"""Run vectorised shapely work on chunks in threads: shapely 2 releases the GIL, so 2 cores give ~2x."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import numpy as np

MIN_CHUNK = 2_048
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


# A forked child (pre-fork servers, multiprocessing) inherits the pool but not its threads: start afresh.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_executor.cache_clear)


def pmap(fn: Callable[..., np.ndarray], *arrays: np.ndarray, min_chunk: int = MIN_CHUNK) -> np.ndarray:
    """``fn(*arrays)`` computed on row chunks in parallel and concatenated (same result as one call)."""
    n = len(arrays[0])
    k = min(workers(), n // min_chunk)
    if k <= 1:
        return fn(*arrays)
    cuts = np.linspace(0, n, k + 1).astype(int)

    def run(i: int) -> np.ndarray:
        return fn(*(a[cuts[i]:cuts[i + 1]] for a in arrays))

    return np.concatenate(list(_executor(workers()).map(run, range(k))))


def pmap_list(fn: Callable[[T], R], items: Sequence[T], weights: Sequence[float] | None = None,
              min_items: int = 64) -> list[R]:
    """``[fn(x) for x in items]`` on threads, split into contiguous runs of about equal total weight."""
    k = min(workers(), len(items) // min_items)
    if k <= 1:
        return [fn(x) for x in items]
    w = np.cumsum(np.asarray(weights if weights is not None else np.ones(len(items)), dtype=float))
    cuts = np.r_[0, np.searchsorted(w, w[-1] * np.arange(1, k) / k), len(items)]

    def run(i: int) -> list[R]:
        return [fn(x) for x in items[cuts[i]:cuts[i + 1]]]

    return [r for chunk in _executor(workers()).map(run, range(k)) for r in chunk]
