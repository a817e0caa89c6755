"""Fixtures for the constraint engine. Geometry here is synthetic, built in code in EPSG:25832 (metres)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import pytest
import shapely
from shapely.geometry.base import BaseGeometry

from constraints.inputs import ConstraintLayer
from constraints.rules import RuleSet, load_rules

CRS = "EPSG:25832"
WORLD = shapely.box(-10_000, -10_000, 10_000, 10_000)  # synthetic coverage around the test geometry


def frame(geoms: Sequence[BaseGeometry], fids: Sequence[int] | None = None, crs: str = CRS,
          **columns: Sequence[Any]) -> gpd.GeoDataFrame:
    """A small GeoDataFrame with an explicit CRS and integer fids as index."""
    index = list(fids) if fids is not None else list(range(len(geoms)))
    return gpd.GeoDataFrame(dict(columns), geometry=list(geoms), crs=crs, index=index)


def zoning(geoms: Sequence[BaseGeometry], *, arealformal: Sequence[int], plantype: str | Sequence[str | None] =
           "kommuneplan", planstatus: int | Sequence[int | None] = 3, arealbruksstatus: int | Sequence[
               int | None] = 2, kommunenummer: str | Sequence[str | None] = "3303",
           fids: Sequence[int] | None = None, crs: str = CRS) -> gpd.GeoDataFrame:
    """Synthetic zoning areas with the canonical columns."""
    n = len(geoms)

    def many(v: Any) -> list[Any]:
        return list(v) if isinstance(v, (list, tuple)) else [v] * n

    return frame(geoms, fids, crs, arealformal=list(arealformal), plantype=many(plantype),
                 planstatus=many(planstatus), arealbruksstatus=many(arealbruksstatus),
                 kommunenummer=many(kommunenummer), planid=[f"plan-{i}" for i in range(n)])


def layer(layer_id: str, kind: str, gdf: gpd.GeoDataFrame, coverage: BaseGeometry | None = WORLD,
          version: int = 1) -> ConstraintLayer:
    """A constraint layer; a synthetic watercourse layer says "none protected" (an empty ``verneplan`` column)
    unless it has one, since a layer without the column is NOT_MAPPED for protected watercourses."""
    if kind == "watercourse" and "verneplan" not in gdf.columns:
        gdf = gdf.assign(verneplan=None)
    return ConstraintLayer(layer_id, kind, gdf, coverage=coverage, version=version)


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture
def empty_layers() -> Callable[..., dict[str, ConstraintLayer]]:
    """Every constraint kind present with full coverage and no features, so only the layer under test hits."""

    def make(**replace: ConstraintLayer) -> dict[str, ConstraintLayer]:
        base = {
            "farmland": layer("farmland", "farmland", frame([], arealtype=[])),
            "heritage": layer("heritage", "heritage", frame([], vernetype=[])),
            "watercourse": layer("watercourse", "watercourse", frame([])),
            "flood": layer("flood", "flood", frame([], gjentaksintervall=[])),
            "road": layer("road", "road", frame([], vegkategori=[])),
            "cultivable": layer("cultivable", "cultivable_land", frame([])),
            "flood_awareness": layer("flood_awareness", "flood_awareness", frame([])),
            "landslide": layer("landslide", "landslide", frame([])),
            "landslide_awareness": layer("landslide_awareness", "landslide_awareness", frame([])),
        }
        for key, value in replace.items():
            base[key] = value
        return {v.id: v for v in base.values()}

    return make
