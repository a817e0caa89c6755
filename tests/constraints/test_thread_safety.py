"""No prepared geometry is ever used by two threads (GEOS prepared geometries are not thread-safe: the site check
and the derived refresh died with SIGSEGV). Unit tests of the rule, a check of the sources, and a stress run."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import shapely

from constraints import _parallel
from constraints._parallel import PreparedPerThread, pmap, pmap_list, private_geometries

ROOT = Path(__file__).resolve().parents[2]
STRESS_ROUNDS = 3


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_SERVICE_THREADS", "2")


def _seen_by_chunk(fn_calls: list[tuple[int, np.ndarray]]):
    lock = threading.Lock()

    def fn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with lock:
            fn_calls.append((threading.get_ident(), a))
        return shapely.contains_properly(a, b)

    return fn


def test_pmap_gives_each_chunk_its_own_prepared_copies_and_leaves_inputs_alone(two_threads: None) -> None:
    zone = shapely.box(0, 0, 1000, 1000)
    x = np.arange(6000) % 1100
    points = shapely.points(x, np.full(6000, 500.0))
    zones = np.array([zone] * 6000, dtype=object)  # one zone shared by every row, as in a site check
    calls: list[tuple[int, np.ndarray]] = []
    inside = pmap(_seen_by_chunk(calls), zones, points, prepare=(0,))
    assert inside.tolist() == ((x > 0) & (x < 1000)).tolist() and inside.sum() == 5 * 999 + 499
    assert not shapely.is_prepared(zone)  # the caller's geometry was never prepared
    assert len(calls) == 2  # two chunks
    copies = [{id(g) for g in a} for _, a in calls]
    assert all(len(c) == 1 for c in copies)  # repeats stay one object within a chunk: prepared once per chunk
    assert copies[0].isdisjoint(copies[1]) and id(zone) not in copies[0] | copies[1]
    assert all(shapely.is_prepared(a).all() for _, a in calls)


def test_pmap_copies_geometries_that_arrive_prepared(two_threads: None) -> None:
    zone = shapely.box(0, 0, 10, 10)
    shapely.prepare(zone)
    calls: list[tuple[int, np.ndarray]] = []
    pmap(_seen_by_chunk(calls), np.array([zone] * 5000, dtype=object), shapely.points(np.ones(5000), np.ones(5000)))
    assert len(calls) == 2
    assert all(id(zone) not in {id(g) for g in a} for _, a in calls)


def test_pmap_list_copies_prepared_items(two_threads: None) -> None:
    geoms = [shapely.box(i, 0, i + 1, 1) for i in range(200)]
    shapely.prepare(geoms[150])
    seen = pmap_list(lambda g: g, geoms)
    assert seen[0] is geoms[0] and seen[150] is not geoms[150] and seen[150].equals(geoms[150])


def test_private_geometries_keeps_missing_values_and_plain_arrays() -> None:
    a = np.array([None, shapely.Point(0, 0)], dtype=object)
    out = private_geometries(a, prepare=True)
    assert out[0] is None and shapely.is_prepared(out[1]) and not shapely.is_prepared(a[1])
    floats = np.arange(3.0)
    assert private_geometries(floats, prepare=True) is floats


def test_prepared_per_thread_hands_each_thread_its_own_copy() -> None:
    shared = shapely.box(0, 0, 5, 5)
    shapely.prepare(shared)
    holder = PreparedPerThread(shared)
    assert not shapely.is_prepared(holder.geometry)
    got: dict[str, object] = {}

    def ask(name: str) -> None:
        got[name] = holder.get()

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine = holder.get()
    assert mine is holder.get()  # one copy per thread, reused
    assert len({id(got["a"]), id(got["b"]), id(mine)}) == 3
    assert all(shapely.is_prepared(g) for g in (got["a"], got["b"], mine))


def test_no_module_prepares_geometries_outside_the_parallel_helper() -> None:
    """``shapely.prepare``/``prep`` only in ``constraints/_parallel.py`` (where copies are thread-private).

    ``layers/demo/farmland.py`` prepares one geometry it built itself, in one thread, to generate the demo data.
    ``layers/cql2_sql.py`` prepares a CQL2 filter's literal in a cache owned by one SQLite connection, which is
    thread-local and refuses use from any other thread (``check_same_thread``).
    """
    allowed = {Path("constraints/_parallel.py"), Path("layers/demo/farmland.py"), Path("layers/cql2_sql.py"),
               Path("layers/checks.py")}  # checks.py prepares a union it has just made, in its own thread
    offenders = []
    for package in ("constraints", "layers", "sites", "programme", "maps", "geo_service"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and ast.unparse(node.func) in {
                        "shapely.prepare", "prepare", "prep", "shapely.prepared.prep", "prepared.prep"}:
                    offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_engine_survives_many_threaded_rounds_on_large_and_pathological_sites() -> None:
    """The stress run (tests/constraints/stress_engine.py) in a subprocess with 2 threads: it must exit 0.

    Each round two threads check 5 large/pathological sites at once on one shared index (each site check runs
    its chunks on the pool too); round 0 also runs the whole zoning analysis. Before the fix: exit -11 at once.
    """
    env = {**os.environ, "GEO_SERVICE_THREADS": "2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.constraints.stress_engine", str(STRESS_ROUNDS)], cwd=ROOT, check=False,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    rounds = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["round"] for r in rounds] == list(range(STRESS_ROUNDS))
    assert sum(r["site_checks"] for r in rounds) == STRESS_ROUNDS * 10
    # 403 zones, all zoned for business over the synthetic farmland grid or next to a road: every one RED
    assert rounds[0]["analysis"] == {"RED": 403}


def test_workers_reads_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_SERVICE_THREADS", "3")
    assert _parallel.workers() == 3


def test_run_tasks_keeps_order_and_nested_tasks_never_wait_on_their_own_pool(two_threads: None) -> None:
    """Tasks run side by side with results in order; a task that runs tasks itself runs them in its own thread
    (with two pool threads both waiting on queued sub-tasks the pool would deadlock)."""
    seen: set[str] = set()

    def inner(x: int) -> int:
        seen.add(threading.current_thread().name)
        return x * x

    out = _parallel.run_tasks(lambda n: _parallel.run_tasks(inner, list(range(n))), [3, 4, 5, 6])
    assert out == [[0, 1, 4], [0, 1, 4, 9], [0, 1, 4, 9, 16], [0, 1, 4, 9, 16, 25]]
    assert seen and all(name.startswith("constraints-task") for name in seen)
