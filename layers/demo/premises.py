"""Available premises (ledige lokaler og bygg) for sale or rent in the towns and larger villages."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.demo.common import CRS
from layers.demo.region import KOMMUNER, Region

USES: tuple[tuple[str, float], ...] = (
    ("kontor", 30),
    ("industri", 20),
    ("lager", 18),
    ("handel", 12),
    ("verksted", 10),
    ("kombinert", 10),
)
STREETS = (
    "Industriveien",
    "Næringsveien",
    "Teknologiveien",
    "Stasjonsgata",
    "Storgata",
    "Verkstedveien",
    "Lagerveien",
    "Fabrikkveien",
    "Elveveien",
    "Sentrumsgata",
)
# Premises per municipality (same order as KOMMUNER): the towns have most.
PER_MUNICIPALITY = (14, 3, 2, 3, 8, 2, 5)


def premises_frame(region: Region, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Premises with address, use, floor and plot area, price or rent, available from, contact."""
    rows = []
    for i, (kommune, count) in enumerate(zip(KOMMUNER, PER_MUNICIPALITY, strict=True)):
        xy = region.centres[i] + rng.normal(0.0, 1.0, (count, 2)) * kommune.spread * 0.35
        for x, y in xy:
            use = USES[int(np.searchsorted(np.cumsum([w for _, w in USES]) / 100.0, rng.random()))][0]
            floor = float(np.round(rng.lognormal(np.log(900.0 if use == "kontor" else 2500.0), 0.7), -1))
            plot = (
                float(np.round(floor * rng.uniform(1.5, 6.0), -1))
                if use != "kontor"
                else float(np.round(floor * rng.uniform(0.5, 1.5), -1))
            )
            to_let = rng.random() < 0.6
            month = 11 + int(rng.integers(0, 18))  # from December 2026
            rows.append(
                {
                    "adresse": f"{STREETS[int(rng.integers(len(STREETS)))]} {int(rng.integers(1, 80))}, {kommune.senter}",
                    "bruk": use,
                    "bruksareal_m2": floor,
                    "tomt_m2": plot,
                    "leie": float(np.round(rng.uniform(700.0, 1800.0), -1)) if to_let else None,
                    "pris": None if to_let else float(np.round(floor * rng.uniform(9_000.0, 22_000.0), -5)),
                    "ledig_fra": f"{2026 + month // 12}-{month % 12 + 1:02d}-01",
                    "kontakt": f"Næringseiendom {kommune.senter} AS (syntetisk)",
                    "kommunenummer": kommune.nummer,
                    "geometry": shapely.Point(x, y),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
