"""Engine internals that carry correctness: line chunking for the index, repair, and threaded = serial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, MultiLineString, MultiPolygon, Point, box

from constraints.geometry import chunk_lines, explode, repair
from constraints.overlay import analyse_zones
from constraints.rules import RuleSet

from .conftest import frame, layer, zoning


def test_chunk_lines_keeps_every_segment() -> None:
    lines = np.array([LineString([(i, i % 3) for i in range(n)]) for n in (2, 31, 32, 33, 64, 100)]
                     + [MultiLineString([[(0, 0), (1, 1)], [(5, 5), (6, 6), (7, 7)]])], dtype=object)
    pieces, owner = chunk_lines(lines, max_vertices=32)
    assert (shapely.get_num_coordinates(pieces) <= 32).all()
    for i, line in enumerate(lines):
        mine = pieces[owner == i]
        assert sum(p.length for p in mine) == pytest.approx(line.length)
        assert shapely.line_merge(shapely.union_all(mine)).equals(shapely.line_merge(line))


def test_explode_maps_parts_to_their_feature() -> None:
    geoms = np.array([MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)]), Point(1, 1),
                      LineString([(0, 0), (50, 0)]), shapely.MultiPoint([(0, 0), (1, 1)])], dtype=object)
    items, owner = explode(geoms)
    assert owner.tolist() == [0, 0, 1, 2, 3, 3]
    assert shapely.get_type_id(items).tolist() == [3, 3, 0, 1, 0, 0]


def test_repair_keeps_polygons_polygons() -> None:
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    fixed, bad = repair(np.array([bowtie, box(0, 0, 1, 1)], dtype=object))
    assert bad.tolist() == [0] and fixed[0].is_valid and fixed[0].area == pytest.approx(50) and fixed[1].equals(box(0, 0, 1, 1))


def test_threaded_and_serial_results_are_identical(rules: RuleSet, empty_layers, monkeypatch) -> None:
    """Synthetic: enough pairs that the thread split is used."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 3_000, (12_000, 2))
    ar5 = frame(list(shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 40, xy[:, 1] + 30)), arealtype=[21] * len(xy))
    heading = rng.uniform(0, 2 * np.pi, (150, 1)) + rng.normal(0, 0.3, (150, 12)).cumsum(axis=1)  # meanders
    steps = np.stack([np.cos(heading), np.sin(heading)], axis=-1) * 60
    rivers = frame(list(shapely.linestrings(steps.cumsum(axis=1) + rng.uniform(0, 3_000, (150, 1, 2)))))
    zxy = rng.uniform(0, 3_000, (1_500, 2))
    zones = zoning(list(shapely.box(zxy[:, 0], zxy[:, 1], zxy[:, 0] + 120, zxy[:, 1] + 90)),
                   arealformal=[1300] * len(zxy))
    layers = empty_layers(farmland=layer("ar5", "farmland", ar5), watercourse=layer("elv", "watercourse", rivers))
    monkeypatch.setenv("GEO_SERVICE_THREADS", "1")
    serial = analyse_zones(zones, layers, rules)
    monkeypatch.setenv("GEO_SERVICE_THREADS", "2")
    threaded = analyse_zones(zones, layers, rules)
    pd.testing.assert_frame_equal(serial, threaded)
    assert (serial["overlap_m2"] > 0).sum() > 1_000


def test_threads_work_in_a_forked_child(rules: RuleSet, empty_layers) -> None:
    """A pre-fork server forks after the pool exists; the child must not wait on threads it lacks."""
    import os
    import time

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    from constraints._parallel import pmap

    data = np.array([box(0, 0, 1, 1)] * 10_000, dtype=object)
    pmap(shapely.area, data)  # the parent's pool now exists
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            ok = bool(pmap(shapely.area, data).sum() == 10_000)
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung waiting for the parent's threads")
    assert os.waitstatus_to_exitcode(done[1]) == 0
