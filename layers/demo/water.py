"""Watercourses: main rivers as wandering courses, tributary streams and lakes."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.demo.common import CRS, Floats, Geoms, Ints, LatLon
from layers.demo.geometry import (
    clip_lines,
    grid_centres,
    largest_part,
    moving_average,
    normals,
    project,
    random_walks,
    star_polygons,
    wandering_course,
)
from layers.demo.region import Region


class _River(NamedTuple):
    navn: str
    verneplan: str | None
    joins: str | None  # parent river: the course ends exactly on it
    wander: float  # max lateral deviation from the course (m)
    course: tuple[LatLon, ...]


class _Lake(NamedTuple):
    navn: str
    half_width: float  # m
    course: tuple[LatLon, ...]


# fmt: off
RIVERS: tuple[_River, ...] = (
    _River("Numedalslågen", None, None, 700.0, (
        (60.40, 8.45), (60.35, 8.70), (60.31, 8.88), (60.27, 8.95), (60.16, 9.03), (60.04, 9.17),
        (60.00, 9.27), (59.92, 9.36), (59.85, 9.43), (59.76, 9.55), (59.67, 9.65), (59.57, 9.76),
        (59.49, 9.93), (59.42, 10.02),
    )),
    _River("Uvdalselva", None, "Numedalslågen", 500.0, ((60.24, 8.20), (60.26, 8.50), (60.27, 8.74), (60.28, 8.90))),
    _River("Måna", None, None, 350.0, ((59.86, 8.28), (59.87, 8.45), (59.88, 8.59), (59.87, 8.75), (59.93, 8.82))),
    _River("Tinnelva", None, None, 500.0, ((59.72, 9.03), (59.66, 9.13), (59.61, 9.21), (59.57, 9.26))),
    _River("Hjartdøla", None, None, 500.0, (
        (59.63, 8.50), (59.62, 8.72), (59.60, 8.97), (59.58, 9.15), (59.56, 9.22),
    )),
    _River("Kåla", "016/8", "Tinnelva", 400.0, ((59.75, 9.22), (59.70, 9.20), (59.65, 9.18))),
    _River("Digeråi", "016/11", "Hjartdøla", 450.0, ((59.82, 8.93), (59.74, 8.97), (59.67, 9.03), (59.60, 9.06))),
    _River("Rauda", "016/9", None, 300.0, ((59.92, 9.20), (59.89, 9.08), (59.87, 8.99))),
    _River("Kobberbergselva", None, "Numedalslågen", 350.0, ((59.78, 9.42), (59.72, 9.55), (59.68, 9.63))),
    _River("Jondalselva", None, "Numedalslågen", 400.0, ((59.70, 9.30), (59.68, 9.45), (59.66, 9.61))),
    _River("Vrangeelva", None, "Numedalslågen", 350.0, ((59.50, 9.55), (59.56, 9.66), (59.60, 9.72))),
    _River("Tessungåe", None, None, 400.0, ((60.10, 8.55), (60.02, 8.72), (59.95, 8.85))),
    _River("Austbygdåi", None, None, 400.0, ((60.12, 8.75), (60.04, 8.84), (59.97, 8.88))),
)

LAKES: tuple[_Lake, ...] = (
    _Lake("Tinnsjå", 1600.0, ((59.97, 8.86), (59.90, 8.91), (59.82, 8.97), (59.74, 9.02))),
    _Lake("Heddalsvatnet", 1300.0, ((59.56, 9.25), (59.52, 9.19), (59.47, 9.13), (59.43, 9.09))),
    _Lake("Norefjorden", 600.0, ((60.25, 8.97), (60.21, 9.00), (60.18, 9.02))),
    _Lake("Tunhovdfjorden", 900.0, ((60.35, 8.62), (60.34, 8.74), (60.32, 8.85))),
    _Lake("Pålsbufjorden", 800.0, ((60.43, 8.30), (60.41, 8.42))),
    _Lake("Follsjå", 500.0, ((59.70, 8.92), (59.67, 9.00))),
    _Lake("Hjartsjå", 350.0, ((59.615, 8.80), (59.605, 8.86))),
    _Lake("Bolkesjø", 300.0, ((59.65, 9.08), (59.64, 9.11))),
)

# fmt: on


@dataclass(frozen=True)
class Rivers:
    """Main river courses: dense vertices with river index, plus reach lines with names."""

    xy: Floats  # (n, 2) all vertices of all main rivers
    normal: Floats  # (n, 2)
    river: Ints  # (n,) index into RIVERS
    reaches: Geoms
    reach_river: Ints
    tree: shapely.STRtree

    def distance(self, x: Floats, y: Floats, max_distance: float) -> Floats:
        """Distance from points to the nearest main river, capped at ``max_distance``."""
        pts = shapely.points(x, y)
        idx, dist = self.tree.query_nearest(pts, max_distance=max_distance, return_distance=True)
        out = np.full(len(x), max_distance)
        np.minimum.at(out, idx[0], dist)
        return out


def river_courses(region: Region, rng: np.random.Generator) -> Rivers:
    """Main rivers as wandering courses down the valleys, split into 3–6 km reaches."""
    courses: dict[str, Floats] = {}
    xy_parts, normal_parts, river_parts, reaches, reach_river = [], [], [], [], []
    for i, river in enumerate(RIVERS):
        control = project(river.course)
        if river.joins is not None:  # end exactly on the parent river (confluence)
            parent = courses[river.joins]
            control[-1] = parent[np.argmin(np.hypot(*(parent - control[-1]).T))]
        xy = wandering_course(control, rng, river.wander)
        courses[river.navn] = xy
        xy_parts.append(xy)
        normal_parts.append(normals(xy))
        river_parts.append(np.full(len(xy), i))
        cuts = np.cumsum(rng.integers(20, 40, size=len(xy) // 20 + 1))
        cuts = np.concatenate([[0], cuts[cuts < len(xy) - 5], [len(xy) - 1]])
        for a, b in pairwise(cuts):
            reaches.append(shapely.linestrings(xy[a : b + 1]))
            reach_river.append(i)
    reach_arr = np.array(reaches, dtype=object)
    return Rivers(
        np.vstack(xy_parts),
        np.vstack(normal_parts),
        np.concatenate(river_parts),
        reach_arr,
        np.array(reach_river),
        shapely.STRtree(reach_arr),
    )


def lakes_frame(region: Region, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Named valley lakes (variable-width bodies along a centreline) plus a few hundred mountain lakes."""
    named: list[shapely.Polygon] = []
    for lake in LAKES:
        width = lake.half_width
        centre = wandering_course(project(lake.course), rng, width * 0.3, step=100.0)
        t = np.linspace(0.0, 1.0, len(centre))
        taper = np.sin(np.pi * t) ** 0.5
        left = width * (0.55 + 0.45 * moving_average(rng.uniform(0, 1, len(t)), 11)) * taper + 40
        right = width * (0.55 + 0.45 * moving_average(rng.uniform(0, 1, len(t)), 11)) * taper + 40
        nrm = normals(centre)
        ring = np.vstack([centre + nrm * left[:, None], (centre - nrm * right[:, None])[::-1]])
        poly, _ = largest_part(np.array([shapely.make_valid(shapely.Polygon(ring))], dtype=object))
        named.append(poly[0])
    named_arr = np.array(named, dtype=object)

    # Mountain lakes: one per selected 4 km cell, away from settlements.
    cell = 4000.0
    gx, gy = grid_centres(cell)
    far = region.nearest_settlement(gx, gy) > 4000.0
    pick = far & (rng.random(len(gx)) < 0.32)
    gx, gy = gx[pick], gy[pick]
    radius = np.clip(rng.lognormal(np.log(320.0), 0.55, len(gx)), 80.0, cell / 2 - 150)
    small = star_polygons(gx, gy, radius, rng, vertices=12, fill=(0.6, 1.0), square=False)
    hits = shapely.STRtree(named_arr).query(small, predicate="intersects")[0]
    small = np.delete(small, np.unique(hits))
    geoms = np.concatenate([named_arr, small])
    navn = [lake.navn for lake in LAKES] + [None] * len(small)
    return gpd.GeoDataFrame({"navn": navn}, geometry=geoms, crs=CRS)


