"""Small vectorised geometry helpers shared by the engine (valid input, polygon parts, grouping)."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

AREA_EPS_M2 = 1e-6  # below this an intersection is a shared edge, not an overlap


def repair(geoms: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``geoms`` with invalid geometries made valid (kept to their own dimension) and the repair count.

    ``make_valid`` can turn a bad polygon into a collection with stray lines (seen in real AR5 data); only the
    parts of the original dimension are kept so areas stay areas.
    """
    geoms = np.asarray(geoms, dtype=object)
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    if len(bad) == 0:
        return geoms, 0
    out = geoms.copy()
    dims = shapely.get_dimensions(geoms[bad])
    fixed = shapely.make_valid(geoms[bad])
    for j, (geom, dim) in enumerate(zip(fixed, dims, strict=True)):
        out[bad[j]] = keep_dimension(geom, int(dim))
    return out, len(bad)


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
