"""Drive-time isochrones on the published road network."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Body, Query, Request

from geo_service.openapi import error_responses
from geo_service.sites_service import SitesService
from layers.crs import WORKING_EPSG, parse_crs_uri, transformer
from sites.answers import drive_time_answer
from sites.errors import RoutingError

# 404: no road layer published; 400: minutes, coordinates or body named in the answer
router = APIRouter(prefix="/analyses", tags=["Analyses"], responses=error_responses(400, 404))

MinutesQ = Annotated[str, Query(description="drive times in minutes, comma separated (1–180)")]
CrsQ = Annotated[str | None, Query(description="CRS URI of the coordinates (default CRS84)")]


def _minutes(text: str) -> list[int]:
    try:
        return [int(m) for m in text.split(",") if m.strip()]
    except ValueError:
        raise RoutingError(f"minutes must be whole numbers separated by commas, e.g. 15,30,45; got {text!r}",
                           "minutes") from None


def _to_working(geom: shapely.Geometry, crs: str | None) -> shapely.Geometry:
    source = parse_crs_uri(crs, "crs")
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise RoutingError("the coordinates must be finite numbers / koordinatene må være tall", "lon")
    if source.lat_lon:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1].copy())
    if source.epsg != WORKING_EPSG:
        tr = transformer(source.epsg, WORKING_EPSG)
        geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise RoutingError("the point lies outside the area the service covers; check the coordinates and the crs "
                           "parameter / punktet ligger utenfor området", "lon")
    return geom


def _answer(request: Request, start: shapely.Geometry, minutes: str) -> dict:
    service: SitesService = request.app.state.sites
    result = service.drive_time(start.x, start.y, _minutes(minutes))
    roads, people, routing = result.network_key
    network = {"road_layers": [{"id": i, "version": v} for i, v in roads],
               "population_layers": [{"id": i, "version": v} for i, v in people], "routing_hash": str(routing)[:12]}
    return drive_time_answer(result.bands, result.population, (start.x, start.y),
                             float(result.start.distance_m[0]), network, result.cached)


@router.get("/drive-time", summary="Drive-time isochrones from a point")
def drive_time(request: Request, lon: float, lat: float, minutes: MinutesQ = "15,30,45", crs: CrsQ = None) -> dict:
    """Areas reachable by car within each number of minutes (GeoJSON polygons, CRS84) and the population reached."""
    return _answer(request, _to_working(shapely.Point(lon, lat), crs), minutes)


@router.post("/drive-time", summary="Drive-time isochrones from a site geometry")
def drive_time_post(request: Request, body: Annotated[dict[str, Any], Body()], minutes: MinutesQ = "15,30,45",
                    crs: CrsQ = None) -> dict:
    """A GeoJSON Feature or geometry (e.g. a site outline); the drive starts from a point inside it."""
    geometry = body.get("geometry") if body.get("type") == "Feature" else body
    try:
        geom = shapely.geometry.shape(geometry)
        if not geom.is_empty:
            start = shapely.point_on_surface(_to_working(geom, crs))
    except RoutingError:
        raise
    except Exception:  # noqa: BLE001 - any malformed GeoJSON; parser and GEOS text are not for clients
        raise RoutingError("the body is not a valid GeoJSON Feature or geometry / ugyldig GeoJSON", "body") from None
    if geom.is_empty:
        raise RoutingError("the geometry is empty", "body")
    return _answer(request, start, minutes)
