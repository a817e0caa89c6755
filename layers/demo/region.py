"""Region facts (real names and numbers, approximate positions), settlement pull and municipalities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import shapely

from layers.demo.common import CRS, REGION_EXTENT, Floats, Geoms, Ints, LatLon
from layers.demo.geometry import project

KONGSBERG_TOWN: tuple[float, float] = (536_616.0, 6_614_840.0)


class _Kommune(NamedTuple):
    nummer: str
    navn: str
    senter: str
    senter_latlon: LatLon
    spread: float  # how far the settlement pull reaches (m)


KOMMUNER: tuple[_Kommune, ...] = (
    _Kommune("3303", "Kongsberg", "Kongsberg", (59.67, 9.65), 3000.0),
    _Kommune("3334", "Flesberg", "Lampeland", (59.85, 9.43), 1500.0),
    _Kommune("3336", "Rollag", "Rollag", (60.00, 9.27), 1400.0),
    _Kommune("3338", "Nore og Uvdal", "Rødberg", (60.27, 8.95), 1500.0),
    _Kommune("4005", "Notodden", "Notodden", (59.56, 9.26), 2500.0),
    _Kommune("4024", "Hjartdal", "Sauland", (59.60, 8.97), 1400.0),
    _Kommune("4026", "Tinn", "Rjukan", (59.88, 8.59), 1800.0),
)

# Smaller settlements (bygder) that pull zoning and farmland.
_BYGDER: tuple[LatLon, ...] = (
    (59.49, 9.97),  # Hvittingfoss
    (59.64, 9.55),  # Saggrenda
    (59.76, 9.53),  # Svene
    (60.04, 9.16),  # Veggli
    (60.16, 9.03),  # Nore
    (60.27, 8.74),  # Uvdal
    (59.58, 9.17),  # Heddal
    (59.73, 9.01),  # Gransherad
    (59.62, 8.72),  # Hjartdal
    (59.73, 8.83),  # Tuddal
    (59.93, 8.80),  # Mæl
    (59.98, 8.78),  # Atrå
    (59.87, 8.75),  # Miland
)


@dataclass(frozen=True)
class Region:
    """Centres, settlement pull and municipality polygons shared by all generators."""

    centres: Floats  # (7, 2)
    municipalities: Geoms  # (7,) polygons, same order as KOMMUNER
    settlements: Floats  # (m, 2) centres then bygder
    weight: Floats  # (m,)
    spread: Floats  # (m,)
    box: shapely.Polygon

    @classmethod
    def build(cls) -> Region:
        """Project centre points and partition the extent into Voronoi municipalities."""
        centres = project([k.senter_latlon for k in KOMMUNER])
        centres[0] = KONGSBERG_TOWN
        box = shapely.box(*REGION_EXTENT)
        cells = shapely.voronoi_polygons(shapely.multipoints(centres), extend_to=box, ordered=True)
        municipalities = shapely.clip_by_rect(shapely.get_parts(cells), *REGION_EXTENT)
        bygder = project(_BYGDER)
        settlements = np.vstack([centres, bygder])
        weight = np.concatenate([np.ones(len(centres)), np.full(len(bygder), 0.7)])
        spread = np.concatenate([[k.spread for k in KOMMUNER], np.full(len(bygder), 900.0)])
        return cls(centres, municipalities, settlements, weight, spread, box)

    def pull(self, x: Floats, y: Floats) -> Floats:
        """Settlement intensity in [0, 1]: 1 at a town centre, fading with distance."""
        d2 = (x[:, None] - self.settlements[:, 0]) ** 2 + (y[:, None] - self.settlements[:, 1]) ** 2
        return (self.weight * np.exp(-0.5 * d2 / self.spread**2)).max(axis=1)

    def nearest_settlement(self, x: Floats, y: Floats) -> Floats:
        """Distance to the nearest settlement centre (m)."""
        d2 = (x[:, None] - self.settlements[:, 0]) ** 2 + (y[:, None] - self.settlements[:, 1]) ** 2
        return np.sqrt(d2.min(axis=1))

    def municipality_of(self, x: Floats, y: Floats) -> Ints:
        """Index into KOMMUNER of the Voronoi municipality containing each point (= nearest centre)."""
        d2 = (x[:, None] - self.centres[:, 0]) ** 2 + (y[:, None] - self.centres[:, 1]) ** 2
        return d2.argmin(axis=1)


def kommuner_frame(region: Region) -> gpd.GeoDataFrame:
    """The seven member municipalities with real numbers and names."""
    return gpd.GeoDataFrame(
        {
            "kommunenummer": [k.nummer for k in KOMMUNER],
            "kommunenavn": [k.navn for k in KOMMUNER],
            "senter_navn": [k.senter for k in KOMMUNER],
            "senter_x": np.round(region.centres[:, 0], 1),
            "senter_y": np.round(region.centres[:, 1], 1),
        },
        geometry=region.municipalities,
        crs=CRS,
    )
