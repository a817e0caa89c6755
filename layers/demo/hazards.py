"""SYNTHETIC hazard and cultivable-land layers with their declared coverage (issue 14).

* ``flomsoner-1000``: 1000-year flood zones (wider than the 200-year ones) on the same analysed reaches;
* ``flomsoner-dekning``: the analysed river stretches (kind ``coverage``, ``covers = flood``): flood-zone maps
  say nothing outside them;
* ``aktsomhet-flom``: NVE-style flood awareness areas along every main river (national map: covers the region);
* ``faresoner-skred``: quick-clay / landslide hazard zones near some settlements, with the assessed areas
  (``covers = landslide``);
* ``aktsomhet-skred``: landslide awareness areas on valley sides (national map: covers the region);
* ``dyrkbar-jord``: NIBIO-style cultivable land: AR5 forest (30) cells near valleys (covers the region).
Nothing here is real NVE or NIBIO data.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.demo.common import CRS, DemoLayer, demo_layer
from layers.demo.region import Region
from layers.demo.water import Rivers

_REACH_KM = 4.0  # the same analysed reaches as the 200-year flood zones (layers.demo.flood)


def hazard_layers(region: Region, rivers: Rivers, ar5: gpd.GeoDataFrame, rng: np.random.Generator) -> list[DemoLayer]:
    """The synthetic hazard, cultivable-land and coverage layers."""
    area = shapely.union_all(region.municipalities)
    reaches = rivers.reaches
    mid = shapely.line_interpolate_point(reaches, 0.5, normalized=True)
    analysed = reaches[region.nearest_settlement(shapely.get_x(mid), shapely.get_y(mid)) < _REACH_KM * 1000]
    f1000 = shapely.intersection(shapely.buffer(analysed, rng.uniform(170.0, 260.0, len(analysed)), quad_segs=4),
                                 region.box)
    stretches = shapely.intersection(shapely.buffer(analysed, 600.0, quad_segs=4), region.box)
    awareness = shapely.intersection(shapely.buffer(reaches, rng.uniform(80.0, 220.0, len(reaches)), quad_segs=4),
                                     region.box)
    # quick clay below the marine limit near a few settlements; the assessed area is 3 km around each
    towns = region.settlements[rng.random(len(region.settlements)) < 0.35]
    assessed = shapely.buffer(shapely.points(towns), 3_000.0, quad_segs=8)
    offsets = rng.uniform(-2_000, 2_000, (len(towns), 2))
    clay = shapely.buffer(shapely.points(towns + offsets), rng.uniform(150.0, 450.0, len(towns)), quad_segs=6)
    # awareness areas on valley sides: rings 400-700 m from the main rivers, in patches
    side = shapely.difference(shapely.buffer(reaches, 700.0, quad_segs=4), shapely.buffer(reaches, 400.0, quad_segs=4))
    patches = rng.random(len(side)) < 0.3
    slide_aw = shapely.intersection(side[patches], region.box)
    forest = ar5[(ar5["arealtype"] == 30).to_numpy()]
    cx, cy = shapely.get_x(forest.geometry.centroid.to_numpy()), shapely.get_y(forest.geometry.centroid.to_numpy())
    cultivable = forest.geometry.to_numpy()[(rivers.distance(cx, cy, 2_000.0) < 1_200.0)
                                            & (rng.random(len(forest)) < 0.5)]

    def frame(geoms: np.ndarray, **cols: object) -> gpd.GeoDataFrame:
        geoms = np.asarray(geoms, dtype=object)
        geoms = geoms[~shapely.is_empty(geoms)]
        return gpd.GeoDataFrame({k: [v] * len(geoms) for k, v in cols.items()}, geometry=geoms, crs=CRS)

    def covers(parts: list[tuple[str, object]]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame({"covers": [c for c, _ in parts]}, geometry=[g for _, g in parts], crs=CRS)

    return [
        demo_layer("flomsoner-1000", "flood", "Flomsoner – 1000-årsflom (syntetisk)",
                   "NVE-style 1000-year flood zones on the analysed reaches; widths are generated.",
                   frame(f1000, gjentaksintervall=1000)),
        demo_layer("aktsomhet-flom", "flood_awareness", "Aktsomhetsområder for flom (syntetisk)",
                   "NVE-style flood awareness areas along every main river; generated.", frame(awareness)),
        demo_layer("faresoner-skred", "landslide", "Faresoner kvikkleire og skred (syntetisk)",
                   "NVE-style quick-clay hazard zones near some settlements; positions are random.",
                   frame(clay, skredtype="kvikkleire")),
        demo_layer("aktsomhet-skred", "landslide_awareness", "Aktsomhetsområder for skred (syntetisk)",
                   "NVE-style landslide awareness patches on valley sides; generated.", frame(slide_aw)),
        demo_layer("dyrkbar-jord", "cultivable_land", "Dyrkbar jord (syntetisk)",
                   "NIBIO-style cultivable land: half the AR5 forest cells near the main rivers; generated.",
                   frame(cultivable)),
        demo_layer("dekning", "coverage", "Kartlagt område per tema (syntetisk)",
                   "declared coverage: the analysed river stretches (flood), the assessed quick-clay areas "
                   "(landslide) and the region for the national awareness and cultivable-land maps.",
                   covers([("flood", shapely.union_all(stretches)), ("landslide", shapely.union_all(assessed)),
                           ("flood_awareness", area), ("landslide_awareness", area), ("cultivable_land", area)])),
    ]
