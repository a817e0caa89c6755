"""Road network: main roads along the valleys and kommunale veger around settlements."""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import shapely

from layers.demo.common import CRS, REGION_EXTENT, Floats, LatLon
from layers.demo.geometry import clip_lines, project, random_walks, wandering_course
from layers.demo.region import Region


class _Road(NamedTuple):
    vegkategori: str
    vegnummer: int
    wander: float
    course: tuple[LatLon, ...]


# fmt: off
_ROADS: tuple[_Road, ...] = (
    _Road("E", 134, 250.0, (
        (59.66, 9.90), (59.67, 9.65), (59.63, 9.50), (59.59, 9.35), (59.56, 9.26), (59.58, 9.17),
        (59.60, 8.97), (59.62, 8.72), (59.63, 8.45), (59.60, 8.15),
    )),
    _Road("R", 40, 250.0, (
        (59.42, 10.04), (59.50, 9.94), (59.58, 9.77), (59.67, 9.65), (59.76, 9.54), (59.85, 9.44),
        (60.00, 9.28), (60.04, 9.18), (60.16, 9.04), (60.27, 8.96), (60.27, 8.74), (60.30, 8.30),
    )),
    _Road("F", 37, 250.0, (
        (59.86, 8.30), (59.88, 8.59), (59.87, 8.75), (59.93, 8.82), (59.88, 8.93), (59.80, 8.99),
        (59.73, 9.04), (59.66, 9.14), (59.56, 9.26),
    )),
    _Road("F", 360, 200.0, ((59.56, 9.26), (59.52, 9.24), (59.45, 9.17))),
    _Road("F", 651, 200.0, ((59.60, 8.97), (59.67, 8.90), (59.73, 8.83))),
    _Road("F", 8, 200.0, ((59.67, 9.65), (59.60, 9.80), (59.49, 9.97))),
)
# fmt: on


def _junctions() -> set[LatLon]:
    """Control points shared by two or more roads: the roads meet there exactly (a network junction)."""
    seen: dict[LatLon, int] = {}
    for road in _ROADS:
        for point in set(road.course):
            seen[point] = seen.get(point, 0) + 1
    return {point for point, n in seen.items() if n > 1}


def _road_course(road: _Road, junctions: set[LatLon], rng: np.random.Generator) -> Floats:
    """A wandering course pinned at every junction, so roads that share a junction share its vertex."""
    cut = [i for i, point in enumerate(road.course) if point in junctions or i in (0, len(road.course) - 1)]
    pieces = [
        wandering_course(project(road.course[a : b + 1]), rng, road.wander, step=100.0)
        for a, b in pairwise(cut)
    ]
    return np.vstack([pieces[0], *[piece[1:] for piece in pieces[1:]]])


def veg_frame(region: Region, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """A connected road network: main roads along the valleys split into 2–4 km sections and meeting at shared
    junctions, plus kommunale veger branching off the main roads around settlements."""
    geoms, kategori, nummer = [], [], []
    junctions = _junctions()
    main_xy = []
    for road in _ROADS:
        xy = _road_course(road, junctions, rng)
        main_xy.append(xy)
        cuts = np.cumsum(rng.integers(20, 40, size=len(xy) // 20 + 1))
        cuts = np.concatenate([[0], cuts[cuts < len(xy) - 5], [len(xy) - 1]])
        for a, b in pairwise(cuts):
            geoms.append(shapely.linestrings(xy[a : b + 1]))
            kategori.append(road.vegkategori)
            nummer.append(road.vegnummer)

    n_local = 260
    which = rng.choice(
        len(region.settlements),
        n_local,
        p=region.weight * region.spread / (region.weight * region.spread).sum(),
    )
    near = region.settlements[which] + rng.normal(0, 1, (n_local, 2)) * region.spread[which, None] * 0.6
    # Each kommunal veg leaves the main-road vertex nearest to where it serves (a T junction), heading there.
    vertices = np.vstack(main_xy)
    inside = (
        (vertices[:, 0] > REGION_EXTENT[0] + 50)
        & (vertices[:, 0] < REGION_EXTENT[2] - 50)
        & (vertices[:, 1] > REGION_EXTENT[1] + 50)
        & (vertices[:, 1] < REGION_EXTENT[3] - 50)
    )
    vertices = vertices[inside]
    nearest = ((near[:, None, 0] - vertices[:, 0]) ** 2 + (near[:, None, 1] - vertices[:, 1]) ** 2).argmin(
        axis=1
    )
    start = vertices[nearest]
    heading = np.arctan2(near[:, 1] - start[:, 1], near[:, 0] - start[:, 0]) + rng.normal(0, 0.3, n_local)
    walks = random_walks(rng, start, heading, 20, (40.0, 160.0), 0.15)
    local = shapely.linestrings(walks)

    lines, src = clip_lines(np.concatenate([np.array(geoms, dtype=object), local]))
    kat_all = np.concatenate([kategori, np.full(n_local, "K")])[src]
    num_all = np.concatenate([nummer, rng.integers(1000, 9999, n_local)])[src]
    return gpd.GeoDataFrame(
        {"vegkategori": kat_all.astype(str), "vegnummer": num_all.astype(np.int64)}, geometry=lines, crs=CRS
    )
