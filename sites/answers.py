"""JSON answers of the site portfolio (plain dicts; geometry in CRS84), shaped once for every client.

The shapes are documented in the README ("Site portfolio and search") and are the contract the investor map,
fact sheets and exports build on.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import shapely

from layers.crs import parse_crs_uri, to_output
from sites.drive_time import Isochrone
from sites.publish import FACT_SOURCES
from sites.search import SearchRequest, SearchResult, attribute_labels, request_to_query

_CRS84 = parse_crs_uri(None)
COMPARE_MAX = 10
# Facts grouped as the fact sheet shows them; each group lists its attributes in order.
FACT_GROUPS: dict[str, tuple[str, ...]] = {
    "planning": ("area_daa", "net_available_daa", "arealformal", "formalnavn", "plantype", "planstatus", "planid",
                 "business_status", "objection_risk", "objection_summary", "red_rules"),
    "premises": ("adresse", "bruk", "bruksareal_m2", "tomt_m2", "pris", "leie", "ledig_fra", "kontakt"),
    "road_access": ("main_road", "main_road_km", "main_road_min", "rail_station", "rail_station_km",
                    "rail_station_min", "airport", "airport_km", "airport_min", "port", "port_km", "port_min",
                    "town_centre", "town_centre_km", "town_centre_min"),
    "power": ("substation", "substation_km", "substation_free_mw"),
    "broadband": ("fibre", "speed_mbit", "speed_class"),
    "workforce": ("population_30min", "employed_30min", "population_45min", "employed_45min",
                  "population_60min", "employed_60min"),
    "competence": ("competence_10km_count", "competence_10km", "competence_30km_count", "competence_30km"),
}


def plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars unwrapped, NaN/NA as None, JSON list text decoded."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _geojson(geoms: np.ndarray) -> list[dict[str, Any]]:
    out = shapely.set_precision(to_output(np.asarray(geoms, dtype=object), _CRS84), 1e-7, mode="pointwise")
    return [json.loads(g) for g in shapely.to_geojson(out)]


def properties(row: pd.Series) -> dict[str, Any]:
    """Every fact of a site as flat properties."""
    return {k: plain(v) for k, v in row.items() if k != "geometry"}


def label(attribute: str) -> dict[str, str]:
    """{"nb": …, "en": …} for an attribute (its name when it has no label)."""
    meta = attribute_labels().get(attribute, {})
    return {"nb": str(meta.get("nb", attribute)), "en": str(meta.get("en", attribute))}


def search_answer(frame: pd.DataFrame, version: int, request: SearchRequest, result: SearchResult,
                  path: str = "/sites/search") -> dict[str, Any]:
    """The ranked page as a GeoJSON FeatureCollection (site anchor points) with scores and explanations."""
    rows = [s.row for s in result.sites]
    anchors = _geojson(shapely.point_on_surface(frame.geometry.to_numpy()[rows])) if rows else []
    weights = {c.attribute: c.weight for c in request.criteria}
    features = []
    for rank, (site, geometry) in enumerate(zip(result.sites, anchors, strict=True), start=request.offset + 1):
        props = properties(frame.iloc[site.row])
        props.update({
            "rank": rank,
            "score": round(site.score, 2),
            "scores": [{"attribute": p.attribute, "label": label(p.attribute), "value": plain(p.value),
                        "weight": weights[p.attribute], "score": round(p.score, 4), "points": round(p.points, 2)}
                       for p in site.parts],
            "explanation": site.explanation,
        })
        features.append({"type": "Feature", "id": site.site_id, "geometry": geometry, "properties": props})
    query = request_to_query(request)
    links = [{"rel": "self", "type": "application/geo+json", "title": "this page as a shareable link",
              "href": f"{path}?{urlencode(query)}"}]
    if request.offset + request.limit < result.number_matched:
        nxt = [(k, str(request.offset + request.limit) if k == "offset" else v) for k, v in query]
        links.append({"rel": "next", "type": "application/geo+json", "href": f"{path}?{urlencode(nxt)}"})
    if request.offset > 0:
        prev = [(k, str(max(request.offset - request.limit, 0)) if k == "offset" else v) for k, v in query]
        links.append({"rel": "prev", "type": "application/geo+json", "href": f"{path}?{urlencode(prev)}"})
    return {
        "type": "FeatureCollection",
        "numberMatched": result.number_matched,
        "numberReturned": len(features),
        "sitesVersion": version,
        "request": request.model_dump(mode="json", by_alias=True, exclude_none=True),
        "links": links,
        "features": features,
    }


def sources(provenance: dict[str, Any], layers: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Fact group -> the layers (id, version, title, attribution) it was computed from."""
    groups = provenance.get("sources", {})
    versions = provenance.get("inputs", {})
    out: dict[str, list[dict[str, Any]]] = {}
    for fact, input_groups in FACT_SOURCES.items():
        ids = sorted({i for g in input_groups for i in groups.get(g, [])})
        out[fact] = [{"id": i, "version": versions.get(i), **layers.get(i, {})} for i in ids]
    return out


