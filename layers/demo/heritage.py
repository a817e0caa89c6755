"""Cultural heritage: Askeladden-style sites on farmland, in the mountains and next to zoning."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.demo.common import CRS, REGION_EXTENT
from layers.demo.geometry import project, star_polygons, weighted_choice
from layers.demo.region import Region

# fmt: off
_HERITAGE_FARM = ("Gravhaug", "Gravrøys", "Gravfelt", "Bosetningsspor", "Kokegrop", "Kullgrop", "Jernvinneanlegg",
                  "Hulvei", "Tuft", "Rydningsrøys", "Helleristning", "Dyrkingsspor")
_HERITAGE_FJELL = ("Fangstgrop", "Dyregrav", "Fangstanlegg", "Kullgrop", "Jernvinneanlegg", "Buplass")
_HERITAGE_NYERE = ("Gårdstun", "Stabbur", "Seterbu", "Sagbruk", "Kraftstasjon", "Gruveanlegg", "Kvernhus")
_DATERING_FORREF = ("Steinalder", "Bronsealder", "Jernalder", "Eldre jernalder", "Yngre jernalder", "Vikingtid",
                    "Middelalder", "Førreformatorisk tid", "Jernalder - middelalder")
_DATERING_ETTERREF = ("Etterreformatorisk tid", "1600-1699", "1700-1799", "1800-1899", "1900-1999")
_VERNETYPE_MIX = (("AUT", 70), ("UAV", 7), ("IKKE", 7), ("FJE", 5), ("LIST", 5), ("VED", 4), ("FOR", 2))
# fmt: on
# Named monuments: navn, vernetype, datering, lat, lon.
_NAMED_HERITAGE: tuple[tuple[str, str, str, float, float], ...] = (
    ("Heddal stavkirke", "AUT", "Middelalder", 59.5796, 9.1741),
    ("Flesberg stavkirke", "AUT", "Middelalder", 59.8540, 9.4400),
    ("Rollag stavkirke", "AUT", "Middelalder", 60.0190, 9.2850),
    ("Nore stavkirke", "AUT", "Middelalder", 60.1650, 9.0120),
    ("Uvdal stavkirke", "AUT", "Middelalder", 60.2730, 8.7430),
    ("Kongsberg kirke", "LIST", "1700-1799", 59.6685, 9.6500),
    ("Vemork kraftstasjon", "WHS", "1900-1999", 59.8720, 8.4970),
)


def kulturminner_frame(
    region: Region, ar5: gpd.GeoDataFrame, arealplan: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Heritage sites: many on farmland, fangstgroper in the mountains, some right next to zoning."""
    # On farmland (most automatically protected sites in the region are found on cultivated land).
    farm = ar5.geometry.to_numpy()[np.isin(ar5["arealtype"].to_numpy(), (21, 22, 23))]
    pick = rng.choice(len(farm), size=min(850, len(farm)), replace=False)
    farm_pts = shapely.get_coordinates(shapely.point_on_surface(farm[pick])) + rng.uniform(
        -25, 25, (len(pick), 2)
    )

    # Mountains: outfield far from settlements.
    cand = np.column_stack(
        [
            rng.uniform(REGION_EXTENT[0], REGION_EXTENT[2], 4000),
            rng.uniform(REGION_EXTENT[1], REGION_EXTENT[3], 4000),
        ]
    )
    cand = cand[region.pull(cand[:, 0], cand[:, 1]) < 0.01][:260]

    # Next to zoning: a boundary point of a building plot moved 0–50 m in a random direction.
    building = arealplan.geometry.to_numpy()[(arealplan["arealformal"].to_numpy() < 2000)]
    near = rng.choice(len(building), size=160, replace=False)
    boundary_pts = shapely.line_interpolate_point(
        shapely.boundary(building[near]), rng.uniform(0, 1, 160), normalized=True
    )
    ang, dist = rng.uniform(0, 2 * np.pi, 160), rng.uniform(0, 50, 160)
    near_pts = (
        shapely.get_coordinates(boundary_pts) + np.column_stack([np.cos(ang), np.sin(ang)]) * dist[:, None]
    )

    xy = np.vstack([farm_pts, cand, near_pts])
    group = np.concatenate([np.zeros(len(farm_pts)), np.ones(len(cand)), np.full(len(near_pts), 2)]).astype(
        int
    )
    xy = np.clip(xy, np.array(REGION_EXTENT[:2]) + 100, np.array(REGION_EXTENT[2:]) - 100)

    n = len(xy)
    vernetype = weighted_choice(_VERNETYPE_MIX, rng.random(n)).astype(object)
    vernetype[group == 1] = np.where(rng.random((group == 1).sum()) < 0.9, "AUT", "UAV")
    pre_reformation = np.isin(vernetype, ("AUT", "FJE", "UAV"))
    navn = np.where(
        group == 1,
        rng.choice(_HERITAGE_FJELL, n),
        np.where(pre_reformation, rng.choice(_HERITAGE_FARM, n), rng.choice(_HERITAGE_NYERE, n)),
    ).astype(object)
    datering = np.where(pre_reformation, rng.choice(_DATERING_FORREF, n), rng.choice(_DATERING_ETTERREF, n))
    datering = np.where(
        group == 1,
        rng.choice(
            ("Jernalder - middelalder", "Sein steinbrukende tid", "Middelalder", "Yngre jernalder"), n
        ),
        datering,
    ).astype(object)

    # A share of the sites are mapped as small polygons (gravfelt, tufter, anlegg).
    as_polygon = rng.random(n) < 0.18
    radius = rng.uniform(12.0, 70.0, n)
    polys = star_polygons(xy[:, 0], xy[:, 1], radius, rng, vertices=9, fill=(0.7, 1.0), square=False)
    geoms = np.where(as_polygon, polys, shapely.points(xy))

    named_xy = project([(h[3], h[4]) for h in _NAMED_HERITAGE])
    geoms = np.concatenate([shapely.points(named_xy), geoms])
    navn = np.concatenate([[h[0] for h in _NAMED_HERITAGE], navn])
    vernetype = np.concatenate([[h[1] for h in _NAMED_HERITAGE], vernetype])
    datering = np.concatenate([[h[2] for h in _NAMED_HERITAGE], datering])
    ids = rng.choice(np.arange(10_000, 300_000), size=len(geoms), replace=False)
    return gpd.GeoDataFrame(
        {
            "kulturminne_id": [str(i) for i in ids],
            "navn": navn.astype(str),
            "vernetype": vernetype.astype(str),
            "datering": datering.astype(str),
        },
        geometry=geoms,
        crs=CRS,
    )
