"""Dense low-zoom polygon tiles drawn as coverage cells: every square metre kept, at a coarser grain.

When a tile holds more small polygons than its byte budget can draw one by one (100 000 farmland parcels in
a z8 tile), dropping the small or keeping the largest leaves holes. Instead the tile is cut into square
cells of ``G`` tile units (8, 16, … 256; up to 64 aligned with the tile edges) and, per cell and per class (e.g.
``arealtype``), the exact area of the class inside the cell is measured (GEOS intersections, vectorised).
Each cell is then drawn as full-width stripes, one per class, stacked from the cell's top, each as tall as
its class's area divided by ``G``; stripe edges are rounded to whole tile units from the running sum, so
rounding never accumulates. Horizontally adjacent stripes with the same class and the same top and bottom
merge into one rectangle (a field of one class becomes a few long rectangles), and every class becomes one
MultiPolygon feature. The drawn area of each class equals its true area in the tile up to the rounding of
stripe edges (±G/2 units² per stripe, unbiased), and a cell the class fills completely is drawn full.

The cell size is the smallest whose rectangles fit the budget (about 14 bytes each). At z8 a cell of 8
units is one pixel of a 512 px tile; coarser cells look like a density map of the class, which is what a
z8 farmland view can show anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

CELL_SIZES = (8, 16, 32, 64, 128, 256)  # tile units; up to 64 the cells align with the tile edges
BYTES_PER_RECTANGLE = 14  # MoveTo + 3 LineTo + ClosePath with small deltas, measured on encoded tiles


@dataclass(frozen=True)
class CoverageCells:
    """Area per (class, cell) of a set of polygons on the finest cell grid, in tile units²."""

    origin: float  # tile units of the grid's top-left corner (both axes)
    size: int  # cell size of ``areas``
    areas: np.ndarray  # (classes, rows, columns)
    classes: list[Any]  # class value per first axis entry


def measure(geoms: np.ndarray, classes: Sequence[Any], lo: float, hi: float, size: int = CELL_SIZES[0]
            ) -> CoverageCells:
    """Exact area of each class in each ``size`` cell of the square ``lo``..``hi`` (tile units).

    Polygons inside one cell count whole; the others are cut into row strips, then the strips into cells
    (two vectorised intersections, so a large polygon costs rows + cells, not rows × its vertex count
    per cell).
    """
    n = round((hi - lo) / size)
    keys, inverse = _class_index(classes)
    totals = np.zeros(len(keys) * n * n)
    present = ~shapely.is_empty(geoms) if len(geoms) else np.zeros(0, dtype=bool)
    geoms, inverse = geoms[present], inverse[present]
    if len(geoms):
        bounds = shapely.bounds(geoms)
        cells = np.clip(np.floor((bounds - lo) / size).astype(np.int64), 0, n - 1)  # c0, r0, c1, r1
        one = (cells[:, 0] == cells[:, 2]) & (cells[:, 1] == cells[:, 3])
        _add(totals, n, inverse[one], cells[one, 1], cells[one, 0], shapely.area(geoms[one]))
        many = np.flatnonzero(~one)
        if len(many):
            strips, owner, rows = _cut(geoms[many], cells[many, 1], cells[many, 3], lo, size, axis=1)
            sb = shapely.bounds(strips)
            c0 = np.clip(np.floor((sb[:, 0] - lo) / size).astype(np.int64), 0, n - 1)
            c1 = np.clip(np.floor((sb[:, 2] - lo) / size).astype(np.int64), 0, n - 1)
            pieces, piece_owner, cols = _cut(strips, c0, c1, lo, size, axis=0)
            _add(totals, n, inverse[many[owner[piece_owner]]], rows[piece_owner], cols, shapely.area(pieces))
    return CoverageCells(lo, size, totals.reshape(len(keys), n, n), keys)


def _class_index(classes: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """Distinct class values (first-seen order) and each polygon's position among them."""
    index: dict[Any, int] = {}
    inverse = np.fromiter((index.setdefault(_key(c), len(index)) for c in classes), dtype=np.int64,
                          count=len(classes))
    return list(index), inverse


