"""Transport hubs: rail stations, airports and ports as points (real names, approximate positions)."""

from __future__ import annotations

import geopandas as gpd

from layers.demo.common import CRS
from layers.demo.geometry import project

# navn, type, IATA (airports), lat, lon. Torp, Gardermoen and the ports lie outside the region on purpose:
# investors ask for them, and drive times to them leave the regional road network (see sites.network).
HUBS: tuple[tuple[str, str, str | None, float, float], ...] = (
    ("Kongsberg stasjon", "jernbanestasjon", None, 59.6697, 9.6486),
    ("Notodden stasjon", "jernbanestasjon", None, 59.5605, 9.2630),
    ("Nordagutu stasjon", "jernbanestasjon", None, 59.4195, 9.3213),
    ("Notodden lufthavn, Tuven", "lufthavn", "NTB", 59.5657, 9.2122),
    ("Sandefjord lufthavn, Torp", "lufthavn", "TRF", 59.1867, 10.2586),
    ("Oslo lufthavn, Gardermoen", "lufthavn", "OSL", 60.1939, 11.1004),
    ("Drammen havn", "havn", None, 59.7377, 10.2238),
    ("Grenland havn, Brevik", "havn", None, 59.0530, 9.7000),
)


def transport_frame() -> gpd.GeoDataFrame:
    """Stations, airports and ports with ``type`` jernbanestasjon / lufthavn / havn."""
    xy = project([(lat, lon) for *_, lat, lon in HUBS])
    return gpd.GeoDataFrame(
        {
            "navn": [h[0] for h in HUBS],
            "type": [h[1] for h in HUBS],
            "iata": [h[2] for h in HUBS],
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=CRS,
    )
