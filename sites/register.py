"""The site register: every available business area and premises record with the facts an investor asks for.

Pure functions over frames (working CRS); ``sites.publish`` reads them from the store and publishes the result.
One row per site, flat columns (numbers stay numbers, so search and CQL2 can range over them):

* identity: ``site_id``, ``site_type`` (business-area / premises), ``navn``, ``kommunenummer``, ``kommunenavn``
* planning: ``area_daa``, ``net_available_daa``, ``arealformal``, ``formalnavn``, ``planstatus``,
  ``business_status``, ``objection_risk``, ``objection_summary``, ``red_rules``
* premises: ``adresse``, ``bruk``, ``bruksareal_m2``, ``tomt_m2``, ``pris``, ``leie``, ``ledig_fra``, ``kontakt``
* access by road (fastest route, minutes; shortest route, km): ``main_road_*`` (nearest E-road / riksveg junction,
  ``main_road`` its number), ``rail_station_*``, ``airport_*``, ``port_*``, ``town_centre_*`` with the name
* power: ``substation_km`` (straight line), ``substation``, ``substation_free_mw``
* broadband: ``fibre`` (bool), ``speed_mbit``, ``speed_class``
* workforce: ``population_30min`` / ``employed_30min`` … per configured minutes
* competence: ``competence_10km_count`` / ``competence_10km`` (names, "; "-joined) … per configured radius
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.codes import KP_AREALFORMAL, RP_AREALFORMAL
from layers.crs import WORKING_EPSG
from layers.kinds import fold
from sites.config import SitesConfig
from sites.drive_time import workforce
from sites.errors import RoutingError
from sites.network import RoadNetwork, Snap, build_network

BUSINESS_AREA, PREMISES = "business-area", "premises"
HUB_TYPES: dict[str, tuple[str, ...]] = {  # folded words in a transport feature's ``type`` -> hub class
    "rail_station": ("jernbane", "stasjon", "rail", "togstasjon", "station"),
    "airport": ("lufthavn", "flyplass", "airport"),
    "port": ("havn", "port", "kai", "harbour"),
}
SPEED_CLASSES: tuple[tuple[float, str], ...] = (
    (1000.0, "≥ 1000 Mbit/s"), (100.0, "100–999 Mbit/s"), (30.0, "30–99 Mbit/s"), (0.0, "< 30 Mbit/s"),
)


@dataclass(frozen=True)
class PortfolioFrames:
    """The input layers of the register, each already joined across layers of its kind (working CRS)."""

    business: gpd.GeoDataFrame | None = None  # the derived business-areas collection
    risk: gpd.GeoDataFrame | None = None  # the derived objection-risk collection
    zoning: gpd.GeoDataFrame | None = None  # for names and formål names of business zones
    premises: gpd.GeoDataFrame | None = None  # with ``source_layer`` and ``source_fid``
    power: gpd.GeoDataFrame | None = None
    broadband: gpd.GeoDataFrame | None = None
    poi: gpd.GeoDataFrame | None = None
    transport: gpd.GeoDataFrame | None = None
    population: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    municipalities: gpd.GeoDataFrame | None = None


def speed_class(mbit: float | None) -> str | None:
    """Nkom's speed band of a download speed, or None when unknown."""
    if mbit is None or not np.isfinite(mbit):
        return None
    return next(label for floor, label in SPEED_CLASSES if mbit >= floor)


def build_register(frames: PortfolioFrames, config: SitesConfig,
                   network: RoadNetwork | None = None) -> gpd.GeoDataFrame:
    """One row per site with every fact; ``network`` is built from ``frames.roads`` when not given."""
    parts = [p for p in (_business_sites(frames, config), _premises_sites(frames)) if len(p)]
    if not parts:  # no business area with an offered status and no premises: an empty register
        return gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=f"EPSG:{WORKING_EPSG}")
    sites = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=f"EPSG:{WORKING_EPSG}")
    _municipality(sites, frames.municipalities)
    anchor = shapely.point_on_surface(sites.geometry.to_numpy())
    ax, ay = shapely.get_x(anchor), shapely.get_y(anchor)
    if network is None and frames.roads is not None and not frames.roads.empty:
        try:
            network = build_network(frames.roads, config.routing)
        except RoutingError:
            network = None
    _access(sites, ax, ay, network, frames)
    _power(sites, frames.power)
    _broadband(sites, frames.broadband, config)
    _workforce(sites, ax, ay, network, frames.population, config)
    _competence(sites, frames.poi, config)
    return sites


# --- the sites themselves --------------------------------------------------------------------------------


