"""Population on SSB's 1 km statistical grid (``ssbid``, ``pop_tot``, ``sysselsatte``), synthesised around towns.

SSB publishes the grid in EPSG:25833 with cells identified by ``ssbid`` = (lower-left easting + 2 000 000) and
northing side by side; only inhabited cells are listed. The demo lays the same grid, spreads each municipality's
population over its cells by settlement pull, and stores the cells in the working CRS.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from layers.demo.common import CRS, REGION_EXTENT
from layers.demo.region import KOMMUNER, Region

# Residents per municipality, of the right order for 2024 (rounded; not SSB's figures).
POPULATION: dict[str, int] = {
    "3303": 28_000,
    "3334": 2_800,
    "3336": 1_400,
    "3338": 2_400,
    "4005": 13_000,
    "4024": 1_600,
    "4026": 5_800,
}
EMPLOYED_SHARE = 0.48  # employed persons by place of residence / residents (order of magnitude)
CELL_M = 1000.0


def population_frame(region: Region, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Inhabited 1 km cells with ``ssbid``, ``pop_tot`` and ``sysselsatte`` summing to the municipal totals."""
    to_33 = Transformer.from_crs(CRS, "EPSG:25833", always_xy=True)
    to_32 = Transformer.from_crs("EPSG:25833", CRS, always_xy=True)
    x0, y0, x1, y1 = REGION_EXTENT
    x33, y33 = to_33.transform(np.array([x0, x1, x1, x0]), np.array([y0, y0, y1, y1]))
    xs = np.arange(np.floor(x33.min() / CELL_M) * CELL_M, x33.max(), CELL_M)
    ys = np.arange(np.floor(y33.min() / CELL_M) * CELL_M, y33.max(), CELL_M)
    llx, lly = (a.ravel() for a in np.meshgrid(xs, ys))
    cx, cy = to_32.transform(llx + CELL_M / 2, lly + CELL_M / 2)
    margin = CELL_M  # whole cells only: a 1 km square turned 25833 -> 25832 stays within 1 km of its centre
    inside = (cx > x0 + margin) & (cx < x1 - margin) & (cy > y0 + margin) & (cy < y1 - margin)
    llx, lly, cx, cy = llx[inside], lly[inside], cx[inside], cy[inside]
    weight = (region.pull(cx, cy) ** 1.5 + 0.002) * rng.lognormal(0.0, 0.35, len(cx))
    muni = region.municipality_of(cx, cy)
    pop = np.zeros(len(cx))
    for i, kommune in enumerate(KOMMUNER):
        mine = muni == i
        pop[mine] = POPULATION[kommune.nummer] * weight[mine] / weight[mine].sum()
    pop = np.floor(pop + rng.random(len(pop)))  # random rounding keeps the totals within a few persons
    keep = pop >= 1
    llx, lly, pop, muni = llx[keep], lly[keep], pop[keep].astype(np.int64), muni[keep]
    employed = np.round(pop * rng.uniform(EMPLOYED_SHARE - 0.06, EMPLOYED_SHARE + 0.06, len(pop))).astype(
        np.int64
    )
    ring = np.stack(
        [
            np.column_stack([llx, lly]),
            np.column_stack([llx + CELL_M, lly]),
            np.column_stack([llx + CELL_M, lly + CELL_M]),
            np.column_stack([llx, lly + CELL_M]),
        ],
        axis=1,
    )
    cells = gpd.GeoSeries(shapely.polygons(ring), crs="EPSG:25833").to_crs(CRS)
    ssbid = [f"{int(x) + 2_000_000}{int(y)}" for x, y in zip(llx, lly, strict=True)]
    knr = np.array([k.nummer for k in KOMMUNER])[muni]
    return gpd.GeoDataFrame(
        {"ssbid": ssbid, "pop_tot": pop, "sysselsatte": employed, "kommunenummer": knr},
        geometry=cells.to_numpy(),
        crs=CRS,
    )
