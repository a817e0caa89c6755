"""Analyses: site check (DOK-arealanalyse style) and land-reserve accounting."""

from __future__ import annotations

import html
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from constraints.errors import SiteGeometryError
from constraints.publish import BUSINESS_AREAS
from constraints.reserve import land_reserve, land_reserve_csv, land_reserve_json
from constraints.site import check_site
from geo_service.analysis_service import AnalysisService
from geo_service.dependencies import StoreDep
from layers.crs import WORKING_EPSG, parse_crs_uri, transformer

router = APIRouter(prefix="/analyses", tags=["Analyses"])

_EXAMPLE = {"type": "Feature", "properties": {"navn": "Tomt ved Kongsberg"}, "geometry": {
    "type": "Polygon", "coordinates": [[[9.64, 59.66], [9.65, 59.66], [9.65, 59.665], [9.64, 59.665], [9.64, 59.66]]]}}


def _service(request: Request) -> AnalysisService:
    return request.app.state.analysis


def site_geometry(body: Any, crs: str | None) -> shapely.Geometry:
    """A GeoJSON Feature, FeatureCollection (one feature) or geometry, in ``crs`` → working CRS."""
    if not isinstance(body, dict) or "type" not in body:
        raise SiteGeometryError("the body must be a GeoJSON Feature or geometry object with a 'type'")
    if body["type"] == "FeatureCollection":
        features = body.get("features") or []
        if len(features) != 1:
            raise SiteGeometryError(f"a FeatureCollection must hold exactly one site; it holds {len(features)}")
        body = features[0]
    geometry = body.get("geometry") if body["type"] == "Feature" else body
    try:
        geom = shapely.geometry.shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise SiteGeometryError(f"the geometry is not valid GeoJSON ({exc})") from None
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise SiteGeometryError(f"a site must be a Polygon or MultiPolygon, got {geom.geom_type}")
    source = parse_crs_uri(crs, "crs")
    if source.lat_lon:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1].copy())
    if source.epsg != WORKING_EPSG:
        tr = transformer(source.epsg, WORKING_EPSG)
        geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if not geom.is_valid:
        raise SiteGeometryError(f"the polygon is invalid ({shapely.is_valid_reason(geom)}); fix the outline")
    return geom


@router.post("/site-check", summary="Check a site against every constraint rule")
def site_check(
    request: Request,
    body: Annotated[dict[str, Any], Body(openapi_examples={"site": {"value": _EXAMPLE}})],
    crs: Annotated[str | None, Query(description="CRS URI of the body's coordinates (default CRS84)")] = None,
    f: Annotated[str | None, Query(description="json (default) or html")] = None,
) -> Response:
    """Per-theme status (HIT-RED / HIT-YELLOW / NO-HIT-GREEN / NOT-MAPPED), hit area, distance, guidance."""
    service = _service(request)
    report = check_site(site_geometry(body, crs), service.index(), service.rules()).to_dict()
    wants_html = f == "html" or (f is None and "text/html" in request.headers.get("accept", ""))
    if wants_html:
        return HTMLResponse(render_site_report(report))
    return JSONResponse(_json_safe(report))


@router.get("/land-reserve", summary="Business land per municipality (JSON)")
def land_reserve_json_view(store: StoreDep) -> dict:
    """Daa of business land by status, net available, and dyrka jord the reserves would consume."""
    record = store.get_layer(BUSINESS_AREAS).current
    table = land_reserve(store.read_frame(record))
    provenance = {"business_areas_version": record.version, **record.provenance}
    return _json_safe(land_reserve_json(table, provenance))


@router.get("/land-reserve.csv", summary="Business land per municipality (CSV)")
def land_reserve_csv_view(store: StoreDep) -> Response:
    """The same accounting as CSV (UTF-8)."""
    table = land_reserve(store.read_frame(store.get_layer(BUSINESS_AREAS).current))
    return Response(land_reserve_csv(table), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="arealreserve.csv"'})


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


_COLOURS = {"RED": "#d7301f", "YELLOW": "#f0b400", "GREEN": "#2e9e44", "NOT_MAPPED": "#8c8c8c"}


def render_site_report(report: dict[str, Any]) -> str:
    """A plain HTML view of a site check, familiar to DOK-arealanalyse users."""
    e = html.escape
    rows = []
    for theme in report["themes"]:
        for rule in theme["rules"]:
            dist = "–" if rule["distance_m"] is None else f"{rule['distance_m']:.0f} m"
            rows.append(
                f"<tr><td>{e(theme['theme'])}</td><td style='color:{_COLOURS.get(rule['risk'], '#000')}'>"
                f"<b>{e(rule['status'])}</b></td><td>{rule['hit_area_daa']:.2f} daa</td><td>{dist}</td>"
                f"<td>{e(rule['coverage_text'])}</td><td>{e(rule['authority'])}</td><td>{e(rule['legal_basis'])}</td>"
                f"<td>{e(rule['guidance_nb'])}</td></tr>")
    return (
        "<!doctype html><html lang='nb'><head><meta charset='utf-8'><title>Arealanalyse</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px;"
        "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
        f"<h1>Arealanalyse av tomt</h1><p>Areal: <b>{report['area_daa']:.1f} daa</b> "
        f"({report['area_m2']:.0f} m²). Kommune: {e(str(report.get('kommunenavn') or 'ukjent'))}. "
        f"Samlet risiko: <b style='color:{_COLOURS.get(report['objection_risk'], '#000')}'>"
        f"{e(report['status'])}</b>.</p><table><tr><th>Tema</th><th>Status</th><th>Treffareal</th>"
        "<th>Avstand</th><th>Dekning</th><th>Innsigelsesmyndighet</th><th>Hjemmel</th><th>Veiledning</th></tr>"
        + "".join(rows) + "</table></body></html>")
