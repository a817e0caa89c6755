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

import geopandas as gpd
import numpy as np

from layers.demo.common import ATTRIBUTION, CRS, DESCRIPTION_PREFIX, REGION_EXTENT, DemoLayer, demo_layer
from layers.demo.competence import poi_frame
from layers.demo.farmland import ar5_frame
from layers.demo.flood import flomsoner_frame
from layers.demo.hazards import hazard_layers
from layers.demo.heritage import kulturminner_frame
from layers.demo.infrastructure import broadband_frame, substations_frame
from layers.demo.population import population_frame
from layers.demo.premises import premises_frame
from layers.demo.region import Region, kommuner_frame
from layers.demo.roads import veg_frame
from layers.demo.transport import transport_frame
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
    # One child generator per layer; spawning more children leaves the first ones unchanged.
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12)]
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
    hazards = hazard_layers(region, rivers, ar5, np.random.default_rng([seed, 14]))
    return [
        *_core_layers(kommuner, arealplan, vassdrag, ar5, kulturminner, veg, flomsoner),
        *_portfolio_layers(region, rngs[8:]),
        *hazards,
    ]


def _portfolio_layers(region: Region, rngs: list[np.random.Generator]) -> list[DemoLayer]:
    """The site-portfolio layers: premises, power, broadband, competence, transport and population."""
    return [
        demo_layer(
            "ledige-lokaler",
            "premises",
            "Ledige lokaler og bygg (syntetisk)",
            "premises for sale or rent (address, use, floor and plot area, price or rent, available from, contact) "
            "around the region's towns; addresses, figures and owners are invented.",
            premises_frame(region, rngs[0]),
        ),
        demo_layer(
            "nettkapasitet",
            "power",
            "Ledig nettkapasitet – transformatorstasjoner (syntetisk)",
            "substations with free grid capacity in MW and voltage; positions, capacities and grid owner are "
            "invented, not the grid owner's capacity map.",
            substations_frame(region, rngs[1]),
        ),
        demo_layer(
            "bredband",
            "broadband",
            "Bredbåndsdekning (syntetisk)",
            "broadband coverage in 1 km squares with technology (fiber, FWA, DSL) and speed class; "
            "not Nkom's coverage data.",
            broadband_frame(region, rngs[2]),
        ),
        demo_layer(
            "kompetansemiljoer",
            "poi",
            "Kompetansemiljøer og tjenester (syntetisk)",
            "technology parks, campuses, clusters, business gardens and hospitals with a category; real places "
            "at approximate positions, and invented examples marked (syntetisk).",
            poi_frame(),
        ),
        demo_layer(
            "knutepunkter",
            "transport",
            "Knutepunkter – jernbane, flyplass, havn (syntetisk)",
            "rail stations, airports (Notodden, Sandefjord Torp, Oslo Gardermoen) and ports as points at "
            "approximate positions.",
            transport_frame(),
        ),
        demo_layer(
            "befolkning",
            "population",
            "Befolkning på rutenett 1 km (syntetisk)",
            "residents (pop_tot) and employed persons (sysselsatte) on SSB's 1 km grid (ssbid), spread around "
            "the towns with municipal totals of the right order; not SSB's statistics.",
            population_frame(region, rngs[3]),
        ),
    ]


def _core_layers(
    kommuner: gpd.GeoDataFrame,
    arealplan: gpd.GeoDataFrame,
    vassdrag: gpd.GeoDataFrame,
    ar5: gpd.GeoDataFrame,
    kulturminner: gpd.GeoDataFrame,
    veg: gpd.GeoDataFrame,
    flomsoner: gpd.GeoDataFrame,
) -> list[DemoLayer]:
    """The planning layers: municipalities, zoning and the constraint layers."""
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