def _business_sites(frames: PortfolioFrames, config: SitesConfig) -> pd.DataFrame:
    business = frames.business
    if business is None or business.empty:
        return pd.DataFrame()
    chosen = business[business["status"].isin(config.site_statuses)].copy()
    zone = chosen["zone_id"].to_numpy()
    names = np.full(len(chosen), None, dtype=object)
    named: set[str] = set()
    formal = np.full(len(chosen), None, dtype=object)
    if frames.zoning is not None and len(frames.zoning):
        zoning = frames.zoning
        navn = zoning["navn"] if "navn" in zoning else pd.Series(None, index=zoning.index)
        felt = zoning["feltnavn"] if "feltnavn" in zoning else pd.Series(None, index=zoning.index)
        label = navn.where(navn.notna(), felt).reindex(zone).to_numpy(dtype=object)
        names = np.where(pd.isna(label), None, label)
        named = set(navn.dropna().astype(str))  # marketed names stand alone; felt names get their plan id
        if "formalnavn" in zoning:
            formal = zoning["formalnavn"].reindex(zone).to_numpy(dtype=object)
    tables = [RP_AREALFORMAL if p == "reguleringsplan" else KP_AREALFORMAL for p in chosen["plantype"]]
    fallback = [t.get(int(c)) if pd.notna(c) else None for t, c in zip(tables, chosen["arealformal"], strict=True)]
    formal = [f if isinstance(f, str) else g for f, g in zip(formal, fallback, strict=True)]
    planid = chosen["planid"].astype(object).to_numpy()
    out = pd.DataFrame({
        "site_id": [f"ba-{int(z)}" for z in zone],
        "site_type": BUSINESS_AREA,
        "navn": [n if n and n in named else f"{n or 'Næringsareal'} ({p})"
                 for n, p in zip(names, planid, strict=True)],
        "planid": planid,
        "kommunenummer": chosen["kommunenummer"].astype(object).to_numpy(),
        "kommunenavn": chosen["kommunenavn"].astype(object).to_numpy() if "kommunenavn" in chosen else None,
        "area_daa": chosen["area_daa"].to_numpy(dtype=float).round(1),
        "net_available_daa": chosen["net_available_daa"].to_numpy(dtype=float).round(1),
        "arealformal": chosen["arealformal"].to_numpy(dtype=float),
        "formalnavn": formal,
        "plantype": chosen["plantype"].astype(object).to_numpy(),
        "planstatus": chosen["planstatus"].to_numpy(dtype=float),
        "business_status": chosen["status"].astype(object).to_numpy(),
        "red_rules": chosen["red_rules"].astype(object).to_numpy() if "red_rules" in chosen else None,
        "geometry": chosen.geometry.to_numpy(),
    })
    out["objection_risk"], out["objection_summary"] = None, None
    if frames.risk is not None and len(frames.risk):
        risk = frames.risk.set_index("zone_id")
        out["objection_risk"] = risk["objection_risk"].reindex(zone).astype(object).to_numpy()
        if "summary" in risk:
            out["objection_summary"] = risk["summary"].reindex(zone).astype(object).to_numpy()
    return out


