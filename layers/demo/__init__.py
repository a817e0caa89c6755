"""Deterministic synthetic demo data for Kongsbergregionen.

``build_demo_layers()`` returns the demo layers (kommuner, arealplan, vassdrag, ar5, kulturminner, veg,
flomsoner) in EPSG:25832 inside the region extent. Names, codes and municipality numbers are real; every geometry
and every attribute combination is *generated* and is not real planning data. The layers are built so that the
rule engine has work to do: business areas (existing, land reserves, regulated) lie on farmland, near rivers
and near heritage sites.

One module per theme (``region``, ``water``, ``zoning``, ``farmland``, ``heritage``, ``roads``, ``flood``) builds
its frame; ``common`` holds the labelling and ``geometry`` the shared helpers. This module only wires them up.

Same seed -> identical output (``numpy.random.default_rng``; one child generator per layer). Everything
heavy is vectorised with numpy and shapely 2 array functions; the whole build takes a few seconds.
"""

from __future__ import annotations

import numpy as np

from layers.demo.common import ATTRIBUTION, CRS, DESCRIPTION_PREFIX, REGION_EXTENT, DemoLayer, demo_layer
from layers.demo.farmland import ar5_frame
from layers.demo.flood import flomsoner_frame
from layers.demo.heritage import kulturminner_frame
from layers.demo.region import Region, kommuner_frame
from layers.demo.roads import veg_frame
from layers.demo.water import lakes_frame, river_courses, vassdrag_frame
from layers.demo.zoning import arealplan_frame

__all__ = [
    "ATTRIBUTION",
    "CRS",
    "DESCRIPTION_PREFIX",
    "REGION_EXTENT",
    "DemoLayer",
    "build_demo_layers",
]


def build_demo_layers(seed: int = 2005) -> list[DemoLayer]:
    """Build all synthetic demo layers for Kongsbergregionen; same ``seed`` gives identical output."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    region = Region.build()
    kommuner = kommuner_frame(region)
    rivers = river_courses(region, rngs[0])
    lakes = lakes_frame(region, rngs[1])
    vassdrag = vassdrag_frame(region, rivers, lakes, rngs[2])
    arealplan = arealplan_frame(region, rivers, lakes, rngs[3])
    ar5 = ar5_frame(region, rivers, lakes, rngs[4])
    kulturminner = kulturminner_frame(region, ar5, arealplan, rngs[5])
    veg = veg_frame(region, rngs[6])
    flomsoner = flomsoner_frame(region, rivers, rngs[7])
    return [
        demo_layer(
            "kommuner",
            "municipality",
            "Kommuner (syntetisk)",
            "the seven core municipalities of Kongsbergregionen with real 2024 numbers and names; "
            "boundaries are a Voronoi partition of approximate centre points, not the real borders.",
            kommuner,
        ),
        demo_layer(
            "arealplan",
            "zoning",
            "Arealplaner – kommuneplan og reguleringsplan (syntetisk)",
            "kommuneplan and reguleringsplan arealformål polygons with real SOSI codes, plan status and "
            "named business areas; the polygons, plan ids and felt names are generated.",
            arealplan,
        ),
        demo_layer(
            "vassdrag",
            "watercourse",
            "Vassdrag – elver, bekker og innsjøer (syntetisk)",
            "rivers, streams and lakes with some real names and verneplan numbers; courses are "
            "random walks along the main valleys, not the real watercourses.",
            vassdrag,
        ),
        demo_layer(
            "ar5",
            "farmland",
            "AR5 arealressurser (syntetisk)",
            "AR5 arealtype tessellation (fulldyrka, overflatedyrka, innmarksbeite, skog …) generated "
            "around settlements and valley bottoms; not NIBIO data.",
            ar5,
        ),
        demo_layer(
            "kulturminner",
            "heritage",
            "Kulturminner (syntetisk)",
            "heritage points and small polygons with Askeladden-style vernetype and datering; "
            "positions, ids and most names are generated, not Riksantikvaren data.",
            kulturminner,
        ),
        demo_layer(
            "veg",
            "road",
            "Vegnett (syntetisk)",
            "road centre lines with vegkategori and vegnummer loosely following the real main roads; "
            "geometry is generated, not NVDB data.",
            veg,
        ),
        demo_layer(
            "flomsoner",
            "flood",
            "Flomsoner – 200-årsflom (syntetisk)",
            "NVE-style flood zones (200-year flood) along the main rivers where they pass towns and villages, "
            "as a flomsonekart covers selected stretches only; widths are generated, not NVE data.",
            flomsoner,
        ),
    ]
