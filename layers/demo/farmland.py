"""Farmland: AR5 arealtype tessellation around settlements and valley bottoms."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.codes import AR5_AREALTYPE
from layers.demo.common import CRS, REGION_EXTENT
from layers.demo.geometry import grid_centres, smooth_field, weighted_choice
from layers.demo.region import Region
from layers.demo.water import Rivers

# AR5 arealtype mix (code, weight): near towns, valley infield, outfield.
_AR5_MIX_TOWN = ((11, 35), (12, 8), (21, 25), (22, 4), (23, 8), (30, 15), (50, 3), (60, 2))
_AR5_MIX_VALLEY = ((21, 42), (22, 7), (23, 13), (30, 25), (11, 5), (12, 3), (50, 2), (60, 3))
_AR5_MIX_OUTFIELD = ((30, 72), (50, 12), (60, 12), (23, 2), (11, 1), (12, 1))


def ar5_frame(
    region: Region, rivers: Rivers, lakes: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """AR5 tessellation: Voronoi fields on a jittered ~120 m grid in the infield, sparse outfield cells."""
    size = 600.0
    gx, gy = grid_centres(size)
    pull = region.pull(gx, gy)
    near = region.nearest_settlement(gx, gy)
    d_river = rivers.distance(gx, gy, 5000.0)
    p = np.clip(1.3 * pull + 0.6 * np.exp(-d_river / 700.0) * np.exp(-near / 25_000.0), 0.0, 0.98)
    infield = rng.random(len(gx)) < p
    fx, fy = gx[infield], gy[infield]

    per_side = 5
    spacing = size / per_side
    k = np.arange(per_side**2)
    ox = (k % per_side + 0.5) * spacing - size / 2
    oy = (k // per_side + 0.5) * spacing - size / 2
    sx = (fx[:, None] + ox).ravel() + rng.uniform(-0.3, 0.3, fx.size * per_side**2) * spacing
    sy = (fy[:, None] + oy).ravel() + rng.uniform(-0.3, 0.3, fx.size * per_side**2) * spacing

    outfield = ~infield
    cx, cy = gx[outfield], gy[outfield]
    sparse = rng.random(len(cx)) < 0.08
    bx = cx[sparse] + rng.uniform(-200, 200, sparse.sum())
    by = cy[sparse] + rng.uniform(-200, 200, sparse.sum())

    x, y = np.concatenate([sx, bx]), np.concatenate([sy, by])
    is_infield = np.arange(len(x)) < len(sx)
    cells = shapely.voronoi_polygons(
        shapely.multipoints(np.column_stack([x, y])), extend_to=region.box, ordered=True
    )
    polys = shapely.clip_by_rect(shapely.get_parts(cells), *REGION_EXTENT)

    u = smooth_field(rng, x, y, (700.0, 3000.0))
    seed_pull = region.pull(x, y)
    code = np.where(
        ~is_infield,
        weighted_choice(_AR5_MIX_OUTFIELD, u),
        np.where(seed_pull > 0.55, weighted_choice(_AR5_MIX_TOWN, u), weighted_choice(_AR5_MIX_VALLEY, u)),
    )
    lake_union = shapely.union_all(lakes.geometry.to_numpy())
    shapely.prepare(lake_union)
    code = np.where(shapely.contains_xy(lake_union, x, y), 81, code).astype(np.int64)
    names = np.array([AR5_AREALTYPE[c] for c in code], dtype=object)
    return gpd.GeoDataFrame({"arealtype": code, "arealtypenavn": names}, geometry=polys, crs=CRS)
