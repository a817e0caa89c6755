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

from maps.mvt import encode_boxes

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

    No polygon is intersected with a cell. Every ring edge is cut where it crosses a grid line, so each
    piece lies in one cell, and contributes the area between itself and the cell's right edge (``-dy·(R -
    x̄)``) to that cell and ``-dy·size`` to every cell right of it in its row (a running sum along the row) —
    the exact-coverage accumulation of font rasterisers, in numpy. Summed over a closed ring this is the
    ring's area inside each cell, whatever its shape; holes count negative. Polygons reaching outside the
    square are clipped to it first (GEOS, only those; tiles hand over polygons clipped already).
    """
    n = round((hi - lo) / size)
    keys, inverse = _class_index(classes)
    k = len(keys)
    local = np.zeros(k * n * n)
    carry = np.zeros(k * n * n)
    if len(geoms):
        geoms = np.asarray(geoms, dtype=object)
        bounds = shapely.bounds(geoms)
        outside = (bounds[:, 0] < lo) | (bounds[:, 1] < lo) | (bounds[:, 2] > hi) | (bounds[:, 3] > hi)
        if outside.any():
            geoms = geoms.copy()
            geoms[outside] = shapely.clip_by_rect(geoms[outside], lo, lo, hi, hi)
        x0, y0, x1, y1, ring_cls = _edges(geoms, inverse, lo, hi)
        # cut at the horizontal grid lines, then the pieces at the vertical ones: each piece in one cell
        x0, y0, x1, y1, ring_cls = _split(x0, y0, x1, y1, ring_cls, lo, size, axis=1)
        x0, y0, x1, y1, ring_cls = _split(x0, y0, x1, y1, ring_cls, lo, size, axis=0)
        dy = y1 - y0
        moving = dy != 0
        x0, x1, y0, dy, ring_cls = x0[moving], x1[moving], y0[moving], dy[moving], ring_cls[moving]
        xm = (x0 + x1) / 2
        row = np.clip(np.floor((y0 + dy / 2 - lo) / size).astype(np.int64), 0, n - 1)
        col = np.clip(np.floor((xm - lo) / size).astype(np.int64), 0, n - 1)
        base = (ring_cls * n + row) * n
        right = lo + (col + 1) * size
        local += np.bincount(base + col, weights=-dy * (right - xm), minlength=k * n * n)
        inner = col + 1 < n
        carry += np.bincount(base[inner] + col[inner] + 1, weights=-dy[inner] * size, minlength=k * n * n)
    areas = local.reshape(k, n, n) + np.cumsum(carry.reshape(k, n, n), axis=2)
    np.maximum(areas, 0.0, out=areas)  # rounding noise of cancelling edges
    return CoverageCells(lo, size, areas, keys)


def _edges(geoms: np.ndarray, inverse: np.ndarray, lo: float, hi: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every ring edge of the polygons (x0, y0, x1, y1; clamped to the square against rounding noise) and its
    class, each ring turned
    so that exterior rings add area and holes take it away."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polygon = shapely.get_type_id(parts) == 3
    parts, owner = parts[polygon], owner[polygon]
    rings, ring_poly = shapely.get_rings(parts, return_index=True)
    exterior = np.ones(len(rings), dtype=bool)
    exterior[1:] = ring_poly[1:] != ring_poly[:-1]
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]  # consecutive coordinates of one ring: an edge
    ax, ay, bx, by = coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
    edge_ring = ring[:-1][same]
    # the ring's own orientation (twice its signed area, the same integral as the accumulation)
    signed = np.bincount(edge_ring, weights=(ax + bx) * (by - ay), minlength=len(rings))
    flip = (signed < 0) == exterior  # exterior should come out positive, holes negative
    swap = flip[edge_ring]
    ax, bx = np.where(swap, bx, ax), np.where(swap, ax, bx)
    ay, by = np.where(swap, by, ay), np.where(swap, ay, by)
    cls = inverse[owner[ring_poly]][edge_ring]
    return np.clip(ax, lo, hi), np.clip(ay, lo, hi), np.clip(bx, lo, hi), np.clip(by, lo, hi), cls


def _split(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, cls: np.ndarray, lo: float,
           size: int, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The edges cut where they cross the grid lines ``lo + i·size`` of one axis (0: x, 1: y), in order."""
    a0, a1 = (x0, x1) if axis == 0 else (y0, y1)
    f0 = np.floor((a0 - lo) / size).astype(np.int64)
    f1 = np.floor((a1 - lo) / size).astype(np.int64)
    crossings = np.abs(f1 - f0)
    if not crossings.any():
        return x0, y0, x1, y1, cls
    step = np.sign(f1 - f0)
    pieces = crossings + 1
    edge = np.repeat(np.arange(len(a0)), pieces)
    first = np.cumsum(pieces) - pieces
    k = np.arange(len(edge)) - np.repeat(first, pieces)  # piece number along its edge
    # the grid line ending piece k (k < crossings): f0 + 1 + k going up, f0 - k going down
    line = np.where(step[edge] > 0, f0[edge] + 1 + k, f0[edge] - k)
    last = k == crossings[edge]
    da = (a1 - a0)[edge]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_end = np.where(last, 1.0, (lo + line * size - a0[edge]) / da)
    t_start = np.empty_like(t_end)
    t_start[1:] = t_end[:-1]
    t_start[first] = 0.0
    ex0, ey0, ex1, ey1 = x0[edge], y0[edge], x1[edge] - x0[edge], y1[edge] - y0[edge]
    nx0, ny0 = ex0 + t_start * ex1, ey0 + t_start * ey1
    nx1, ny1 = ex0 + t_end * ex1, ey0 + t_end * ey1
    return nx0, ny0, nx1, ny1, cls[edge]


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


GENERALISED = "generalised"  # attribute (1) on every coverage-cell feature


def encode_cells(name: str, cells: CoverageCells, field: str | None, budget: int) -> bytes:
    """The finest coverage-cell tile of ``cells`` within ``budget`` bytes: one MultiPolygon per class, the
    class value as attribute ``field`` (none without a field) and ``generalised=1``, no feature ids; ``b""``
    when nothing is there.

    Rectangles go to the encoder as integer boxes (``maps.mvt.encode_boxes``): no geometry objects.
    """
    data = b""
    for size in cell_sizes(cells, budget):
        coarse = coarsen(cells, size // cells.size)
        boxes, cls = rectangles(coarse)
        if not len(boxes):
            return b""
        present, feature = np.unique(cls, return_inverse=True)
        values = [coarse.classes[i] for i in present]
        columns: dict[str, list[Any]] = {field: values} if field else {}
        columns[GENERALISED] = [1] * len(values)  # clients draw these cells without outlines (no mesh of edges)
        data = encode_boxes(name, np.rint(boxes).astype(np.int64), feature, columns)
        if len(data) <= budget:
            break
    return data