def vassdrag_frame(
    region: Region, rivers: Rivers, lakes: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Main river reaches, tributary streams (two orders) and lakes in one frame."""
    vern = np.array([r.verneplan for r in RIVERS], dtype=object)
    names = np.array([r.navn for r in RIVERS], dtype=object)

    # First-order tributaries: random walks leaving the main rivers sideways, reversed to flow in.
    n1, k1 = 1100, 30
    rural = 1.0 - 0.85 * region.pull(rivers.xy[:, 0], rivers.xy[:, 1])
    start = rng.choice(len(rivers.xy), n1, p=rural / rural.sum())
    side = rng.choice([-1.0, 1.0], n1)
    nrm = rivers.normal[start] * side[:, None]
    trib = random_walks(rng, rivers.xy[start], np.arctan2(nrm[:, 1], nrm[:, 0]), k1, (80.0, 300.0), 0.16)
    # Second-order streams leave the tributaries.
    n2, k2 = 1000, 14
    parent = rng.integers(0, n1, n2)
    at = rng.integers(8, k1 - 2, n2)
    p0 = trib[parent, at]
    tangent = trib[parent, at + 1] - trib[parent, at]
    heading = np.arctan2(tangent[:, 1], tangent[:, 0]) + rng.choice([-1.0, 1.0], n2) * rng.uniform(
        0.6, 1.3, n2
    )
    trib2 = random_walks(rng, p0, heading, k2, (60.0, 200.0), 0.2)

    streams = np.concatenate([shapely.linestrings(trib[:, ::-1]), shapely.linestrings(trib2[:, ::-1])])
    stream_river = np.concatenate([rivers.river[start], rivers.river[start][parent]])
    lines, src = clip_lines(np.concatenate([rivers.reaches, streams]))
    line_river = np.concatenate([rivers.reach_river, stream_river])[src]
    is_main = src < len(rivers.reaches)

    line_frame = pd.DataFrame(
        {
            "objtype": "ElvBekk",
            "navn": np.where(is_main, names[line_river], None),
            "verneplan": vern[line_river],
        }
    )
    lake_frame = pd.DataFrame({"objtype": "Innsjo", "navn": lakes["navn"].to_numpy(), "verneplan": None})
    attrs = pd.concat([line_frame, lake_frame], ignore_index=True)
    geoms = np.concatenate([lines, lakes.geometry.to_numpy()])
    return gpd.GeoDataFrame(attrs.astype(object).where(attrs.notna(), None), geometry=geoms, crs=CRS)
