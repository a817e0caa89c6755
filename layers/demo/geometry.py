"""Geometry helpers of the demo generator: projection, smooth random courses, polygons, grids."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from layers.demo.common import CRS, REGION_EXTENT, Floats, Geoms, Ints


@lru_cache(maxsize=1)
def wgs84_to_utm() -> Transformer:
    """WGS84 lon/lat -> EPSG:25832 (always_xy)."""
    return Transformer.from_crs("EPSG:4326", CRS, always_xy=True)


def project(latlon: Sequence[tuple[float, float]]) -> Floats:
    """Project (lat, lon) pairs to an (n, 2) array of EPSG:25832 coordinates."""
    arr = np.asarray(latlon, dtype=float)
    x, y = wgs84_to_utm().transform(arr[:, 1], arr[:, 0])
    return np.column_stack([x, y])


def moving_average(values: Floats, window: int) -> Floats:
    """Centred moving average along axis 0, edge padded (keeps the length)."""
    if window < 2:
        return values
    half = window // 2
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    cols = values.reshape(len(values), -1)
    padded = np.pad(cols, ((half, half), (0, 0)), mode="edge")
    out = np.column_stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(cols.shape[1])])
    return out.reshape(values.shape)


def pin_ends(values: Floats, start: Floats, end: Floats) -> Floats:
    """Add a linear correction so the first/last rows equal ``start``/``end``."""
    t = np.linspace(0.0, 1.0, len(values))[:, None]
    return values + (1 - t) * (start - values[0]) + t * (end - values[-1])


def resample(xy: Floats, step: float) -> Floats:
    """Resample a polyline at (about) equal ``step`` spacing."""
    seg = np.hypot(*np.diff(xy, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(s[-1] // step), 2) + 1
    t = np.linspace(0.0, s[-1], n)
    return np.column_stack([np.interp(t, s, xy[:, 0]), np.interp(t, s, xy[:, 1])])


def normals(xy: Floats) -> Floats:
    """Unit left-hand normals of a polyline."""
    d = np.gradient(xy, axis=0)
    d /= np.hypot(d[:, 0], d[:, 1])[:, None]
    return np.column_stack([-d[:, 1], d[:, 0]])


def wandering_course(control: Floats, rng: np.random.Generator, wander: float, step: float = 150.0) -> Floats:
    """A smooth random walk through ``control``: smoothed centreline plus a smoothed Brownian bridge."""
    xy = resample(control, step)
    centre = pin_ends(moving_average(xy, 15), xy[0], xy[-1])
    bridge = np.cumsum(rng.normal(0.0, 1.0, len(xy)))
    bridge -= np.linspace(bridge[0], bridge[-1], len(xy))
    bridge = moving_average(bridge, 9)
    bridge -= np.linspace(bridge[0], bridge[-1], len(xy))
    bridge *= wander * rng.uniform(0.6, 1.0) / max(float(np.abs(bridge).max()), 1e-9)
    return centre + normals(centre) * bridge[:, None]


def star_polygons(
    cx: Floats,
    cy: Floats,
    half: Floats,
    rng: np.random.Generator,
    *,
    vertices: int = 10,
    fill: tuple[float, float] = (0.78, 0.97),
    square: bool = True,
) -> Geoms:
    """Irregular polygons, star-shaped about (cx, cy) and bounded by a square (or circle) of ``half``.

    Vertices are at increasing angles with radius inside the bound, so each polygon is simple (valid)
    and polygons built in disjoint cells never overlap.
    """
    n = len(cx)
    sector = 2 * np.pi / vertices
    theta = (np.arange(vertices) + rng.uniform(-0.3, 0.3, (n, vertices))) * sector
    theta += rng.uniform(0.0, sector, (n, 1))
    bound = (
        half[:, None] / np.maximum(np.abs(np.cos(theta)), np.abs(np.sin(theta))) if square else half[:, None]
    )
    r = bound * rng.uniform(fill[0], fill[1], (n, vertices))
    coords = np.stack([cx[:, None] + r * np.cos(theta), cy[:, None] + r * np.sin(theta)], axis=-1)
    coords = np.concatenate([coords, coords[:, :1]], axis=1)
    return shapely.polygons(coords)


def largest_part(geoms: Geoms) -> tuple[Geoms, Ints]:
    """Largest polygon part of each geometry, with the indices of inputs that had one."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    parts, idx = parts[keep], idx[keep]
    order = np.lexsort((-shapely.area(parts), idx))
    uniq, first = np.unique(idx[order], return_index=True)
    return parts[order][first], uniq


def weighted_choice(mix: Sequence[tuple[object, float]], u: Floats) -> NDArray:
    """Map uniforms ``u`` to codes of ``mix`` by their weights."""
    codes = np.array([c for c, _ in mix])
    cum = np.cumsum([w for _, w in mix], dtype=float)
    return codes[np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(codes) - 1)]


def smooth_field(rng: np.random.Generator, x: Floats, y: Floats, wavelengths: tuple[float, float]) -> Floats:
    """A smooth random field (sum of random plane waves), ranked to uniform (0, 1)."""
    field = np.zeros_like(x)
    for _ in range(8):
        angle = rng.uniform(0, np.pi)
        k = 2 * np.pi / rng.uniform(*wavelengths)
        field += np.sin(k * (x * np.cos(angle) + y * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
    field += rng.normal(0.0, 0.6, len(x))
    ranks = np.empty(len(x))
    ranks[np.argsort(field, kind="stable")] = (np.arange(len(x)) + 0.5) / len(x)
    return ranks


def clip_lines(lines: Geoms) -> tuple[Geoms, Ints]:
    """Clip lines to the region extent, returning single parts and their source indices."""
    clipped = shapely.clip_by_rect(lines, *REGION_EXTENT)
    parts, idx = shapely.get_parts(clipped, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 1.0)
    return parts[keep], idx[keep]


def grid_centres(cell: float, offset: tuple[float, float] = (0.0, 0.0)) -> tuple[Floats, Floats]:
    """Centres of a regular grid of ``cell`` size covering the extent (cells fully inside)."""
    x0, y0, x1, y1 = REGION_EXTENT
    xs = np.arange(x0 + offset[0] + cell / 2, x1 - cell / 2, cell)
    ys = np.arange(y0 + offset[1] + cell / 2, y1 - cell / 2, cell)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def random_walks(
    rng: np.random.Generator,
    start: Floats,
    heading: Floats,
    vertices: int,
    step: tuple[float, float],
    turn: float,
) -> Floats:
    """(n, vertices, 2) random walks from ``start`` with a slowly turning heading."""
    n = len(start)
    angles = heading[:, None] + np.cumsum(rng.normal(0.0, turn, (n, vertices - 1)), axis=1)
    length = rng.uniform(*step, (n, 1))
    steps = np.stack([np.cos(angles), np.sin(angles)], axis=-1) * length[:, :, None]
    walk = np.concatenate([np.zeros((n, 1, 2)), np.cumsum(steps, axis=1)], axis=1)
    return walk + start[:, None, :]
