"""Flood zones: NVE-style 200-year flood zones along main rivers near settlements."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.demo.common import CRS
from layers.demo.region import Region
from layers.demo.water import RIVERS, Rivers

_FLOOD_REACH_KM = 4.0  # flood maps are made where a main river passes within this distance of a settlement


def flomsoner_frame(region: Region, rivers: Rivers, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """200-year flood zones: main-river reaches near settlements buffered 40–160 m (one polygon per reach)."""
    reaches = rivers.reaches
    mid = shapely.line_interpolate_point(reaches, 0.5, normalized=True)
    near = region.nearest_settlement(shapely.get_x(mid), shapely.get_y(mid)) < _FLOOD_REACH_KM * 1000
    chosen = np.flatnonzero(near)
    width = rng.uniform(40.0, 160.0, size=len(chosen))
    zones = shapely.buffer(reaches[chosen], width, quad_segs=4)
    zones = shapely.intersection(zones, region.box)
    keep = ~shapely.is_empty(zones)
    chosen, zones = chosen[keep], zones[keep]
    names = np.array([RIVERS[i].navn for i in rivers.reach_river[chosen]], dtype=object)
    return gpd.GeoDataFrame(
        {
            "elv": names,
            "gjentaksintervall": np.full(len(chosen), 200, dtype=np.int64),
            "flomsone_id": [f"FS-{i + 1:04d}" for i in range(len(chosen))],
        },
        geometry=zones,
        crs=CRS,
    )
