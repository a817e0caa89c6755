"""The facts that sell a site: distance to the nearest town centre, main road and railway (working CRS, m).

All distances are shortest distances from the site polygon's edge (0 when the site touches or holds the
target), computed with STRtree nearest-neighbour queries: no Python loop per site.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from maps.styles import MAIN_ROADS

_ROAD_PREFIX = {"E": "E", "R": "Rv. ", "F": "Fv. "}


@dataclass(frozen=True)
class Centres:
    """Town centres: names and points (working CRS)."""

    names: np.ndarray
    points: np.ndarray

    @classmethod
    def from_municipalities(cls, kommuner: gpd.GeoDataFrame) -> Centres:
        """``senter_navn``/``senter_x``/``senter_y`` of a municipality layer when present, else each
        municipality's name at a point inside its polygon."""
        if {"senter_x", "senter_y"} <= set(kommuner.columns):
            xy = kommuner[["senter_x", "senter_y"]].to_numpy(dtype=float)
            ok = np.isfinite(xy).all(axis=1)
            names_col = "senter_navn" if "senter_navn" in kommuner.columns else "kommunenavn"
            names = kommuner[names_col].astype(str).to_numpy() if names_col in kommuner.columns \
                else np.array([""] * len(kommuner))
            return cls(names[ok], shapely.points(xy[ok]))
        names = kommuner["kommunenavn"].astype(str).to_numpy() if "kommunenavn" in kommuner.columns \
            else np.array([""] * len(kommuner))
        return cls(names, shapely.point_on_surface(kommuner.geometry.values))


def nearest(geoms: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each geometry: the index of its nearest target and the distance (m); -1/NaN with no targets."""
    n = len(geoms)
    index = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.nan)
    if n == 0 or len(targets) == 0:
        return index, dist
    tree = shapely.STRtree(targets)
    (qi, ti), d = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    index[qi] = ti
    dist[qi] = d
    return index, dist


def road_label(vegkategori: object, vegnummer: object) -> str:
    """``E134``, ``Rv. 40``, ``Fv. 8``; empty for a municipal road or a missing number."""
    kat = str(vegkategori or "")
    if kat not in _ROAD_PREFIX or vegnummer is None or pd.isna(vegnummer):
        return ""
    return f"{_ROAD_PREFIX[kat]}{int(vegnummer)}"


def site_facts(sites: gpd.GeoDataFrame, centres: Centres | None, roads: gpd.GeoDataFrame | None,
               railways: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """Per site: ``centre_name``, ``centre_km``, ``road_label``, ``road_km``, ``rail_km`` (NaN/"" when unknown).

    Roads are the main roads (vegkategori E, R, F) when the layer has a ``vegkategori`` column and any main
    road; otherwise every road.
    """
    geoms = sites.geometry.values
    out = pd.DataFrame(index=sites.index)
    if centres is not None and len(centres.points):
        i, d = nearest(geoms, centres.points)
        out["centre_name"] = np.where(i >= 0, centres.names[np.maximum(i, 0)], "")
        out["centre_km"] = d / 1000.0
    else:
        out["centre_name"], out["centre_km"] = "", np.nan
    if roads is not None and len(roads):
        main = roads
        if "vegkategori" in roads.columns:
            is_main = roads["vegkategori"].astype(str).isin(MAIN_ROADS).to_numpy()
            if is_main.any():
                main = roads[is_main]
        i, d = nearest(geoms, main.geometry.values)
        kat = main["vegkategori"].to_numpy() if "vegkategori" in main.columns else np.full(len(main), None)
        num = main["vegnummer"].to_numpy() if "vegnummer" in main.columns else np.full(len(main), None)
        out["road_label"] = [road_label(kat[j], num[j]) if j >= 0 else "" for j in i]
        out["road_km"] = d / 1000.0
    else:
        out["road_label"], out["road_km"] = "", np.nan
    if railways is not None and len(railways):
        _, d = nearest(geoms, railways.geometry.values)
        out["rail_km"] = d / 1000.0
    else:
        out["rail_km"] = np.nan
    return out