def _premises_sites(frames: PortfolioFrames) -> pd.DataFrame:
    premises = frames.premises
    if premises is None or premises.empty:
        return pd.DataFrame()

    def col(name: str) -> np.ndarray:
        if name not in premises:
            return np.full(len(premises), None, dtype=object)
        return premises[name].astype(object).where(premises[name].notna(), None).to_numpy()

    def num(name: str) -> np.ndarray:
        if name not in premises:
            return np.full(len(premises), np.nan)
        return pd.to_numeric(premises[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    adresse, navn = col("adresse"), col("navn")
    plot = num("tomt_m2")
    return pd.DataFrame({
        "site_id": [f"pr-{layer}-{int(fid)}" for layer, fid in zip(premises["source_layer"], premises["source_fid"],
                                                                       strict=True)],
        "site_type": PREMISES,
        "navn": [n or a or "Ledig lokale" for n, a in zip(navn, adresse, strict=True)],
        "kommunenummer": col("kommunenummer"),
        "area_daa": (plot / 1000.0).round(2),
        "net_available_daa": (plot / 1000.0).round(2),
        "business_status": PREMISES,
        "adresse": adresse,
        "bruk": col("bruk"),
        "bruksareal_m2": num("bruksareal_m2"),
        "tomt_m2": plot,
        "pris": num("pris"),
        "leie": num("leie"),
        "ledig_fra": col("ledig_fra"),
        "kontakt": col("kontakt"),
        "geometry": premises.geometry.to_numpy(),
    })


def _municipality(sites: gpd.GeoDataFrame, municipalities: gpd.GeoDataFrame | None) -> None:
    """Fill missing kommunenummer/kommunenavn from the municipality layer (point in polygon)."""
    if "kommunenavn" not in sites:
        sites["kommunenavn"] = None
    if municipalities is None or municipalities.empty or "kommunenummer" not in municipalities:
        return
    anchor = shapely.point_on_surface(sites.geometry.to_numpy())
    tree = shapely.STRtree(municipalities.geometry.to_numpy())
    idx = tree.query_nearest(anchor, all_matches=False)
    muni = np.full(len(sites), -1)
    muni[idx[0]] = idx[1]
    knr = municipalities["kommunenummer"].astype(object).to_numpy()[muni]
    missing = sites["kommunenummer"].isna().to_numpy()
    sites.loc[missing, "kommunenummer"] = knr[missing]
    no_name = sites["kommunenavn"].isna().to_numpy()
    by_number = dict(zip(municipalities["kommunenummer"].astype(object),
                         municipalities["kommunenavn"].astype(object) if "kommunenavn" in municipalities
                         else [None] * len(municipalities), strict=True))
    sites.loc[no_name, "kommunenavn"] = [by_number.get(k) for k in sites.loc[no_name, "kommunenummer"]]


# --- facts ---------------------------------------------------------------------------------------------


def _hub_class(value: object) -> str | None:
    text = fold(str(value)) if value is not None and not pd.isna(value) else ""
    for hub, words in HUB_TYPES.items():
        if any(w in text for w in words):
            return hub
    return None


def _targets(network: RoadNetwork, xy: np.ndarray) -> Snap:
    return network.snap(xy[:, 0], xy[:, 1]) if len(xy) else Snap(np.array([], dtype=np.int64), np.array([]),
                                                                    np.array([]), np.array([]))


def _access(sites: gpd.GeoDataFrame, ax: np.ndarray, ay: np.ndarray, network: RoadNetwork | None,
            frames: PortfolioFrames) -> None:
    """Road distance (km, shortest) and drive time (min, fastest) to main roads, hubs and town centres."""
    groups: dict[str, tuple[np.ndarray, list[object]]] = {}
    if network is not None:
        main = np.flatnonzero(np.array([m is not None for m in network.main_road]))
        groups["main_road"] = (network.xy[main], list(network.main_road[main]))
    transport = frames.transport
    if transport is not None and len(transport):
        hub = np.array([_hub_class(t) for t in transport.get("type", pd.Series(None, index=transport.index))])
        points = shapely.get_coordinates(shapely.point_on_surface(transport.geometry.to_numpy()))
        names = transport.get("navn", pd.Series(None, index=transport.index)).astype(object).to_numpy()
        for name in HUB_TYPES:
            groups[name] = (points[hub == name], list(names[hub == name]))
    munis = frames.municipalities
    if munis is not None and len(munis) and {"senter_x", "senter_y"} <= set(munis.columns):
        centre = munis[["senter_x", "senter_y"]].to_numpy(dtype=float)
        ok = np.isfinite(centre).all(axis=1)
        label = munis.get("senter_navn", munis.get("kommunenavn", pd.Series(None, index=munis.index)))
        groups["town_centre"] = (centre[ok], list(label.astype(object).to_numpy()[ok]))
    for name in ("main_road", "rail_station", "airport", "port", "town_centre"):
        sites[f"{name}_min"], sites[f"{name}_km"], sites[name] = np.nan, np.nan, None
        if network is None or name not in groups or len(groups[name][0]) == 0:
            continue
        xy, labels = groups[name]
        found = network.nearest(network.snap(ax, ay), _targets(network, xy))
        sites[f"{name}_min"] = found.minutes.round(1)
        sites[f"{name}_km"] = found.km.round(2)
        sites[name] = [labels[i] if i >= 0 else None for i in found.index]


def _power(sites: gpd.GeoDataFrame, power: gpd.GeoDataFrame | None) -> None:
    """Straight-line distance to the nearest substation (or capacity area) and its free capacity."""
    sites["substation_km"], sites["substation"], sites["substation_free_mw"] = np.nan, None, np.nan
    if power is None or power.empty:
        return
    tree = shapely.STRtree(power.geometry.to_numpy())
    (site_idx, power_idx), dist = tree.query_nearest(sites.geometry.to_numpy(), return_distance=True,
                                                     all_matches=False)
    km = np.full(len(sites), np.nan)
    km[site_idx] = dist / 1000.0
    sites["substation_km"] = km.round(2)
    names = power.get("navn", pd.Series(None, index=power.index)).astype(object).to_numpy()
    free = pd.to_numeric(power.get("ledig_kapasitet_mw", pd.Series(np.nan, index=power.index)),
                         errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    label = np.full(len(sites), None, dtype=object)
    mw = np.full(len(sites), np.nan)
    label[site_idx], mw[site_idx] = names[power_idx], free[power_idx]
    sites["substation"], sites["substation_free_mw"] = label, mw


def _broadband(sites: gpd.GeoDataFrame, broadband: gpd.GeoDataFrame | None, config: SitesConfig) -> None:
    """Best coverage touching the site: fibre yes/no, speed (Mbit/s) and speed class."""
    sites["fibre"], sites["speed_mbit"], sites["speed_class"] = False, np.nan, None
    if broadband is None or broadband.empty:
        return
    geoms = broadband.geometry.to_numpy()
    # address points cover 250 m around them; polygons cover where they are
    is_point = shapely.get_type_id(geoms) == 0
    geoms = np.where(is_point, shapely.buffer(geoms, 250.0, quad_segs=4), geoms)
    site_idx, cov_idx = shapely.STRtree(geoms).query(sites.geometry.to_numpy(), predicate="intersects")
    speed = pd.to_numeric(broadband.get("hastighet_mbit", pd.Series(np.nan, index=broadband.index)),
                          errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    tech = broadband.get("teknologi", pd.Series("", index=broadband.index)).astype(str).str.lower().to_numpy()
    fibre_words = tuple(t.lower() for t in config.fibre_technologies)
    is_fibre = np.array([any(w in t for w in fibre_words) for t in tech])
    best = np.full(len(sites), np.nan)
    np.fmax.at(best, site_idx, np.nan_to_num(speed[cov_idx], nan=-1.0))
    best[best < 0] = np.nan
    fibre = np.zeros(len(sites), dtype=bool)
    fibre[site_idx[is_fibre[cov_idx]]] = True
    sites["fibre"] = fibre
    sites["speed_mbit"] = best
    sites["speed_class"] = [speed_class(v) for v in best]


def _workforce(sites: gpd.GeoDataFrame, ax: np.ndarray, ay: np.ndarray, network: RoadNetwork | None,
               population: gpd.GeoDataFrame | None, config: SitesConfig) -> None:
    for m in config.workforce_minutes:
        sites[f"population_{m}min"], sites[f"employed_{m}min"] = np.nan, np.nan
    if network is None or population is None or population.empty or "pop_tot" not in population:
        return
    centre = shapely.point_on_surface(population.geometry.to_numpy())
    cells = network.snap(shapely.get_x(centre), shapely.get_y(centre))
    pop = pd.to_numeric(population["pop_tot"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    employed = None
    if "sysselsatte" in population and population["sysselsatte"].notna().any():
        employed = pd.to_numeric(population["sysselsatte"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    result = workforce(network, network.snap(ax, ay), cells, pop, employed, config.workforce_minutes)
    for j, m in enumerate(result.minutes):
        sites[f"population_{m}min"] = result.population[:, j].astype(float)
        if employed is not None:
            sites[f"employed_{m}min"] = result.employed[:, j].astype(float)


def _competence(sites: gpd.GeoDataFrame, poi: gpd.GeoDataFrame | None, config: SitesConfig) -> None:
    """Competence environments within each radius (straight line from the site): count and names."""
    for r in config.competence_radii_km:
        key = f"competence_{r:g}km"
        sites[f"{key}_count"], sites[key] = 0, ""
    if poi is None or poi.empty:
        return
    wanted = {fold(c) for c in config.competence_categories}
    category = poi.get("kategori", pd.Series("", index=poi.index)).astype(str).map(fold)
    chosen = poi[category.isin(wanted).to_numpy()]
    if chosen.empty:
        return
    names = chosen.get("navn", pd.Series("", index=chosen.index)).astype(str).to_numpy()
    tree = shapely.STRtree(chosen.geometry.to_numpy())
    for r in config.competence_radii_km:
        site_idx, poi_idx = tree.query(sites.geometry.to_numpy(), predicate="dwithin", distance=r * 1000.0)
        found: dict[int, list[str]] = {}
        for s, p in zip(site_idx.tolist(), poi_idx.tolist(), strict=True):
            found.setdefault(s, []).append(names[p])
        key = f"competence_{r:g}km"
        sites[f"{key}_count"] = [len(found.get(i, [])) for i in range(len(sites))]
        sites[key] = ["; ".join(sorted(found.get(i, []))) for i in range(len(sites))]


def json_list(value: object) -> list[str]:
    """A stored list column (JSON text) as a Python list."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        return list(json.loads(value))
    return []
