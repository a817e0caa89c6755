"""Digital and power infrastructure: substations with free capacity and broadband coverage by speed class."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.demo.common import CRS
from layers.demo.geometry import grid_centres
from layers.demo.region import KOMMUNER, Region

SPEED_CLASSES: tuple[tuple[float, str], ...] = (
    (1000.0, "≥ 1000 Mbit/s"),
    (100.0, "100–999 Mbit/s"),
    (30.0, "30–99 Mbit/s"),
    (0.0, "< 30 Mbit/s"),
)


def speed_class(mbit: float) -> str:
    """The coverage class of a download speed (Nkom's bands)."""
    return next(label for floor, label in SPEED_CLASSES if mbit >= floor)


def substations_frame(region: Region, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Transformer stations: one or two per town, one per larger village, with free capacity in MW."""
    towns = region.centres
    offsets = rng.normal(0.0, 1.0, (len(towns), 2)) * 900.0
    second = towns[:2] + rng.normal(0.0, 1.0, (2, 2)) * 2500.0  # Kongsberg and Flesberg get a second station
    villages = region.settlements[len(towns) :][rng.random(len(region.settlements) - len(towns)) < 0.5]
    xy = np.vstack([towns + offsets, second, villages + rng.normal(0.0, 1.0, (len(villages), 2)) * 400.0])
    n = len(xy)
    town_names = [k.senter for k in KOMMUNER]
    names = (
        [f"{t} transformatorstasjon" for t in town_names]
        + [f"{t} nord transformatorstasjon" for t in town_names[:2]]
        + [f"Bygdestasjon {i + 1}" for i in range(len(villages))]
    )
    kv = np.where(np.arange(n) < len(towns) + 2, rng.choice([66.0, 132.0], n), 22.0)
    free = np.round(np.where(kv > 22, rng.uniform(2.0, 40.0, n), rng.uniform(0.0, 4.0, n)), 1)
    return gpd.GeoDataFrame(
        {
            "navn": [f"{name} (syntetisk)" for name in names],
            "ledig_kapasitet_mw": free,
            "spenning_kv": kv,
            "nettselskap": "Regionalt nettselskap (syntetisk)",
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )


def broadband_frame(region: Region, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Coverage in 1 km squares: fibre in and around towns, slower technologies in villages and valleys."""
    cell = 1000.0
    gx, gy = grid_centres(cell)
    pull = region.pull(gx, gy) * rng.uniform(0.8, 1.2, len(gx))
    keep = pull > 0.02
    gx, gy, pull = gx[keep], gy[keep], pull[keep]
    fibre = pull > 0.12
    mbit = np.where(pull > 0.3, 1000.0, np.where(fibre, 500.0, np.where(pull > 0.05, 50.0, 20.0)))
    tech = np.where(fibre, "fiber", np.where(mbit >= 50, "fast trådløst (FWA)", "DSL"))
    squares = shapely.box(gx - cell / 2, gy - cell / 2, gx + cell / 2, gy + cell / 2)
    return gpd.GeoDataFrame(
        {
            "hastighet_mbit": mbit,
            "teknologi": tech,
            "hastighetsklasse": [speed_class(m) for m in mbit],
        },
        geometry=squares,
        crs=CRS,
    )
