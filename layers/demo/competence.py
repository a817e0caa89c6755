"""Competence environments and services (``poi``): technology parks, campuses, clusters, business gardens."""

from __future__ import annotations

import geopandas as gpd

from layers.demo.common import CRS
from layers.demo.geometry import project

# navn, kategori, lat, lon. Places are real; names marked "(syntetisk)" are invented examples of a category.
POIS: tuple[tuple[str, str, float, float], ...] = (
    ("Kongsberg Teknologipark", "teknologipark", 59.6634, 9.6446),
    ("Universitetet i Sørøst-Norge, campus Kongsberg", "universitet/høgskole", 59.6621, 9.6420),
    ("Universitetet i Sørøst-Norge, campus Notodden", "universitet/høgskole", 59.5612, 9.2560),
    ("NCE Systems Engineering, Kongsberg", "næringsklynge", 59.6642, 9.6468),
    ("Kongsberg Innovasjon", "næringshage", 59.6651, 9.6479),
    ("Forskningslaboratorium for energisystemer (syntetisk)", "forskningsinstitutt", 59.6610, 9.6380),
    ("Hydroparken, Notodden", "teknologipark", 59.5640, 9.2700),
    ("Notodden næringshage (syntetisk)", "næringshage", 59.5598, 9.2590),
    ("Rjukan næringshage (syntetisk)", "næringshage", 59.8790, 8.5945),
    ("Industriklynge prosess og energi, Rjukan (syntetisk)", "næringsklynge", 59.8770, 8.6050),
    ("Numedal næringshage, Rødberg (syntetisk)", "næringshage", 60.2700, 8.9480),
    ("Flesberg næringsforum (syntetisk)", "næringshage", 59.8510, 9.4320),
    ("Kongsberg sykehus", "sykehus", 59.6600, 9.6330),
    ("Notodden sykehus", "sykehus", 59.5580, 9.2480),
)


def poi_frame() -> gpd.GeoDataFrame:
    """Competence environments and services as points with a ``kategori``."""
    xy = project([(lat, lon) for *_, lat, lon in POIS])
    return gpd.GeoDataFrame(
        {"navn": [p[0] for p in POIS], "kategori": [p[1] for p in POIS]},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=CRS,
    )
