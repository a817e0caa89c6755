"""Small vectorised geometry helpers shared by the engine (valid input, polygon parts, grouping)."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from constraints._parallel import pmap

AREA_EPS_M2 = 1e-6  # below this an intersection is a shared edge, not an overlap


def repair(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``geoms`` with invalid geometries made valid (kept to their own dimension) and their positions.

    ``make_valid`` can turn a bad polygon into a collection with stray lines (seen in real AR5 data); only the
    parts of the original dimension are kept so areas stay areas. The input array is not modified.
    """
    geoms = np.asarray(geoms, dtype=object)
    bad = np.flatnonzero(~pmap(shapely.is_valid, geoms) & ~shapely.is_missing(geoms))
    if len(bad) == 0:
        return geoms, bad
    out = geoms.copy()
    dims = shapely.get_dimensions(geoms[bad])
    fixed = shapely.make_valid(geoms[bad])
    for j, (geom, dim) in enumerate(zip(fixed, dims, strict=True)):
        out[bad[j]] = keep_dimension(geom, int(dim))
    return out, bad


def keep_dimension(geom: BaseGeometry, dim: int) -> BaseGeometry:
    """The parts of ``geom`` with dimension ``dim`` (2 polygons, 1 lines, 0 points) as one geometry."""
    parts = shapely.get_parts(geom)
    if len(parts) == 0:
        return geom
    parts = parts[shapely.get_dimensions(parts) == dim]
    if len(parts) == 0:
        return shapely.Polygon() if dim == 2 else shapely.LineString() if dim == 1 else shapely.Point()
    if len(parts) == 1:
        return parts[0]
    if dim == 2:
        return shapely.multipolygons(shapely.get_parts(parts))
    if dim == 1:
        return shapely.multilinestrings(shapely.get_parts(parts))
    return shapely.multipoints(shapely.get_parts(parts))


def group_starts(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted integer keys: the unique keys and the start offset of each run."""
    if len(sorted_keys) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return sorted_keys[starts], starts


def expanded_boxes(geoms: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Each geometry's bounding box grown by ``distance`` (per geometry) as polygons."""
    b = shapely.bounds(geoms)
    d = np.asarray(distance, dtype="float64")
    return shapely.box(b[:, 0] - d, b[:, 1] - d, b[:, 2] + d, b[:, 3] + d)


def chunk_lines(lines: np.ndarray, max_vertices: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Split (multi)lines into pieces of at most ``max_vertices`` vertices; returns (pieces, owner index).

    Long rivers and roads have huge bounding boxes, which makes every STRtree query near them test the
    whole line; short pieces keep the tree selective. Distances are unchanged (min over the pieces).
    """
    parts, owner = shapely.get_parts(lines, return_index=True)
    if len(parts) == 0:
        return parts, owner
    coords, cidx = shapely.get_coordinates(parts, return_index=True)
    n = np.bincount(cidx, minlength=len(parts))
    start = np.r_[0, np.cumsum(n)[:-1]]
    rank = np.arange(len(coords)) - start[cidx]
    step = max_vertices - 1
    nchunks = np.maximum(1, -(-(n - 1) // step))
    local = np.minimum(rank // step, nchunks[cidx] - 1)
    shared = (rank % step == 0) & (rank > 0) & (rank < n[cidx] - 1)  # a chunk's last vertex starts the next
    all_coords = np.concatenate([coords, coords[shared]])
    all_local = np.concatenate([local, local[shared] - 1])
    all_part = np.concatenate([cidx, cidx[shared]])
    all_rank = np.concatenate([rank, rank[shared]])
    chunk_id = np.r_[0, np.cumsum(nchunks)[:-1]][all_part] + all_local
    order = np.lexsort((all_rank, chunk_id))
    pieces = shapely.linestrings(all_coords[order], indices=chunk_id[order])
    return pieces, np.repeat(owner, nchunks)


def explode(geoms: np.ndarray, max_line_vertices: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Index items for an STRtree: polygons and points as single parts, lines in short chunks.

    Returns (items, owner) where ``owner`` is the position of each item's source geometry.
    """
    if len(geoms) == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    items: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    types = shapely.get_type_id(geoms)
    single = np.isin(types, (0, 3))  # Point, Polygon: already one part
    if single.any():
        items.append(geoms[single])
        owners.append(np.flatnonzero(single))
    multi = np.flatnonzero(np.isin(types, (4, 6)))  # MultiPoint, MultiPolygon
    if len(multi):
        parts, own = shapely.get_parts(geoms[multi], return_index=True)
        items.append(parts)
        owners.append(multi[own])
    line_idx = np.flatnonzero(np.isin(types, (1, 2, 5)))  # LineString, LinearRing, MultiLineString
    if len(line_idx):
        pieces, own = chunk_lines(geoms[line_idx], max_line_vertices)
        items.append(pieces)
        owners.append(line_idx[own])
    other = np.flatnonzero(types == 7)  # collections of mixed dimension: keep whole
    if len(other):
        items.append(geoms[other])
        owners.append(other)
    item_arr = np.concatenate(items)
    owner_arr = np.concatenate(owners).astype(np.int64)
    order = np.argsort(owner_arr, kind="stable")
    return item_arr[order], owner_arr[order]