def site_answer(row: pd.Series, version: int, provenance: dict[str, Any],
                layers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One site: full geometry, every fact, the facts grouped with labels, and their sources and versions."""
    props = properties(row)
    facts = {group: [{"attribute": a, "label": label(a), "unit": attribute_labels().get(a, {}).get("unit", ""),
                      "value": props.get(a)} for a in attrs if a in props]
             for group, attrs in FACT_GROUPS.items()}
    return {
        "type": "Feature",
        "id": props["site_id"],
        "geometry": _geojson(np.array([row.geometry], dtype=object))[0],
        "properties": props,
        "facts": facts,
        "sources": sources(provenance, layers),
        "sitesVersion": version,
        "routing": provenance.get("routing", {}),
    }


def compare_answer(rows: list[pd.Series], version: int) -> dict[str, Any]:
    """Sites side by side: one row per attribute with a value per site (and which site is best, when known)."""
    ids = [str(r["site_id"]) for r in rows]
    table = []
    for group, attrs in FACT_GROUPS.items():
        for a in attrs:
            values = [plain(r.get(a)) for r in rows]
            if all(v is None for v in values):
                continue
            best = None
            numbers = [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in values]
            better = attribute_labels().get(a, {}).get("better")
            if better and sum(v is not None for v in numbers) > 1:
                pick = min if better == "lower" else max
                best = ids[numbers.index(pick(v for v in numbers if v is not None))]
            table.append({"group": group, "attribute": a, "label": label(a),
                          "unit": attribute_labels().get(a, {}).get("unit", ""), "values": values, "best": best})
    return {"sites": ids, "names": [plain(r.get("navn")) for r in rows], "sitesVersion": version,
            "attributes": table,
            "features": [{"type": "Feature", "id": i, "geometry": g, "properties": {"navn": plain(r.get("navn"))}}
                         for i, g, r in zip(ids, _geojson(shapely.point_on_surface(
                             np.array([r.geometry for r in rows], dtype=object))), rows, strict=True)]}


def drive_time_answer(bands: list[Isochrone], population: list[int | None], start_xy: tuple[float, float],
                      access_m: float, network: dict[str, Any], cached: bool) -> dict[str, Any]:
    """Isochrones as a GeoJSON FeatureCollection in CRS84, smallest band first."""
    geoms = _geojson(np.array([b.geometry for b in bands], dtype=object))
    start = _geojson(np.array([shapely.Point(start_xy)], dtype=object))[0]
    return {
        "type": "FeatureCollection",
        "start": {"geometry": start, "snapped_distance_m": round(access_m, 1)},
        "network": network,
        "cached": cached,
        "features": [{"type": "Feature", "id": f"{b.minutes}min", "geometry": g,
                      "properties": {"minutes": b.minutes, "population": p, "reachable_nodes": b.reachable_nodes,
                                     "area_km2": round(float(b.geometry.area) / 1e6, 2)}}
                     for b, g, p in zip(bands, geoms, population, strict=True)],
    }