def _key(value: Any) -> Any:
    """A hashable class key; missing values (None, NaN) are one class."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _add(totals: np.ndarray, n: int, cls: np.ndarray, rows: np.ndarray, cols: np.ndarray,
         area: np.ndarray) -> None:
    np.add.at(totals, (cls * n + rows) * n + cols, area)


def _cut(geoms: np.ndarray, first: np.ndarray, last: np.ndarray, lo: float, size: int, axis: int
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each geometry cut into the bands ``first``..``last`` (rows: axis 1, columns: axis 0).

    Returns the non-empty pieces, the position of each piece's geometry and its band number.
    """
    count = last - first + 1
    owner = np.repeat(np.arange(len(geoms)), count)
    band = np.repeat(first, count) + (np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count))
    single = count[owner] == 1
    pieces = geoms[owner].copy()
    cut = np.flatnonzero(~single)
    if len(cut):
        a = lo + band[cut] * size
        far = np.full(len(cut), 1e9)
        boxes = (shapely.box(-far, a, far, a + size) if axis == 1 else shapely.box(a, -far, a + size, far))
        pieces[cut] = shapely.intersection(pieces[cut], boxes)
    keep = ~shapely.is_empty(pieces)
    return pieces[keep], owner[keep], band[keep]


def coarsen(cells: CoverageCells, factor: int) -> CoverageCells:
    """The same areas on cells ``factor`` times larger (sums of ``factor`` x ``factor`` blocks)."""
    if factor == 1:
        return cells
    k, n, _ = cells.areas.shape
    m = -(-n // factor)
    padded = np.zeros((k, m * factor, m * factor))
    padded[:, :n, :n] = cells.areas
    areas = padded.reshape(k, m, factor, m, factor).sum(axis=(2, 4))
    return CoverageCells(cells.origin, cells.size * factor, areas, cells.classes)


def rectangles(cells: CoverageCells) -> tuple[np.ndarray, np.ndarray]:
    """Stacked class stripes per cell, merged along rows: ``(boxes (r, 4) as x0, y0, x1, y1; class of each)``."""
    n = cells.areas.shape[1]
    g = cells.size
    full = float(g * g)
    stacked = np.cumsum(cells.areas, axis=0)
    over = stacked[-1] > full  # overlapping input: squeeze the cell's classes into the cell
    if over.any():
        stacked[:, over] *= full / stacked[-1][over]
    edges = np.rint(stacked / g).astype(np.int64)  # stripe bottoms, whole units below the cell top
    tops = np.concatenate([np.zeros((1, n, n), dtype=np.int64), edges[:-1]])
    cls, row, col = np.nonzero(edges > tops)
    if not len(cls):
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    y0, y1 = tops[cls, row, col], edges[cls, row, col]
    # merge runs of equal stripes in consecutive columns (np.nonzero is already in class, row, column order)
    same = np.ones(len(cls), dtype=bool)
    same[0] = False
    same[1:] = ((cls[1:] == cls[:-1]) & (row[1:] == row[:-1]) & (col[1:] == col[:-1] + 1)
                & (y0[1:] == y0[:-1]) & (y1[1:] == y1[:-1]))
    start = np.flatnonzero(~same)
    end = np.r_[start[1:], len(cls)] - 1
    left = cells.origin + col[start] * g
    right = cells.origin + (col[end] + 1) * g
    top = cells.origin + row[start] * g
    boxes = np.column_stack([left, top + y0[start], right, top + y1[start]]).astype(float)
    return boxes, cls[start]


def cell_sizes(cells: CoverageCells, budget: int) -> list[int]:
    """The cell sizes worth trying for ``budget`` bytes, finest first (finer ones surely do not fit)."""
    sizes = [g for g in CELL_SIZES if g >= cells.size]
    occupied = np.count_nonzero(cells.areas)  # an upper bound of the stripes at the finest size
    while len(sizes) > 1 and occupied * BYTES_PER_RECTANGLE / (sizes[0] // cells.size) ** 2 > 4 * budget:
        sizes.pop(0)
    return sizes


def coverage_features(cells: CoverageCells, size: int) -> tuple[np.ndarray, list[Any]]:
    """One MultiPolygon per class on cells of ``size`` tile units: the geometries and their class values."""
    coarse = coarsen(cells, size // cells.size)
    boxes, cls = rectangles(coarse)
    if not len(boxes):
        return np.array([], dtype=object), []
    parts = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
    present = np.unique(cls)
    geoms = shapely.multipolygons(parts, indices=np.searchsorted(present, cls))
    return np.asarray(geoms, dtype=object), [coarse.classes[i] for i in present]
